package devmaster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
	"golang.org/x/sys/unix"
)

// maxAttr bounds what is read of an attribute: text attributes are at most
// a page, and a rule naming a large binary attribute must not make a worker
// read megabytes.
const maxAttr = 16 << 10

// sysfs reads devices under a sysfs root, "/sys" on a board and a fake tree
// in tests. Device paths ("/devices/...") are relative to it.
type sysfs struct {
	Root string
	// links, when set, keeps the targets of the bus and class
	// directories' links between listings (Enumerate).
	links *linkCache
}

func (s sysfs) path(devpath string) string { return s.Root + devpath }

// Props reads the device's uevent file: the KEY=VALUE fields the kernel
// puts in its events (DEVNAME, MAJOR, DRIVER, MODALIAS, ...), but not
// ACTION, DEVPATH, SUBSYSTEM or SEQNUM. Malformed lines are left out.
func (s sysfs) Props(devpath string) (map[string]string, error) {
	props, _, err := s.props(devpath, nil, nil)
	return props, err
}

// props is Props that also says which lines it left out, each error
// naming the file and line. It reads into buf when that is not nil, and
// from the directories dirs holds when that is not nil.
func (s sysfs) props(devpath string, buf []byte, dirs *devDirs) (map[string]string, []error, error) {
	name := s.path(devpath) + "/uevent"
	if buf == nil {
		buf = make([]byte, 0, 4096)
	}
	var b []byte
	var err error
	if dirs != nil {
		b, err = dirs.readUevent(devpath, name, buf[:0])
	} else {
		b, err = readInto(name, buf[:0])
	}
	if err != nil {
		return nil, nil, err
	}
	props, bad := parseUevent(name, string(b))
	return props, bad, nil
}

// parseUevent parses the text of the uevent file name. A line that is not
// KEY=VALUE, holds a NUL, or sets a field only the event itself carries is
// left out with an error saying why.
func parseUevent(name, text string) (map[string]string, []error) {
	props := make(map[string]string, strings.Count(text, "\n")+4)
	var bad []error
	for n := 1; text != ""; n++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		var why string
		switch {
		case !ok || k == "":
			why = "not KEY=VALUE"
		case strings.IndexByte(line, 0) >= 0:
			why = "holds a NUL"
		case k == "ACTION" || k == "DEVPATH" || k == "SUBSYSTEM" || k == "SEQNUM":
			why = "sets " + k + ", which the event carries"
		default:
			props[k] = v
			continue
		}
		bad = append(bad, fmt.Errorf("%s:%d: %s: line left out", name, n, why))
	}
	return props, bad
}

// Attr reads the attribute name (which may name a file in a subdirectory,
// as in "queue/rotational") with trailing white space removed.
func (s sysfs) Attr(devpath, name string) (string, error) {
	if !validRel(name) {
		return "", fmt.Errorf("sysfs: bad attribute name %q", name)
	}
	b, err := readLimited(filepath.Join(s.path(devpath), name))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), " \t\n\r"), nil
}

// AttrFunc returns an attribute reader for one device, as the rules want.
func (s sysfs) AttrFunc(devpath string) func(name string) (string, bool) {
	return func(name string) (string, bool) {
		v, err := s.Attr(devpath, name)
		return v, err == nil
	}
}

// Driver is the name of the driver bound to the device, "" when none.
func (s sysfs) Driver(devpath string) (string, error) {
	d, err := s.linkBase(devpath, "driver")
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return d, err
}

// Subsystem is the name of the device's subsystem.
func (s sysfs) Subsystem(devpath string) (string, error) {
	return s.linkBase(devpath, "subsystem")
}

func (s sysfs) linkBase(devpath, name string) (string, error) {
	target, err := os.Readlink(filepath.Join(s.path(devpath), name))
	if err != nil {
		return "", err
	}
	return filepath.Base(target), nil
}

