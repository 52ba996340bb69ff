package pid1

import (
	"slices"
	"strings"
	"testing"
)

func TestLeftMounted(t *testing.T) {
	mi := strings.Join([]string{
		"1 0 0:2 / / rw - rootfs rootfs rw",
		"20 1 0:5 / /dev rw - devtmpfs devtmpfs rw",
		"21 20 0:20 / /dev/pts rw - devpts devpts rw",
		"22 1 0:21 / /proc rw - proc proc rw",
		"30 1 254:0 / /var rw - ext4 /dev/vda rw",
		"31 30 0:40 / /var/cache rw - tmpfs tmpfs rw",
		`32 1 0:41 / /mnt/my\040disk rw - vfat /dev/vdb1 rw`,
	}, "\n")
	got := leftMounted([]byte(mi), []string{"/dev", "/proc"})
	want := []string{"/var", "/var/cache", "/mnt/my disk"}
	if !slices.Equal(got, want) {
		t.Fatalf("leftMounted = %q, want %q", got, want)
	}
}

func TestAlreadyMounted(t *testing.T) {
	mi := "1 0 0:2 / / rw - rootfs rootfs rw\n20 1 0:5 / /dev rw - devtmpfs devtmpfs rw\n22 1 0:21 / /proc rw - proc proc rw\n23 1 0:22 / /sys rw - sysfs sysfs rw\n"
	todo, done := alreadyMounted(Mounts(), []byte(mi))
	if !slices.Equal(done, []string{"/dev", "/proc", "/sys"}) {
		t.Fatalf("done = %q", done)
	}
	for _, m := range todo {
		if slices.Contains(done, m.Target) {
			t.Fatalf("%s mounted again", m.Target)
		}
	}
	if len(todo)+len(done) != len(Mounts()) {
		t.Fatalf("%d to do + %d done, table has %d", len(todo), len(done), len(Mounts()))
	}
}

func TestFindDevice(t *testing.T) {
	if _, err := findDevice("vda"); err == nil || !strings.Contains(err.Error(), "not a /dev path") {
		t.Fatalf("findDevice(vda) = %v", err)
	}
	if _, err := waitRootDevice("/dev/no-such-disk", 0); err == nil || !strings.Contains(err.Error(), "root device /dev/no-such-disk") {
		t.Fatalf("waitRootDevice = %v", err)
	}
}
