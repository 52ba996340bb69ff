package execute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RemoveIPC removes the System V and POSIX IPC objects owned by uid, as
// systemd's RemoveIPC= does when a unit stops: shared memory segments,
// message queues and semaphore sets, and the files of /dev/shm and
// /dev/mqueue. Root's objects are never removed.
func RemoveIPC(uid uint32) error {
	if uid == 0 {
		return nil
	}
	var errs []error
	for _, t := range []struct {
		file, idCol string
		remove      func(id int) error
	}{
		{"/proc/sysvipc/shm", "shmid", func(id int) error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err }},
		{"/proc/sysvipc/msg", "msqid", func(id int) error { return ipcCtl(unix.SYS_MSGCTL, id) }},
		{"/proc/sysvipc/sem", "semid", func(id int) error { return ipcCtl(unix.SYS_SEMCTL, id) }},
	} {
		ids, err := sysvOwnedBy(t.file, t.idCol, uid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			if err := t.remove(id); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
				errs = append(errs, fmt.Errorf("RemoveIPC: %s %d: %w", t.idCol, id, err))
			}
		}
	}
	for _, dir := range []string{"/dev/shm", "/dev/mqueue"} {
		es, err := os.ReadDir(dir)
		if err != nil {
			continue // not mounted here
		}
		for _, e := range es {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == uid {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, fmt.Errorf("RemoveIPC: %w", err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func ipcCtl(nr uintptr, id int) error {
	if _, _, e := unix.Syscall(nr, uintptr(id), unix.IPC_RMID, 0); e != 0 {
		return e
	}
	return nil
}

// sysvOwnedBy lists the ids in a /proc/sysvipc table whose owner is uid.
func sysvOwnedBy(file, idCol string, uid uint32) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // no System V IPC in this kernel
		}
		return nil, fmt.Errorf("RemoveIPC: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	head := strings.Fields(lines[0])
	idAt, uidAt := -1, -1
	for i, h := range head {
		switch h {
		case idCol:
			idAt = i
		case "uid":
			uidAt = i
		}
	}
	if idAt < 0 || uidAt < 0 {
		return nil, fmt.Errorf("RemoveIPC: %s: no %s or uid column", file, idCol)
	}
	var ids []int
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= idAt || len(f) <= uidAt {
			continue
		}
		if u, err := strconv.ParseUint(f[uidAt], 10, 32); err == nil && uint32(u) == uid {
			if id, err := strconv.Atoi(f[idAt]); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