// Event makes up the event the kernel would send for the device, from its
// uevent file and its subsystem link.
func (s sysfs) Event(devpath, action string) (*uevent.Event, error) {
	subsystem, err := s.Subsystem(devpath)
	if err != nil {
		return nil, err
	}
	ev, _, err := s.scan(sysDevice{DevPath: devpath, Subsystem: subsystem}, action, nil, nil)
	return ev, err
}

// scan makes up the event for a device Enumerate found, whose subsystem
// it already knows from the directory that listed it (the one the
// device's subsystem link points to), saving a readlink per device.
// skipped says which lines of the uevent file were left out. buf, when
// not nil, is the buffer the file is read into.
func (s sysfs) scan(dev sysDevice, action string, buf []byte, dirs *devDirs) (ev *uevent.Event, skipped []error, err error) {
	env, skipped, err := s.props(dev.DevPath, buf, dirs)
	if err != nil {
		return nil, nil, err
	}
	env["ACTION"], env["DEVPATH"], env["SUBSYSTEM"] = action, dev.DevPath, dev.Subsystem
	// parseUevent left out every line New would refuse.
	ev, err = uevent.NewSplit(env)
	if err != nil {
		return nil, skipped, fmt.Errorf("%s: %w", s.path(dev.DevPath), err)
	}
	return ev, skipped, nil
}

// Trigger asks the kernel to send an event for the device, carrying
// SYNTH_UUID=uuid when uuid is set.
// The file is opened from its parent's descriptor in dirs when that is
// not nil (a trigger pass), else by its full path.
func (s sysfs) Trigger(dirs *devDirs, devpath, action, uuid string) error {
	msg := action
	if uuid != "" {
		msg += " " + uuid
	}
	// No O_CREAT: a device that went away must fail, not leave a file.
	name := s.path(devpath) + "/uevent"
	open := func(at int, rel string) (int, error) {
		return ignoringEINTR(func() (int, error) { return unix.Openat(at, rel, unix.O_WRONLY|unix.O_CLOEXEC, 0) })
	}
	fd, err := -1, error(unix.ENOENT)
	if i := strings.LastIndexByte(devpath, '/'); dirs != nil && i > 0 {
		if at, derr := dirs.open(devpath[:i]); derr == nil {
			fd, err = open(at, devpath[i+1:]+"/uevent")
		}
	}
	if err != nil { // no directory held, or one removed since: the path decides
		fd, err = open(unix.AT_FDCWD, name)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	if _, err := ignoringEINTR(func() (int, error) { return unix.Write(fd, []byte(msg)) }); err != nil {
		return &os.PathError{Op: "write", Path: name, Err: err}
	}
	return nil
}

// IsSysfs reports whether the root is a mounted sysfs, where writing a
// uevent file makes the kernel send an event; in a fake tree it would only
// overwrite the file.
func (s sysfs) IsSysfs() bool {
	var st unix.Statfs_t
	return unix.Statfs(s.Root, &st) == nil && st.Type == unix.SYSFS_MAGIC
}

// sysDevice is one device found by Enumerate.
type sysDevice struct {
	DevPath   string
	Subsystem string
}

// Enumerate lists the devices of the given subsystems (all when none),
// from /sys/bus/*/devices and /sys/class/*, each once, sorted by path so
// parents come before their children.
func (s sysfs) Enumerate(subsystems []string) ([]sysDevice, error) {
	seen := make(map[string]string, 256)
	l := lister{root: s.Root, seen: seen, dirents: make([]byte, 8192), link: make([]byte, 1024), cache: s.links}
	if l.cache != nil {
		// One listing at a time may use the cache: triggers may overlap.
		l.cache.mu.Lock()
		defer l.cache.mu.Unlock()
		l.cache.gen++
	}
	var firstErr error
	for _, kind := range []struct{ dir, sub string }{{"bus", "/devices"}, {"class", ""}} {
		names := subsystems
		if len(names) == 0 {
			var err error
			names, err = listDir(filepath.Join(s.Root, kind.dir))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("sysfs: enumerate: %w", err)
			}
		}
		for _, name := range names {
			if !validRel(name) || strings.Contains(name, "/") {
				continue
			}
			err := l.list("/"+kind.dir+"/"+name+kind.sub, name)
			if err != nil && !errors.Is(err, os.ErrNotExist) && firstErr == nil {
				firstErr = err
			}
		}
	}
	if l.cache != nil && len(subsystems) == 0 {
		l.cache.sweepDirs()
	}
	devs := make([]sysDevice, 0, len(seen))
	for p, sub := range seen {
		devs = append(devs, sysDevice{DevPath: p, Subsystem: sub})
	}
	slices.SortFunc(devs, func(a, b sysDevice) int { return strings.Compare(a.DevPath, b.DevPath) })
	if firstErr != nil {
		return devs, fmt.Errorf("sysfs: enumerate: %w", firstErr)
	}
	return devs, nil
}

