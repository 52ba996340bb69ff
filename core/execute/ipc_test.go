package execute

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRemoveIPC(t *testing.T) {
	needRoot(t)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Skipf("no System V shared memory: %v", err)
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil {
		t.Fatal(err)
	}
	desc.Perm.Uid = nobody
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &desc); err != nil {
		t.Fatal(err)
	}
	mine, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.SysvShmCtl(mine, unix.IPC_RMID, nil)
	shm := filepath.Join("/dev/shm", "sm-removeipc-test")
	if err := os.WriteFile(shm, nil, 0o600); err == nil {
		defer os.Remove(shm)
		if err := os.Chown(shm, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveIPC(nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
		t.Errorf("nobody's segment still there: %v", err)
	}
	if _, err := unix.SysvShmCtl(mine, unix.IPC_STAT, &desc); err != nil {
		t.Errorf("root's segment removed: %v", err)
	}
	if _, err := os.Stat(shm); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", shm, err)
	}
}
