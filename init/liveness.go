package pid1

import (
	"bytes"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/proto"
	"github.com/sysmaster-go/sysmaster/core/reap"
)

// defaultLiveness is how often init asks core whether it still answers; a
// core that misses livenessMisses checks in a row is hung and is killed,
// so it restarts like a crashed one.
const (
	defaultLiveness = 10 * time.Second
	livenessMisses  = 3
)

// pingRequest is the control protocol's ping.
var pingRequest = []byte(proto.Ping)

// watchCore pings core over its control socket. It runs on its own
// goroutine and only posts the answers to init's loop (pinged).
func (p *pid1) watchCore() {
	for {
		time.Sleep(p.liveness)
		p.pings <- ping(p.socket, p.liveness)
	}
}

// pinged runs on init's loop with the answer of one liveness check.
func (p *pid1) pinged(ok bool) {
	if p.corePID == 0 || ok {
		p.misses = 0
		if ok {
			p.coreAlive()
		}
		return
	}
	p.misses++
	if p.misses < livenessMisses || p.shutdown != "" {
		return
	}
	p.misses = 0
	p.logf("core (pid %d) does not answer on %s; killing it", p.corePID, p.socket)
	_ = unix.Kill(p.corePID, unix.SIGKILL)
}

// ping sends the control protocol's ping and waits for the answer. It is
// the one thing init does all the time, so it is plain system calls on a
// blocking socket with kernel timeouts: no poller, no buffers, nothing
// left for a collector (init runs without one, see quietHeap).
func ping(socket string, timeout time.Duration) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	// The send timeout bounds connect too, on a unix socket.
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) != nil ||
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) != nil {
		return false
	}
	deadline := time.Now().Add(timeout)
	// A signal cuts a call with a socket timeout short (EINTR) whatever
	// SA_RESTART says; init gets one for every child that ends.
	retry := func(err error) bool { return err == unix.EINTR && time.Now().Before(deadline) }
	addr := &unix.SockaddrUnix{Name: socket}
	err = unix.Connect(fd, addr)
	for retry(err) {
		err = unix.Connect(fd, addr)
	}
	if err != nil && err != unix.EISCONN {
		return false
	}
	for sent := 0; sent < len(pingRequest); {
		n, err := unix.Write(fd, pingRequest[sent:])
		if retry(err) {
			continue
		}
		if err != nil {
			return false
		}
		sent += n
	}
	// The answer is one line, proto.Pong from a manager of this version.
	var buf [128]byte
	n := 0
	for n < len(buf) && bytes.IndexByte(buf[:n], '\n') < 0 {
		m, err := unix.Read(fd, buf[n:])
		if retry(err) {
			continue
		}
		if err != nil || m <= 0 {
			return false
		}
		n += m
	}
	return bytes.Contains(buf[:n], []byte("pong"))
}

// orphans lists the children init --user adopted (services of a core that
// died).
func (p *pid1) orphans() []int { return reap.Children(os.Getpid()) }