// lister reads bus and class directories with plain system calls: a
// directory is read with getdents and each link with readlinkat from the
// directory, so the kernel does not walk the whole path again for every
// device. That listing was a fifth of a retrigger under emulation.
type lister struct {
	root          string
	seen          map[string]string // device path -> subsystem
	dirents, link []byte            // buffers reused for every directory
	cache         *linkCache        // nil: every link is read
}

// linkCache remembers where the links of the bus and class directories
// point, by the inode number the kernel gave each link. A sysfs link's
// target never changes while the link exists, and a link made again (a
// device that went and came back, a rename) is a new kernfs node with a
// new inode number, so a hit says what readlinkat would. A retrigger then
// reads no link of a device it saw before: readlinkat was 9 % of one
// under emulation. Entries not seen in a directory's latest listing are
// dropped with it.
type linkCache struct {
	mu   sync.Mutex
	gen  uint64                // listings so far
	dirs map[string]*linkedDir // bus or class directory -> its links
}

type linkedDir struct {
	gen   uint64                 // the listing that last read it
	links map[string]*cachedLink // entry name -> link
}

type cachedLink struct {
	ino     uint64
	devpath string
	gen     uint64 // the listing that last saw it
}

// dir returns the links remembered for a directory, for the lister to
// look up and add to.
func (c *linkCache) dir(name string) map[string]*cachedLink {
	if c.dirs == nil {
		c.dirs = map[string]*linkedDir{}
	}
	d := c.dirs[name]
	if d == nil {
		d = &linkedDir{links: map[string]*cachedLink{}}
		c.dirs[name] = d
	}
	d.gen = c.gen
	return d.links
}

// sweep drops the links of a directory that its listing did not see, and
// the directory if it could not be listed.
func (c *linkCache) sweep(name string, listed bool) {
	d := c.dirs[name]
	if !listed {
		delete(c.dirs, name)
		return
	}
	for k, l := range d.links {
		if l.gen != c.gen {
			delete(d.links, k)
		}
	}
}

// sweepDirs drops the directories a listing of every subsystem did not
// read: their subsystem is gone.
func (c *linkCache) sweepDirs() {
	for name, d := range c.dirs {
		if d.gen != c.gen {
			delete(c.dirs, name)
		}
	}
}

// list adds the devices the directory dir (below the root) holds links to.
func (l *lister) list(dir, subsystem string) error {
	var links map[string]*cachedLink
	if l.cache != nil {
		links = l.cache.dir(dir)
	}
	err := l.read(dir, subsystem, links)
	if l.cache != nil {
		l.cache.sweep(dir, err == nil)
	}
	return err
}

