package devmaster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/uevent"
	"golang.org/x/sys/unix"
)

// TestNetlinkSource runs the daemon on the kernel's uevent socket: a
// message a process sends it is dropped, settle drains the socket, and
// cancelling stops the daemon.
func TestNetlinkSource(t *testing.T) {
	conn, err := uevent.Listen(0)
	if err != nil {
		t.Skipf("no uevent netlink socket here: %v", err)
	}
	tr := newTree(t)
	logger, tl := newLogger(t)
	d, err := New(Config{SysRoot: tr.sys, DevRoot: tr.dev, RunRoot: tr.run, RulesDirs: []string{tr.rules},
		Source: conn, Log: logger, Notify: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	<-d.Ready()

	port, err := conn.PortID()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	msg := []byte("add@/devices/x\x00ACTION=add\x00DEVPATH=/devices/x\x00SUBSYSTEM=s\x00")
	sendErr := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port})
	if sendErr != nil && !errors.Is(sendErr, unix.EPERM) {
		t.Fatal(sendErr)
	}
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := d.Settle(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tr.run, "udev", "data", "+s:x")); !os.IsNotExist(err) || len(tl.lines) > 0 {
		t.Errorf("a process's message was handled or logged: %v %v", err, tl.lines)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
