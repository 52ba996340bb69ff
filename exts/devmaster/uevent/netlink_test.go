package uevent

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func listen(t *testing.T) *Conn {
	t.Helper()
	c, err := Listen(0)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EAFNOSUPPORT) {
		t.Skipf("no uevent netlink socket here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendTo sends msg to the socket's port from another netlink socket, as a
// process (not the kernel) would; that needs CAP_NET_ADMIN.
func sendTo(t *testing.T, c *Conn, msg []byte) {
	t.Helper()
	port, err := c.PortID()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port})
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ECONNREFUSED) {
		t.Skipf("cannot send to a uevent socket here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestDrainEmpty(t *testing.T) {
	c := listen(t)
	done := make(chan error, 1)
	go func() {
		done <- c.Drain(func(ev *Event) {}, func(error) {})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Drain blocked on an empty socket")
	}
}

func TestCloseWakesWait(t *testing.T) {
	c := listen(t)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Wait on a closed socket succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
}

func TestRejectsProcessSender(t *testing.T) {
	c := listen(t)
	sendTo(t, c, recorded(t, "tty-ttyS1-add.txt"))
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	var bad []error
	err := c.Drain(func(ev *Event) { t.Errorf("accepted %s %s from a process", ev.Action, ev.DevPath) },
		func(err error) { bad = append(bad, err) })
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !errors.Is(bad[0], ErrNotKernel) {
		t.Fatalf("dropped %v, want one ErrNotKernel", bad)
	}
	sendTo(t, c, []byte("junk"))
	if _, err := c.Receive(); !errors.Is(err, ErrNotKernel) {
		t.Fatalf("Receive = %v, want ErrNotKernel", err)
	}
}
