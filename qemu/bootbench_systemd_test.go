package qemu_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/image"
)

// The systemd peer: Debian's systemd, udev and kmod (their libraries by
// the image's ELF closure) running the same work as .service units from
// an initramfs, as a normal system: no /etc/initrd-release, a machine id
// made when the image is built (so not a first boot), default.target is
// multi-user.target. Coldplug is udev's own: systemd-udev-trigger, the
// kmod builtin loading drivers by modalias, and the report waits for
// `udevadm settle` as ours waits for devmaster's coldplug.

// systemdPackages are the Debian packages and the files of each that go
// in: the manager, systemctl, journald and its device rules; udevd with its rules, helpers
// and units; kmod as /sbin/modprobe for the kernel's own requests.
var systemdPackages = map[string][]string{
	"systemd": {
		"/lib/systemd/systemd", "/bin/systemctl", "/lib/systemd/systemd-journald",
		"/etc/systemd/system.conf", "/etc/systemd/journald.conf",
		"/lib/systemd/system/basic.target", "/lib/systemd/system/sysinit.target",
		"/lib/systemd/system/sockets.target", "/lib/systemd/system/local-fs.target",
		"/lib/systemd/system/local-fs-pre.target", "/lib/systemd/system/swap.target",
		"/lib/systemd/system/timers.target", "/lib/systemd/system/paths.target",
		"/lib/systemd/system/slices.target", "/lib/systemd/system/multi-user.target",
		"/lib/systemd/system/shutdown.target", "/lib/systemd/system/umount.target",
		"/lib/systemd/system/final.target", "/lib/systemd/system/emergency.target",
		"/lib/systemd/system/systemd-journald.service", "/lib/systemd/system/systemd-journald.socket",
		"/lib/systemd/system/systemd-journald-dev-log.socket",
		// Tags the devices systemd follows as .device units, as ours
		// reports devices to core.
		"/lib/udev/rules.d/99-systemd.rules",
	},
	"udev": {
		"/bin/udevadm", "/lib/systemd/systemd-udevd", "/etc/udev", "/lib/udev/rules.d",
		"/lib/udev/*_id", "/lib/systemd/system",
	},
	// Its /sbin/modprobe link would clash with smbox's in the build;
	// the peer's tree gets it once smbox is out.
	"kmod": {"/bin/kmod"},
}

// systemdUnits go to /etc/systemd/system; each with an [Install] section
// is enabled in multi-user.target.wants.
var systemdUnits = map[string]string{
	"setup.service": `[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p /run/app && echo ok > /run/app/state'
[Install]
WantedBy=multi-user.target
`,
	"lo.service": `[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/ip link set lo up
[Install]
WantedBy=multi-user.target
`,
	// After lo.service as ours; without the default dependencies, which
	// would order it before sockets.target and so before lo.service.
	"echo.socket": `[Unit]
DefaultDependencies=no
After=lo.service
[Socket]
ListenStream=127.0.0.1:7777
Accept=no
[Install]
WantedBy=multi-user.target
`,
	"echo.service": `[Service]
ExecStart=/bin/sleep 100000
`,
	"hello.service": `[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "hello from systemd: $(uname -sr)" > /dev/console'
[Install]
WantedBy=multi-user.target
`,
	"shell.service": `[Service]
ExecStart=/bin/sh -l
StandardInput=tty
TTYPath=/dev/console
Restart=always
RestartSec=1s
KillSignal=SIGHUP
Environment=HOME=/root TERM=vt100
[Install]
WantedBy=multi-user.target
`,
	// udevadm settle waits for coldplug, as ours waits for devmaster's;
	// systemd-udev-settle.service would do it too, but it orders itself
	// before sysinit.target and so holds back every service.
	"report.service": `[Unit]
After=setup.service lo.service echo.socket systemd-udev-trigger.service hello.service d1.service d2.service d3.service
[Service]
Type=oneshot
ExecStartPre=/bin/udevadm settle
ExecStart=/bin/sh -c '/bin/bench-report > /dev/console 2>&1'
[Install]
WantedBy=multi-user.target
`,
}

// systemdPID1 prints when systemd started, on the kernel's clock: the
// report runs it once it has read its own uptime.
const systemdPID1 = `#!/bin/sh
t=$(systemctl show -P UserspaceTimestampMonotonic)
echo "BOOT-PID1 $(awk -v t="$t" 'BEGIN { printf "%.3f", t / 1000000 }') s"
`

// A Debian system's users and groups, as far as udev's rules and
// journald name them.
const (
	systemdPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	systemdGroup  = "root:x:0:\ntty:x:5:\ndisk:x:6:\nlp:x:7:\nkmem:x:15:\ndialout:x:20:\ncdrom:x:24:\nfloppy:x:25:\n" +
		"tape:x:26:\naudio:x:29:\nvideo:x:44:\nusers:x:100:\ninput:x:101:\nsgx:x:102:\nkvm:x:103:\nrender:x:104:\n" +
		"systemd-journal:x:105:\nnogroup:x:65534:\n"
)

