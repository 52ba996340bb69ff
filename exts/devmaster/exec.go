package devmaster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds the output of a RUN program kept for the log, and
// maxLogLine each line logged.
const (
	maxOutput  = 4 << 10
	maxLogLine = 200
)

// defaultPath is the PATH of RUN programs when the device has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runProgram runs argv with the device's properties as its environment,
// killing its process group at the timeout, and logs its output.
func (d *Daemon) runProgram(argv []string, env map[string]string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("RUN: empty command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pathLookup(argv[0]), argv[1:]...)
	cmd.Env = environ(env)
	cmd.Dir = "/"
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Children that keep the output pipe open must not hold up the worker.
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	name := strings.Join(argv, " ")
	sc := bufio.NewScanner(&out.buf)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			if len(line) > maxLogLine {
				line = line[:maxLogLine] + "..."
			}
			d.logf("RUN %s: %s", argv[0], line)
		}
	}
	if out.dropped > 0 {
		d.logf("RUN %s: %d more bytes of output dropped", argv[0], out.dropped)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("RUN %s: killed after %v", name, d.cfg.ExecTimeout)
	}
	if err != nil {
		return fmt.Errorf("RUN %s: %w", name, err)
	}
	d.debugf("RUN %s: done in %v", name, time.Since(start).Round(time.Millisecond))
	return nil
}

// environ turns properties into a sorted environment with a PATH.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	if _, ok := env["PATH"]; !ok {
		out = append(out, "PATH="+defaultPath)
	}
	sort.Strings(out)
	return out
}

// limitedBuffer keeps the first maxOutput bytes written to it. (It
// does not embed bytes.Buffer, whose ReadFrom io.Copy would use instead of
// Write.)
type limitedBuffer struct {
	buf     bytes.Buffer
	dropped int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := maxOutput - b.buf.Len(); len(p) > room {
		b.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	b.buf.Write(p)
	return n, nil
}

// pathLookup resolves a bare command name against defaultPath, as the
// environment of devmaster itself may have none.
func pathLookup(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, dir := range strings.Split(defaultPath, ":") {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}
