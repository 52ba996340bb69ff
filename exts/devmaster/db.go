package devmaster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// db is the udev-compatible device database, <run>/udev/data/<id>, that
// libudev programs read, and where devmaster remembers which links a
// device owns.
type db struct {
	dir string
	// mem, when set, holds what the daemon wrote, so that handling an
	// event reads no file: the daemon is the database's only writer.
	mem *memDB
}

func newDB(runRoot string) db { return db{dir: filepath.Join(runRoot, "udev", "data")} }

// memDB mirrors the database directory in memory. An id is in entries
// once its file was read or written; listed holds the names found in the
// directory at start and not read yet. After start, an id in neither has
// no file.
type memDB struct {
	mu      sync.Mutex
	entries map[string]record
	listed  map[string]bool
}

// remember lists the directory, so that reads of ids without a file, most
// of them at boot, cost no system call. Entries are read when first asked
// for. A directory that cannot be listed leaves reads to the files.
func (d *db) remember() error {
	names, err := listDir(d.dir)
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	m := &memDB{entries: make(map[string]record), listed: make(map[string]bool, len(names))}
	for _, n := range names {
		m.listed[n] = true
	}
	d.mem = m
	return nil
}

// record is one device's entry.
type record struct {
	Links       []string          // S: links, relative to /dev
	Env         map[string]string // E: properties set by devmaster, not the kernel
	Initialized uint64            // I: CLOCK_MONOTONIC µs when first handled
}

// dbID names a device as libudev does: "b8:0" and "c4:65" for device nodes,
// "n2" for network interfaces, "+subsystem:sysname" for the rest.
func dbID(subsystem, sysname string, env map[string]string) string {
	if major, minor := env["MAJOR"], env["MINOR"]; major != "" && minor != "" {
		kind := "c"
		if subsystem == "block" {
			kind = "b"
		}
		return kind + major + ":" + minor
	}
	if ifindex := env["IFINDEX"]; subsystem == "net" && ifindex != "" {
		return "n" + ifindex
	}
	return "+" + subsystem + ":" + sysname
}

func (d db) path(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	// dir is clean (newDB) and id one element: Join would only clean again.
	return d.dir + "/" + id, nil
}

func checkID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id[0] == '.' {
		return fmt.Errorf("db: bad device id %q", id)
	}
	return nil
}

// read returns the entry for id; a missing entry is an empty record. The
// record's slice and map are shared with the cache: callers do not
// change them.
func (d db) read(id string) (record, error) {
	if d.mem == nil {
		p, err := d.path(id)
		if err != nil {
			return record{}, err
		}
		return readRecord(p)
	}
	// The path is made only for a file to read: most reads are answered
	// from memory.
	if err := checkID(id); err != nil {
		return record{}, err
	}
	d.mem.mu.Lock()
	defer d.mem.mu.Unlock()
	if r, ok := d.mem.entries[id]; ok {
		return r, nil
	}
	if !d.mem.listed[id] {
		return record{}, nil
	}
	r, err := readRecord(d.dir + "/" + id)
	if err != nil {
		return r, err
	}
	delete(d.mem.listed, id)
	d.mem.entries[id] = r
	return r, nil
}

// readRecord parses one database file.
func readRecord(p string) (record, error) {
	var r record
	b, err := readLimited(p)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("db: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		kind, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch kind {
		case "S":
			if validRel(val) {
				r.Links = append(r.Links, val)
			}
		case "E":
			if k, v, ok := strings.Cut(val, "="); ok && k != "" {
				if r.Env == nil {
					r.Env = make(map[string]string)
				}
				r.Env[k] = v
			}
		case "I":
			r.Initialized, _ = strconv.ParseUint(val, 10, 64)
		}
	}
	return r, nil
}

// write replaces the entry for id atomically, so a reader never sees half
// of one.
func (d db) write(id string, r record) error {
	p, err := d.path(id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	links := append([]string(nil), r.Links...)
	sort.Strings(links)
	for _, l := range links {
		fmt.Fprintf(&b, "S:%s\n", l)
	}
	fmt.Fprintf(&b, "I:%d\n", r.Initialized)
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.ContainsAny(r.Env[k], "\n\x00") {
			fmt.Fprintf(&b, "E:%s=%s\n", k, r.Env[k])
		}
	}
	err = writeAtomic(p, b.Bytes(), 0o644)
	if d.mem != nil {
		d.mem.mu.Lock()
		if err != nil {
			d.mem.forget(id)
		} else {
			r.Links = links
			d.mem.entries[id] = r
			delete(d.mem.listed, id)
		}
		d.mem.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	return nil
}

// forget drops id, so that the next read goes to the file, whatever state
// a failed write or removal left it in. The caller holds the lock.
func (m *memDB) forget(id string) {
	delete(m.entries, id)
	m.listed[id] = true
}

func (d db) remove(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if d.mem != nil {
		d.mem.mu.Lock()
		_, ok := d.mem.entries[id]
		ok = ok || d.mem.listed[id]
		d.mem.mu.Unlock()
		if !ok {
			return nil // no file
		}
	}
	err := os.Remove(d.dir + "/" + id)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if d.mem != nil {
		d.mem.mu.Lock()
		if err != nil {
			d.mem.forget(id)
		} else {
			delete(d.mem.entries, id)
			delete(d.mem.listed, id)
		}
		d.mem.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	return nil
}

// writeAtomic writes a temporary file next to name and renames it over
// name. The temporary name is unique per device id, and one device's events
// never run concurrently.
func writeAtomic(name string, data []byte, perm os.FileMode) error {
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	// Plain system calls: os.WriteFile also asks the poller about the
	// file, two more calls per device at coldplug.
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, uint32(perm.Perm()))
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: tmp, Err: err}
	}
	_, err = ignoringEINTR(func() (int, error) { return unix.Write(fd, data) })
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return &os.PathError{Op: "write", Path: tmp, Err: err}
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// monotonicUsec is the CLOCK_MONOTONIC time in µs, as libudev's
// USEC_INITIALIZED.
func monotonicUsec() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}