// buildSystemd builds the systemd image: Debian's packages through the
// image builder, busybox for the commands the services run and the
// kernel modules of ours, with kmod's indexes made by the host's depmod
// (libkmod reads only the binary ones, and Debian's kernel package
// leaves them to depmod on the board). None of ours goes in. With masked
// it also returns the same image with journald's units masked (services'
// output then goes nowhere), to show what journald costs.
func (pb peerBuild) systemd(b *testing.B, masked bool) ([]system, error) {
	depmod, err := exec.LookPath("depmod")
	if err != nil {
		// A user's PATH may lack the sbin folders.
		if _, serr := os.Stat("/usr/sbin/depmod"); serr != nil {
			return nil, fmt.Errorf("no depmod on the host for kmod's indexes (apt-get install kmod): %w", err)
		}
		depmod = "/usr/sbin/depmod"
	}
	sb := *pb.brd
	sb.Packages = nil
	sb.Package = map[string]board.PackageFiles{}
	for _, p := range []string{"systemd", "udev", "kmod"} {
		sb.Packages = append(sb.Packages, p)
		sb.Package[p] = board.PackageFiles{Files: systemdPackages[p]}
	}
	src, _, err := pb.build(&sb, "with systemd", image.WithPackageSource(image.NewAptSource(pb.in.root, pb.in.cache)))
	if err != nil {
		return nil, err
	}
	indexes, err := kmodIndexes(depmod, src, pb.in.modules, pb.dir)
	if err != nil {
		return nil, err
	}
	t := peerTree(b, src, func(e image.Entry) bool {
		switch {
		case e.Name == "bin/smbox" || e.Name == "init" || e.Linkname == "/bin/smbox" || e.Linkname == "smbox":
			return false
		case strings.HasPrefix(e.Name, "etc/sysmaster") || strings.HasPrefix(e.Name, "lib/devmaster"):
			return false
		case strings.HasPrefix(e.Name, "lib/modules/") && strings.HasPrefix(path.Base(e.Name), "modules."):
			return false // depmod's take their place
		}
		return true
	})
	for name, body := range indexes {
		if err := t.AddFile(name, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
		"etc/machine-id": hex.EncodeToString(id) + "\n",
		"etc/passwd":     systemdPasswd,
		"etc/group":      systemdGroup,
		"bin/bench-pid1": systemdPID1,
	}
	for n, body := range systemdUnits {
		files["etc/systemd/system/"+n] = body
		if strings.Contains(body, "[Install]") {
			if err := t.AddSymlink("etc/systemd/system/multi-user.target.wants/"+n, "/etc/systemd/system/"+n); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i, d := range []string{"d1", "d2", "d3"} {
		files["etc/systemd/system/"+d+".service"] = fmt.Sprintf("[Unit]\nAfter=setup.service\n[Service]\nExecStart=/bin/sleep %d\n[Install]\nWantedBy=multi-user.target\n", 100000+i)
		if err := t.AddSymlink("etc/systemd/system/multi-user.target.wants/"+d+".service", "/etc/systemd/system/"+d+".service"); err != nil {
			b.Fatal(err)
		}
	}
	addFiles(b, t, files)
	for _, l := range [][2]string{
		{"init", "lib/systemd/systemd"},
		{"sbin/modprobe", "/bin/kmod"},
		{"etc/systemd/system/default.target", "/lib/systemd/system/multi-user.target"},
		// Debian's journald.socket and dev-log socket are wanted by
		// sockets.target through links in the systemd package.
		{"lib/systemd/system/sockets.target.wants/systemd-journald.socket", "../systemd-journald.socket"},
		{"lib/systemd/system/sockets.target.wants/systemd-journald-dev-log.socket", "../systemd-journald-dev-log.socket"},
	} {
		if err := t.AddSymlink(l[0], l[1]); err != nil {
			b.Fatal(err)
		}
	}
	systems := []system{pb.write(b, t, "systemd", "pid1", "systemd-udevd")}
	if masked {
		for _, u := range []string{"systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket"} {
			if err := t.AddSymlink("etc/systemd/system/"+u, "/dev/null"); err != nil {
				b.Fatal(err)
			}
		}
		systems = append(systems, pb.write(b, t, "systemd, journald masked", "pid1", "systemd-udevd"))
	}
	return systems, nil
}

// kmodIndexes runs depmod on the kernel modules of the image at src (with
// the kernel's modules.order and modules.builtin*, from mods) and returns
// the index files it wrote, by their path in the image.
func kmodIndexes(depmod, src, mods, dir string) (map[string][]byte, error) {
	base := filepath.Join(dir, "depmod")
	version := filepath.Base(mods)
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	err = image.Walk(f, func(e image.Entry, data io.Reader) error {
		if !e.Mode.IsRegular() || !strings.HasPrefix(e.Name, "lib/modules/") || strings.HasPrefix(path.Base(e.Name), "modules.") {
			return nil
		}
		p := filepath.Join(base, filepath.FromSlash(e.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		body, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		return os.WriteFile(p, body, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules of %s: %w", src, err)
	}
	kdir := filepath.Join(base, "lib", "modules", version)
	for _, n := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		body, err := os.ReadFile(filepath.Join(mods, n))
		if err != nil {
			return nil, fmt.Errorf("kernel modules: %w", err)
		}
		if err := os.WriteFile(filepath.Join(kdir, n), body, 0o644); err != nil {
			return nil, err
		}
	}
	if out, err := exec.Command(depmod, "-b", base, version).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("depmod -b %s %s: %w: %s", base, version, err, strings.TrimSpace(string(out)))
	}
	ents, err := os.ReadDir(kdir)
	if err != nil {
		return nil, err
	}
	idx := map[string][]byte{}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "modules.") {
			continue
		}
		body, err := os.ReadFile(filepath.Join(kdir, e.Name()))
		if err != nil {
			return nil, err
		}
		idx["lib/modules/"+version+"/"+e.Name()] = body
	}
	if _, ok := idx["lib/modules/"+version+"/modules.alias.bin"]; !ok {
		return nil, fmt.Errorf("depmod -b %s %s wrote no modules.alias.bin", base, version)
	}
	return idx, nil
}
