package qemu_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
)

// writerUnit writes to the data partition and syncs nothing itself: what
// reaches the disk is the shutdown's doing.
const writerUnit = `[Unit]
Description = "Writes a file on the data partition"
[Service]
Type = "oneshot"
RemainAfterExit = true
ExecStart = "/bin/sh -c 'echo persisted by writer.service > /var/data.txt'"
[Install]
WantedBy = ["default.target"]
`

const dataToken = "persisted by writer.service"

func storageConfig(disk string) bootConfig {
	cfg := bootConfig{
		files: map[string]string{"/etc/sysmaster/units/writer.service.toml": writerUnit},
		debs:  []string{"e2fsprogs"},
		data: board.Data{Device: "LABEL=data", Type: "ext4",
			RequiredBy: []string{"identity.service", "random-seed.service", "writer.service"}},
	}
	if disk != "" {
		cfg.args = []string{"-drive", "file=" + disk + ",if=none,format=raw,id=data0", "-device", "virtio-blk-pci,drive=data0"}
	}
	return cfg
}

// needE2fsprogs skips without the host's mkfs.ext4, debugfs and dumpe2fs
// (scripts/setup installs e2fsprogs).
func needE2fsprogs(t *testing.T) {
	for _, p := range []string{"mkfs.ext4", "debugfs", "dumpe2fs", "e2fsck"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and %s is missing: %v", p, err)
			}
			t.Skipf("%s: %v (run scripts/setup)", p, err)
		}
	}
}

func host(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), code
}

func makeExt4(t *testing.T) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "data.img")
	if out, code := host(t, "mkfs.ext4", "-q", "-F", "-L", "data", disk, "32M"); code != 0 {
		t.Fatalf("mkfs.ext4: exit %d: %s", code, out)
	}
	return disk
}

func fsState(t *testing.T, disk string) string {
	t.Helper()
	out, _ := host(t, "dumpe2fs", "-h", disk)
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Filesystem state:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("dumpe2fs -h: no state in %q", out)
	return ""
}

func readBack(t *testing.T, disk string) string {
	t.Helper()
	out, _ := host(t, "debugfs", "-R", "cat /data.txt", disk)
	return out
}

// mountedData waits for the data partition and the writer.
func mountedData(g *guest) {
	g.booted()
	g.run("sctl is-active fsck-var.service var.mount writer.service identity.service && grep -q ' /var ext4 ' /proc/mounts && sctl log fsck-var.service | grep -q 'fsck: /dev/disk/by-label/data: clean' && echo DATA-MOUNTED-$((4+4))")
	g.expect("DATA-MOUNTED-8", time.Minute)
}

// TestDataPartition boots with an ext4 data partition made on the host,
// lets a unit write a file, shuts down three ways and reads the disk back
// on the host.
func TestDataPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	needE2fsprogs(t)
	const boardName = "qemu-aarch64"
	t.Run("poweroff", func(t *testing.T) {
		t.Parallel()
		disk := makeExt4(t)
		g := boot(t, boardName, image.Gzip, storageConfig(disk))
		mountedData(g)
		g.poweroff("poweroff")
		if s := readBack(t, disk); !strings.Contains(s, dataToken) {
			t.Fatalf("the file is not on the disk: %q", s)
		}
		if s := fsState(t, disk); s != "clean" {
			t.Fatalf("filesystem state %q after poweroff, want clean", s)
		}
	})
	t.Run("reboot", func(t *testing.T) {
		t.Parallel()
		disk := makeExt4(t)
		g := boot(t, boardName, image.Gzip, storageConfig(disk))
		mountedData(g)
		g.run("reboot")
		g.expect("sysmaster: all units stopped", time.Minute)
		g.expect("init: reboot", time.Minute)
		g.expect("reboot: Restarting system", time.Minute)
		if err := g.vm.Wait(time.Minute); err != nil {
			t.Fatal(err)
		}
		if s := readBack(t, disk); !strings.Contains(s, dataToken) {
			t.Fatalf("the file is not on the disk: %q", s)
		}
		if s := fsState(t, disk); s != "clean" {
			t.Fatalf("filesystem state %q after reboot, want clean", s)
		}
	})
	// poweroff -f is reboot(2) at once: no unit stops, nothing is synced.
	// The data may be lost; the journal must bring the filesystem back,
	// which the check at the next boot does.
	t.Run("poweroff-f", func(t *testing.T) {
		t.Parallel()
		disk := makeExt4(t)
		g := boot(t, boardName, image.Gzip, storageConfig(disk))
		mountedData(g)
		g.run("poweroff -f")
		g.expect("reboot: Power down", time.Minute)
		if err := g.vm.Wait(time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("after poweroff -f: state %q, file on disk: %v", fsState(t, disk), strings.Contains(readBack(t, disk), dataToken))
		// Nothing beyond what the journal recovers: a check of a copy
		// corrects nothing but the replay.
		cp := disk + ".copy"
		b, err := os.ReadFile(disk)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := host(t, "e2fsck", "-fy", cp)
		t.Logf("e2fsck -fy on a copy: exit %d\n%s", code, out)
		if code >= 4 {
			t.Fatalf("the filesystem is corrupt beyond repair after poweroff -f: e2fsck exit %d", code)
		}
		// The next boot checks it (journal replay) and mounts it.
		g = boot(t, boardName, image.Gzip, storageConfig(disk))
		g.booted()
		g.run("sctl is-active var.mount writer.service && echo REMOUNTED-$((5+5)); sctl log fsck-var.service")
		g.expect("REMOUNTED-10", time.Minute)
		g.poweroff("poweroff")
		if s := fsState(t, disk); s != "clean" {
			t.Fatalf("filesystem state %q after the next boot's poweroff, want clean", s)
		}
	})
	// A partition that never appears: after the device wait (core's 90 s,
	// which holds the default target) the mount fails, the units that
	// need it fail naming it, the rest boots.
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		g := boot(t, boardName, image.Gzip, storageConfig(""))
		g.expect(`dev-disk-by\x2dlabel-data.device did not appear within`, 4*time.Minute)
		g.expect("fsck: /dev/disk/by-label/data: the device is not there", time.Minute)
		g.expect("writer.service: dependency var.mount failed or is not active; not starting", time.Minute)
		g.run("until sctl is-active default.target >/dev/null; do sleep 0.2; done; ! sctl is-active var.mount && ! sctl is-active writer.service && sctl is-active sleeper.service && echo MISSING-$((4+3))")
		g.expect("MISSING-7", time.Minute)
		g.poweroff("poweroff")
	})
	// A filesystem that fails its check is not mounted: the units that
	// need it fail, naming why; the rest boots.
	t.Run("check-fails", func(t *testing.T) {
		t.Parallel()
		disk := makeExt4(t)
		for _, req := range []string{"clri <2>", "ssv state 2"} {
			if out, code := host(t, "debugfs", "-w", "-R", req, disk); code != 0 {
				t.Fatalf("debugfs %s: exit %d: %s", req, code, out)
			}
		}
		g := boot(t, boardName, image.Gzip, storageConfig(disk))
		g.booted()
		g.run("sctl is-failed fsck-var.service && sctl log fsck-var.service | grep -q 'errors left uncorrected' && ! sctl is-active var.mount && ! sctl is-active writer.service && ! grep -q ' /var ' /proc/mounts && sctl is-active sleeper.service && echo CHECK-FAILED-$((6+1))")
		g.expect("CHECK-FAILED-7", time.Minute)
		g.run("sctl status writer.service var.mount")
		g.poweroff("poweroff")
	})
}
