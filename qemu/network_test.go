package qemu_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/image"
)

// networkFiles are what the network test adds: a service ordered after
// network-online.target that answers on TCP port 7000, and what it runs
// for each connection.
var networkFiles = map[string]string{
	"/etc/sysmaster/units/answer.service.toml": `[Unit]
Description = "Answers on port 7000 once the network is online"
After = ["network-online.target"]
Wants = ["network-online.target"]
[Service]
ExecStart = "/bin/sh -c 'echo ANSWER-UP-$(ip -4 addr show eth0 | grep -c \"inet 10.0.2.15/24\"); exec busybox nc -ll -p 7000 -e /bin/sh /etc/answer.sh'"
[Install]
WantedBy = ["default.target"]
`,
	"/etc/answer.sh": "read line; echo \"guest answers: $line\"\n",
	// For the NIC the test hotplugs.
	"/etc/sysmaster/network/60-hotplug.toml": "dhcp = \"ipv4\"\n[match]\nname = \"eth1\"\n",
}

// freePort finds a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ask connects to the guest's service through QEMU's port forward and
// returns its answer; QEMU accepts before the guest listens, so an empty
// answer is tried again.
func ask(t *testing.T, port int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			last = err
			time.Sleep(500 * time.Millisecond)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = fmt.Fprintf(c, "ping-%d\n", port)
		var line string
		if err == nil {
			line, err = bufio.NewReader(c).ReadString('\n')
		}
		c.Close()
		if strings.TrimSpace(line) != "" {
			return strings.TrimSpace(line)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no answer from the guest on port %d within %s: %v", port, timeout, last)
	return ""
}

// TestNetwork boots with user-mode networking (restrict=on: the guest
// reaches nothing outside QEMU): netmaster gets QEMU's DHCP lease,
// network-online.target is reached, the unit ordered after it starts, and
// the host reaches it through a port forward on 127.0.0.1. The lease and
// address survive a restart of netmaster and a crash of core, and a NIC
// plugged in later is configured. A third boot checks the online timeout.
// networkBoards are the boards TestNetwork boots: the network code is the
// same Go on every arch, and these two have a PCIe slot for the NIC
// hotplug (the armv7 and riscv64 kernels lack PCI hotplug). The device
// test sees eth0 on the other boards.
var networkBoards = []string{"qemu-x86_64", "qemu-aarch64"}

func TestNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, name := range networkBoards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := boot(t, name, image.Gzip, bootConfig{files: networkFiles, monitor: true})
			g.booted()
			g.run("until sctl is-active network-online.target >/dev/null; do sleep 0.2; done; echo ONLINE-$((5+6))")
			g.expect("ONLINE-11", 2*time.Minute)
			// The unit ordered after network-online.target saw the address.
			g.run("sctl log answer.service")
			g.expect("ANSWER-UP-1", time.Minute)
			g.run("netctl status eth0")
			g.expect("eth0: configured (carrier)", time.Minute)
			g.expect("address:  10.0.2.15/24 (valid", time.Minute)
			g.expect("lease:    10.0.2.15/24 from 10.0.2.2", time.Minute)
			// With restrict=on QEMU offers neither a router nor a DNS
			// server, so there is no default route and resolv.conf is left
			// alone (the namespace tests cover both).
			g.run("netctl --json status eth0 | grep -c '\"state\": \"configured\"' | sed 's/^/JSON-/'")
			g.expect("JSON-1", time.Minute)
			g.run("until sctl status netmaster.service | grep -q 'Status: \"online\"'; do sleep 0.2; done; echo NM-STATUS-$((9+9))")
			g.expect("NM-STATUS-18", time.Minute)

			// From the host, through hostfwd on 127.0.0.1 only.
			port := freePort(t)
			if out, err := g.vm.Monitor(fmt.Sprintf("hostfwd_add net0 tcp:127.0.0.1:%d-:7000", port)); err != nil || strings.TrimSpace(out) != "" {
				t.Fatalf("hostfwd_add: %q %v", out, err)
			}
			if got, want := ask(t, port, 2*time.Minute), fmt.Sprintf("guest answers: ping-%d", port); got != want {
				t.Errorf("answer %q, want %q", got, want)
			}

			// A renewal asked for, then a restart of netmaster: the lease is
			// adopted and the address never goes.
			g.run("netctl renew eth0 && sleep 1 && sctl log netmaster.service | grep -c 'dhcp: lease 10.0.2.15/24' | sed 's/^/LEASES-/'")
			g.expect("LEASES-2", time.Minute)
			g.run("sctl restart netmaster.service && sctl log netmaster.service | grep -q 'adopting the lease of 10.0.2.15/24' && ip -4 addr show eth0 | grep -q 'inet 10.0.2.15/24' && echo ADOPTED-$((3+4))")
			g.expect("ADOPTED-7", time.Minute)

			// Core crashes and comes back; netmaster keeps running, and so
			// does the address.
			g.run("pidof netmaster > /tmp/nm.pid; kill -9 $(pidof sysmaster)")
			g.expectRE(`init: core \(pid \d+\) killed by SIGKILL; restarting it in`, time.Minute)
			g.expect("sysmaster: core started", time.Minute)
			g.run("sleep 1; [ $(pidof netmaster) = $(cat /tmp/nm.pid) ] && sctl is-active netmaster.service network-online.target >/dev/null && netctl status eth0 | grep -q '10.0.2.15/24' && echo SURVIVED-$((4+4))")
			g.expect("SURVIVED-8", time.Minute)
			if got := ask(t, port, time.Minute); !strings.HasPrefix(got, "guest answers:") {
				t.Errorf("after the core restart: answer %q", got)
			}

			// A NIC plugged in now (a second user-mode network, on another
			// subnet) gets its driver from devmaster and its lease from
			// netmaster.
			for _, cmd := range []string{
				"netdev_add user,id=net1,restrict=on,net=10.0.3.0/24",
				"device_add virtio-net-pci,netdev=net1,id=nic1,bus=hotplug0",
			} {
				if out, err := g.vm.Monitor(cmd); err != nil || strings.TrimSpace(out) != "" {
					t.Fatalf("%s: %q %v", cmd, out, err)
				}
			}
			g.run("until netctl status eth1 2>/dev/null | grep -q 'lease:    10.0.3.15/24 from 10.0.3.2'; do sleep 0.2; done; ip -4 addr show eth1 | grep -q 'inet 10.0.3.15/24' && echo HOTPLUGGED-$((8+9))")
			g.expect("HOTPLUGGED-17", 2*time.Minute)
			g.powerDown()
		})
	}
	t.Run("online-timeout", func(t *testing.T) {
		t.Parallel()
		onlineTimeout(t)
	})
}