// read lists dir, looking links up in links (when not nil) before reading
// them, and adding those it read.
func (l *lister) read(dir, subsystem string, links map[string]*cachedLink) error {
	name := l.root + dir
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	// The kernel's links climb back to the root: "../../devices/..." from
	// /sys/class/tty, one "../" per element of dir.
	depth := strings.Count(dir, "/")
	for {
		n, err := ignoringEINTR(func() (int, error) { return unix.Getdents(fd, l.dirents) })
		if err != nil {
			return &os.PathError{Op: "getdents", Path: name, Err: err}
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino, off (8 bytes each), reclen (2),
		// type (1), then the NUL-terminated name.
		for b := l.dirents[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return fmt.Errorf("getdents %s: bad record length %d", name, reclen)
			}
			ino, typ, ent := binary.NativeEndian.Uint64(b[0:8]), b[18], b[19:reclen]
			b = b[reclen:]
			if i := bytes.IndexByte(ent, 0); i >= 0 {
				ent = ent[:i]
			}
			if len(ent) == 0 || ent[0] == '.' && (len(ent) == 1 || len(ent) == 2 && ent[1] == '.') {
				continue
			}
			if typ == unix.DT_LNK && links != nil {
				if c := links[string(ent)]; c != nil && c.ino == ino {
					c.gen = l.cache.gen
					l.seen[c.devpath] = subsystem
					continue
				}
			}
			if p := l.entry(fd, dir, depth, string(ent), typ, subsystem); p != "" && typ == unix.DT_LNK && links != nil {
				links[string(ent)] = &cachedLink{ino: ino, devpath: p, gen: l.cache.gen}
			}
		}
	}
}

// entry adds the device a directory entry names: a link into /devices, or
// a directory itself (old layouts); class attributes (gpio/export) are
// files and ignored. It returns the device's path, "" when none.
func (l *lister) entry(fd int, dir string, depth int, ent string, typ uint8, subsystem string) string {
	if typ == unix.DT_UNKNOWN {
		var st unix.Stat_t
		if unix.Fstatat(fd, ent, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return ""
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			typ = unix.DT_LNK
		case unix.S_IFDIR:
			typ = unix.DT_DIR
		}
	}
	var p string
	switch typ {
	case unix.DT_LNK:
		n, err := unix.Readlinkat(fd, ent, l.link)
		if err != nil || n == len(l.link) {
			return ""
		}
		target := l.link[:n]
		k := 0
		for k < depth && bytes.HasPrefix(target[3*k:], []byte("../")) {
			k++
		}
		if k == depth {
			if p = "/" + string(target[3*k:]); uevent.ValidDevPath(p) {
				l.seen[p] = subsystem
				return p
			}
		}
		// Not the kernel's usual link: resolve it in full.
		rel, ok := strings.CutPrefix(resolveLink(l.root+dir, string(target)), l.root)
		if !ok {
			return ""
		}
		p = rel
	case unix.DT_DIR:
		p = dir + "/" + ent
	default:
		return ""
	}
	if !uevent.ValidDevPath(p) {
		return ""
	}
	l.seen[p] = subsystem
	return p
}

// resolveLink joins a symlink's target to the directory holding the link.
// The kernel's links are "../../devices/...": climbing is done by hand,
// since Join and Clean cost more than the readlink under emulation;
// anything else goes through them.
func resolveLink(dir, target string) string {
	rest := target
	for strings.HasPrefix(rest, "../") && dir != "/" {
		rest = rest[3:]
		dir = filepath.Dir(dir)
	}
	if rest == "" || rest[0] == '/' || rest[0] == '.' || strings.Contains(rest, "//") ||
		strings.Contains(rest, "/.") || strings.HasSuffix(rest, "/") {
		if filepath.IsAbs(target) {
			return filepath.Clean(target)
		}
		return filepath.Join(dir, rest)
	}
	if dir == "/" {
		return "/" + rest
	}
	return dir + "/" + rest
}

// DevPathOf turns a path under the sysfs root ("/sys/class/tty/ttyS1") into
// the device path it names ("/devices/.../ttyS1").
func (s sysfs) DevPathOf(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(s.Root)
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(real, root)
	if !ok || !uevent.ValidDevPath(rel) {
		return "", fmt.Errorf("%s is not a device under %s", p, s.Root)
	}
	if _, err := os.Stat(filepath.Join(real, "uevent")); err != nil {
		return "", fmt.Errorf("%s is not a device: %w", p, err)
	}
	return rel, nil
}

