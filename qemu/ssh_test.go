package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
	"github.com/sysmaster-go/sysmaster/qemu"
)

// sshUnits bring up eth0 and Debian's dropbear. There is no network
// manager in the image yet, so eth0 gets QEMU user networking's guest
// address statically, which is where hostfwd delivers.
var sshUnits = map[string]string{
	"/etc/sysmaster/units/net-static.service.toml": `[Unit]
Description = "eth0 with QEMU's user-networking address"
[Service]
Type = "oneshot"
ExecStart = "/bin/sh -c 'until ip link show eth0 >/dev/null 2>&1; do sleep 0.2; done; ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0'"
RemainAfterExit = true
[Install]
WantedBy = ["default.target"]
`,
	"/etc/sysmaster/units/dropbear.service.toml": `[Unit]
Description = "Dropbear SSH server"
After = ["net-static.service"]
Requires = ["net-static.service"]
[Service]
ExecStartPre = "/bin/mkdir -p /etc/dropbear"
# -R makes the host keys at the first connection; -s: keys only.
ExecStart = "/usr/sbin/dropbear -F -E -R -s -p 22"
Restart = "on-failure"
[Install]
WantedBy = ["default.target"]
`,
}

// sshBoards are where TestSSHDropbear logs in: arm64 from bookworm, and
// riscv64 from trixie, whose packages keep /lib's files in /usr/lib.
var sshBoards = map[string]string{"qemu-aarch64": "aarch64", "qemu-riscv64": "riscv64"}

// TestSSHDropbear puts Debian's dynamically linked dropbear with the
// libraries the resolver found into an image, starts it as a unit and logs
// in with the host's ssh client through a hostfwd on 127.0.0.1.
func TestSSHDropbear(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	sshBin, err := exec.LookPath("ssh")
	keygen, kerr := exec.LookPath("ssh-keygen")
	if err != nil || kerr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no ssh client: %v %v", err, kerr)
		}
		t.Skip("needs ssh and ssh-keygen (openssh-client)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no apt-get for Debian packages")
		}
		t.Skip("needs apt-get for Debian packages")
	}
	for name, machine := range sshBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sshLogin(t, name, machine, sshBin, keygen)
		})
	}
}

func sshLogin(t *testing.T, boardName, machine, sshBin, keygen string) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sysmaster-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"/root/.ssh/authorized_keys": string(pub)}
	for p, body := range sshUnits {
		files[p] = body
	}
	port, err := qemu.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	g := boot(t, boardName, image.Gzip, bootConfig{
		files:    files,
		debs:     []string{"dropbear-bin"},
		forwards: []qemu.HostForward{{HostPort: port, GuestPort: 22}},
	})
	g.booted()
	g.run("until sctl is-active dropbear.service >/dev/null; do sleep 0.2; done; ip addr show eth0 | grep -q 10.0.2.15 && echo DROPBEAR-UP-$((7+7))")
	g.expect("DROPBEAR-UP-14", time.Minute)

	login := func(cmd string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, sshBin, "-F", "none", "-i", key, "-p", fmt.Sprint(port),
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-T",
			"root@127.0.0.1", cmd)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		return out.String(), err
	}
	// The first connection waits for the host key to be made under TCG.
	var out string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err = login("echo SSH-LOGIN-$((6*7)) $(id -un) $(uname -m)")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("ssh login: %v: %s", err, out)
	}
	if !strings.Contains(out, "SSH-LOGIN-42 root "+machine) {
		t.Fatalf("ssh login printed %q", out)
	}
	// The host key was made on the board, and dropbear runs under core.
	out, err = login("ls /etc/dropbear; cat /proc/$(pidof dropbear | cut -d' ' -f1)/cgroup")
	if err != nil || !strings.Contains(out, "dropbear_ed25519_host_key") || !strings.Contains(out, "dropbear.service") {
		t.Fatalf("on the board: %v: %q", err, out)
	}
	g.poweroff("poweroff")
}
