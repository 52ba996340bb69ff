package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The newc ("070701") format is written by hand: cavaliergopher/cpio v1.0.1
// neither writes nor reads the rdevmajor/rdevminor fields, so its device
// nodes would all be 0:0 and /dev/console would be useless. Its reader still
// serves as an independent check in the tests.

const (
	newcMagic    = "070701"
	newcCRCMagic = "070702"
	newcHdrLen   = 110
	trailerName  = "TRAILER!!!"
	maxNameLen   = 4096 // PATH_MAX, what the kernel accepts
	maxLinkLen   = 4096

	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
	sISUID  = 0o4000
	sISGID  = 0o2000
	sISVTX  = 0o1000
)

// baseNodes are in every archive: the kernel opens /dev/console for PID 1
// before anything could create it, and init needs its mount points.
func baseNodes() []Node {
	nodes := []Node{
		{Path: "dev/console", Kind: KindCharDev, Perm: 0o600, Major: 5, Minor: 1},
		{Path: "dev/null", Kind: KindCharDev, Perm: 0o666, Major: 1, Minor: 3},
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc", "bin", "sbin", "lib", "root"} {
		perm := fs.FileMode(0o755)
		switch d {
		case "tmp":
			perm = 0o777 | fs.ModeSticky
		case "root":
			perm = 0o700
		}
		nodes = append(nodes, Node{Path: d, Kind: KindDir, Perm: perm})
	}
	return nodes
}

// archiveNodes is the tree plus any base node it lacks, in archive order.
// Nodes the caller added win over the defaults.
func (t *Tree) archiveNodes() ([]Node, error) {
	c := NewTree()
	for _, n := range baseNodes() {
		if err := c.Add(n); err != nil {
			return nil, err
		}
	}
	for _, n := range t.Nodes() {
		if err := c.Add(n); err != nil {
			return nil, err
		}
	}
	return c.Nodes(), nil
}

// WriteCPIO writes the tree as a newc cpio archive to w: entries in
// archive order (see Nodes), owner 0:0, every mtime set to mtime, inode
// numbers counted from 1 in that order, the base device nodes and
// directories added when missing, and the trailer. It returns the number
// of bytes written.
func (t *Tree) WriteCPIO(w io.Writer, mtime time.Time) (int64, error) {
	_, n, err := t.writeArchive(w, mtime)
	return n, err
}