func listDir(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// devDirs holds descriptors of the directories above the device being
// read, for a pass over devices in path order (a trigger): a device's
// uevent file is then opened from its parent's descriptor, two path
// elements for the kernel to walk instead of the whole path, and each
// directory is walked to once. Under emulation, opening the uevent file
// by its full path cost more than reading it. Only the directories above the
// current device are held open (O_PATH, nothing the kernel prepares for
// reading), so at most one descriptor per level.
type devDirs struct {
	root  string
	stack []openDir // "/devices" first, each the parent of the next
}

type openDir struct {
	path string // below the root
	fd   int
}

// readUevent reads the uevent file of the device devpath into buf, from
// its parent's descriptor; name is the file's full path, for errors and
// for a parent that cannot be opened.
func (w *devDirs) readUevent(devpath, name string, buf []byte) ([]byte, error) {
	i := strings.LastIndexByte(devpath, '/')
	if i <= 0 {
		return readInto(name, buf)
	}
	fd, err := w.open(devpath[:i])
	if err != nil {
		return readInto(name, buf)
	}
	b, err := readIntoAt(fd, devpath[i+1:]+"/uevent", name, buf)
	if errors.Is(err, os.ErrNotExist) {
		// The directory held may be one removed since, with a new one
		// at its path: the path decides.
		return readInto(name, buf)
	}
	return b, err
}

// open returns a descriptor of dir, opening what it lacks from the
// deepest directory it holds above dir.
func (w *devDirs) open(dir string) (int, error) {
	for n := len(w.stack); n > 0; n = len(w.stack) {
		top := w.stack[n-1].path
		if dir == top || len(dir) > len(top) && dir[len(top)] == '/' && dir[:len(top)] == top {
			break
		}
		unix.Close(w.stack[n-1].fd)
		w.stack = w.stack[:n-1]
	}
	for {
		at, have := unix.AT_FDCWD, ""
		if n := len(w.stack); n > 0 {
			at, have = w.stack[n-1].fd, w.stack[n-1].path
		}
		if have == dir {
			return at, nil
		}
		next := len(dir)
		if j := strings.IndexByte(dir[len(have)+1:], '/'); j >= 0 {
			next = len(have) + 1 + j
		}
		el := dir[len(have)+1 : next]
		if at == unix.AT_FDCWD {
			el = w.root + dir[:next]
		}
		fd, err := ignoringEINTR(func() (int, error) {
			return unix.Openat(at, el, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return -1, err
		}
		w.stack = append(w.stack, openDir{path: dir[:next], fd: fd})
	}
}

// close closes what w holds.
func (w *devDirs) close() {
	for _, d := range w.stack {
		unix.Close(d.fd)
	}
	w.stack = nil
}

// readLimited reads up to maxAttr bytes of a file with plain system calls:
// sysfs reads are the hot path of event handling, and an *os.File adds a
// poller registration and a stat to each. A read that returns less than
// asked for ends the file: sysfs hands an attribute over whole in one read
// (and a binary one a page at a time), and a regular file comes short only
// at its end, which saves the second read that would return 0.
func readLimited(name string) ([]byte, error) { return readInto(name, make([]byte, 0, 4096)) }

// readInto is readLimited appending to buf, for a caller that reuses one.
func readInto(name string, buf []byte) ([]byte, error) {
	return readIntoAt(unix.AT_FDCWD, name, name, buf)
}

// readIntoAt is readInto of the file rel from the directory dirfd; name is
// the file's full path, for errors.
func readIntoAt(dirfd int, rel, name string, buf []byte) ([]byte, error) {
	fd, err := ignoringEINTR(func() (int, error) { return unix.Openat(dirfd, rel, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	for len(buf) < maxAttr {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := min(cap(buf), maxAttr) - len(buf)
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, buf[len(buf):len(buf)+want]) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		buf = buf[:len(buf)+n]
		if n < want {
			break
		}
	}
	return buf, nil
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// validRel reports whether p is a relative path that stays below its base:
// no empty, "." or ".." elements.
func validRel(p string) bool {
	if p == "" || p[0] == '/' || strings.ContainsRune(p, 0) {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}
