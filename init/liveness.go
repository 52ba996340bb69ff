package pid1

import (
	"bufio"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysmaster-go/sysmaster/core/reap"
)

// defaultLiveness is how often init asks core whether it still answers; a
// core that misses livenessMisses checks in a row is hung and is killed,
// so it restarts like a crashed one.
const (
	defaultLiveness = 10 * time.Second
	livenessMisses  = 3
)

// watchCore pings core over its control socket. It runs on its own
// goroutine and only posts to init's loop.
func (p *pid1) watchCore() {
	misses := 0
	for {
		time.Sleep(p.liveness)
		ok := ping(p.socket, p.liveness)
		done := make(chan int, 1)
		p.timers <- func() { done <- p.corePID }
		pid := <-done
		if pid != 0 && ok {
			p.timers <- p.coreAlive
		}
		if pid == 0 || ok {
			misses = 0
			continue
		}
		misses++
		if misses < livenessMisses {
			continue
		}
		misses = 0
		p.timers <- func() {
			if p.corePID == pid && p.shutdown == "" {
				p.logf("core (pid %d) does not answer on %s; killing it", pid, p.socket)
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// ping sends the control protocol's ping and waits for any answer.
func ping(socket string, timeout time.Duration) bool {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(`{"cmd":"ping"}` + "\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.Contains(line, "pong")
}

// orphans lists the children init --user adopted (services of a core that
// died).
func (p *pid1) orphans() []int { return reap.Children(os.Getpid()) }