// writeArchive is WriteCPIO that also counts the entries written.
func (t *Tree) writeArchive(w io.Writer, mtime time.Time) (entries int, size int64, err error) {
	mt := mtime.Unix()
	if mt < 0 || mt > math.MaxUint32 {
		return 0, 0, fmt.Errorf("cpio: mtime %v does not fit the newc format", mtime)
	}
	nodes, err := t.archiveNodes()
	if err != nil {
		return 0, 0, fmt.Errorf("cpio: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &countWriter{w: bw}
	for i, n := range nodes {
		if err := writeNode(cw, n, uint32(i+1), uint32(mt)); err != nil {
			return i, cw.n, fmt.Errorf("cpio: %s: %w", n.Path, err)
		}
	}
	if err := writeHeader(cw, newcHeader{name: trailerName, nlink: 1}); err != nil {
		return len(nodes), cw.n, fmt.Errorf("cpio: trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return len(nodes), cw.n, fmt.Errorf("cpio: %w", err)
	}
	return len(nodes), cw.n, nil
}

type newcHeader struct {
	name               string
	ino, mode          uint32
	nlink, mtime       uint32
	size               uint32
	rdevMajor, rdevMin uint32
}

func unixPerm(p fs.FileMode) uint32 {
	m := uint32(p.Perm())
	if p&fs.ModeSetuid != 0 {
		m |= sISUID
	}
	if p&fs.ModeSetgid != 0 {
		m |= sISGID
	}
	if p&fs.ModeSticky != 0 {
		m |= sISVTX
	}
	return m
}

func writeNode(w io.Writer, n Node, ino, mtime uint32) error {
	h := newcHeader{name: n.Path, ino: ino, mtime: mtime, nlink: 1, mode: unixPerm(n.Perm)}
	switch n.Kind {
	case KindDir:
		h.mode |= sIFDIR
		h.nlink = 2
		return writeHeader(w, h)
	case KindCharDev:
		h.mode |= sIFCHR
		h.rdevMajor, h.rdevMin = n.Major, n.Minor
		return writeHeader(w, h)
	case KindSymlink:
		h.mode |= sIFLNK
		return writeData(w, h, []byte(n.Target))
	case KindFile:
		h.mode |= sIFREG
		if n.Source == "" {
			return writeData(w, h, n.Data)
		}
		return writeHostFile(w, h, n.Source)
	}
	return fmt.Errorf("unknown node kind %v", n.Kind)
}

func writeData(w io.Writer, h newcHeader, data []byte) error {
	if int64(len(data)) > math.MaxUint32 {
		return errors.New("file too large for newc")
	}
	h.size = uint32(len(data))
	if err := writeHeader(w, h); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return writePad(w, int64(len(data)))
}

func writeHostFile(w io.Writer, h newcHeader, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("source %s is not a regular file", src)
	}
	if fi.Size() > math.MaxUint32 {
		return fmt.Errorf("source %s too large for newc", src)
	}
	h.size = uint32(fi.Size())
	if err := writeHeader(w, h); err != nil {
		return err
	}
	if n, err := io.CopyN(w, f, fi.Size()); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("source %s shrank while being read (%d of %d bytes)", src, n, fi.Size())
		}
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return writePad(w, fi.Size())
}

func writeHeader(w io.Writer, h newcHeader) error {
	buf := make([]byte, 0, newcHdrLen+len(h.name)+4)
	buf = append(buf, newcMagic...)
	for _, v := range []uint32{
		h.ino, h.mode, 0, 0, h.nlink, h.mtime, h.size,
		0, 0, h.rdevMajor, h.rdevMin, uint32(len(h.name) + 1), 0,
	} {
		buf = fmt.Appendf(buf, "%08X", v)
	}
	buf = append(buf, h.name...)
	buf = append(buf, 0)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	_, err := w.Write(buf)
	return err
}

func writePad(w io.Writer, size int64) error {
	var zero [3]byte
	if p := (4 - size%4) % 4; p > 0 {
		_, err := w.Write(zero[:p])
		return err
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Entry is one member of a cpio archive as Inspect reports it.
type Entry struct {
	Name     string
	Mode     fs.FileMode // permission and type bits
	Size     int64       // data size; for a symlink, the length of its target
	Linkname string      // symlink target
	Major    uint32      // device numbers of a device node
	Minor    uint32
	Inode    uint32
	Nlink    uint32
	UID, GID uint32
	ModTime  time.Time
}

// Inspect lists the members of a newc cpio archive, compressed with any
// Compression or not at all. It stops at the first trailer.
func Inspect(r io.Reader) ([]Entry, error) {
	dr, _, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	return readCPIO(bufio.NewReaderSize(dr, 64<<10))
}

func readCPIO(r io.Reader) ([]Entry, error) {
	var entries []Entry
	err := walkCPIO(r, func(e Entry, _ io.Reader) error {
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// Walk calls fn for each member of a newc cpio archive, compressed with any
// Compression or not, with a reader of a regular file's data (empty for
// other members); what fn leaves unread is skipped. It stops at the first
// trailer, or at fn's first error, which it returns.
func Walk(r io.Reader, fn func(e Entry, data io.Reader) error) error {
	dr, _, err := Decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	return walkCPIO(bufio.NewReaderSize(dr, 64<<10), fn)
}

func walkCPIO(r io.Reader, fn func(Entry, io.Reader) error) error {
	var off int64
	for {
		e, next, err := readEntry(r, off, fn)
		var ce callbackError
		if errors.As(err, &ce) {
			return ce.err
		}
		if err != nil {
			return fmt.Errorf("cpio: at offset %d: %w", off, err)
		}
		if e == nil {
			return nil
		}
		off = next
	}
}

// callbackError carries an error of Walk's function, which Walk returns
// as it is.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// readEntry reads one member starting at off, hands it to fn, and returns
// nil at the trailer.
func readEntry(r io.Reader, off int64, fn func(Entry, io.Reader) error) (*Entry, int64, error) {
	var hdr [newcHdrLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, off, errors.New("archive ends without a trailer")
		}
		return nil, off, fmt.Errorf("reading header: %w", err)
	}
	magic := string(hdr[:6])
	if magic != newcMagic && magic != newcCRCMagic {
		return nil, off, fmt.Errorf("bad magic %q: not a newc cpio archive", magic)
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return nil, off, fmt.Errorf("bad header field %d: %w", i, err)
		}
		f[i] = uint32(v)
	}
	ino, mode, uid, gid, nlink, mtime, size := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
	rmaj, rmin, namesize := f[9], f[10], f[11]
	if namesize < 1 || namesize > maxNameLen {
		return nil, off, fmt.Errorf("bad name size %d", namesize)
	}
	nameLen := int64(namesize) + (4-(newcHdrLen+int64(namesize))%4)%4
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(r, name); err != nil {
		return nil, off, fmt.Errorf("reading name: %w", unexpected(err))
	}
	e := &Entry{
		Name:    string(name[:namesize-1]),
		Mode:    fileMode(mode),
		Size:    int64(size),
		Inode:   ino,
		Nlink:   nlink,
		UID:     uid,
		GID:     gid,
		ModTime: time.Unix(int64(mtime), 0).UTC(),
	}
	dataLen := int64(size) + (4-int64(size)%4)%4
	next := off + newcHdrLen + nameLen + dataLen
	if e.Name == trailerName {
		return nil, next, nil
	}
	switch mode & sIFMT {
	case sIFLNK:
		if size == 0 || size > maxLinkLen {
			return nil, off, fmt.Errorf("%s: bad symlink size %d", e.Name, size)
		}
		buf := make([]byte, dataLen)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, off, fmt.Errorf("%s: reading target: %w", e.Name, unexpected(err))
		}
		e.Linkname = string(buf[:size])
		if err := fn(*e, strings.NewReader("")); err != nil {
			return nil, off, callbackError{err}
		}
		return e, next, nil
	case sIFCHR, sIFBLK:
		e.Major, e.Minor = rmaj, rmin
	}
	data := &io.LimitedReader{R: r, N: int64(size)}
	if err := fn(*e, data); err != nil {
		return nil, off, callbackError{err}
	}
	if _, err := io.CopyN(io.Discard, r, data.N+dataLen-int64(size)); err != nil {
		return nil, off, fmt.Errorf("%s: reading data: %w", e.Name, unexpected(err))
	}
	return e, next, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fileMode converts a Unix st_mode to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & sIFMT {
	case sIFDIR:
		mode |= fs.ModeDir
	case sIFLNK:
		mode |= fs.ModeSymlink
	case sIFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		mode |= fs.ModeDevice
	case sIFIFO:
		mode |= fs.ModeNamedPipe
	case sIFSOCK:
		mode |= fs.ModeSocket
	}
	if m&sISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&sISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&sISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// ModeString renders mode the way ls -l does ("crw-------", "drwxrwxrwt").
func ModeString(mode fs.FileMode) string {
	b := []byte("----------")
	switch {
	case mode&fs.ModeDir != 0:
		b[0] = 'd'
	case mode&fs.ModeSymlink != 0:
		b[0] = 'l'
	case mode&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case mode&fs.ModeDevice != 0:
		b[0] = 'b'
	case mode&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case mode&fs.ModeSocket != 0:
		b[0] = 's'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if mode&(1<<uint(8-i)) != 0 {
			b[1+i] = rwx[i]
		}
	}
	special := func(i int, set bool, on, off byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = on
		} else {
			b[i] = off
		}
	}
	special(3, mode&fs.ModeSetuid != 0, 's', 'S')
	special(6, mode&fs.ModeSetgid != 0, 's', 'S')
	special(9, mode&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}