// needsNet pulls network-online.target in, as a unit that needs the
// network does.
const needsNet = `[Unit]
Wants = ["network-online.target"]
After = ["network-online.target"]
[Service]
Type = "oneshot"
ExecStart = "/bin/true"
[Install]
WantedBy = ["default.target"]
`

// onlineTimeout: a required interface that never appears fails
// network-online.target after the timeout, saying why; eth0 is
// configured all the same.
func onlineTimeout(t *testing.T) {
	g := boot(t, "qemu-x86_64", image.Gzip, bootConfig{files: map[string]string{
		"/etc/sysmaster/network/60-modem.toml":                              "dhcp = \"ipv4\"\nrequired = true\n[match]\nname = \"wwan0\"\n",
		"/etc/sysmaster/units/needs-net.service.toml":                       needsNet,
		"/etc/sysmaster/units/netmaster-wait-online.service.d/timeout.toml": "[Service]\nExecStart = \"/bin/netctl wait-online --timeout 3s\"\n",
	}})
	g.booted()
	g.run("until sctl is-failed netmaster-wait-online.service >/dev/null; do sleep 0.2; done; sctl is-active network-online.target || echo TARGET-DOWN-$((6+6))")
	g.expect("TARGET-DOWN-12", time.Minute)
	g.run("sctl log netmaster-wait-online.service")
	// eth0 may be waiting still (its lease's address is probed first).
	g.expectRE(`netctl: not online after 3s: (eth0: no DHCP lease yet; )?no interface matching /etc/sysmaster/network/60-modem\.toml \(name=wwan0\) is present`, time.Minute)
	g.run("until netctl status eth0 | grep -q 'lease:    10.0.2.15/24'; do sleep 0.2; done; echo ETH0-LEASED-$((7+7))")
	g.expect("ETH0-LEASED-14", time.Minute)
	g.powerDown()
}

// powerDown is an orderly poweroff that checks netmaster stops with the
// rest, without the test units' own markers.
func (g *guest) powerDown() {
	g.t.Helper()
	g.run("poweroff")
	g.expect("sysmaster: netmaster.service: deactivating -> inactive", time.Minute)
	g.expect("sysmaster: all units stopped", time.Minute)
	g.expect("reboot: Power down", time.Minute)
	if err := g.vm.Wait(time.Minute); err != nil {
		g.t.Fatalf("QEMU did not exit cleanly after poweroff: %v", err)
	}
}
