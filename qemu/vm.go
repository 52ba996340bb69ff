package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sysmaster-go/sysmaster/board"
)

// tailLines is how much of the console an error carries.
const tailLines = 30

// panicMarker is what the kernel prints on a panic. QEMU exits 0 after one
// (panic=-1 reboots, -no-reboot exits), so the console is the only witness.
const panicMarker = "Kernel panic"

// Options say what to boot and how.
type Options struct {
	Board  *board.Board
	Kernel string
	Initrd string
	// Cmdline is appended to the board's kernel command line.
	Cmdline string
	// Timeout bounds the whole boot: QEMU is killed when it runs out.
	// Zero means no bound besides the context.
	Timeout time.Duration
	// Log, when set, receives each console line with \r removed.
	// It is called from a goroutine that ends before Wait or Kill return.
	Log func(line string)
	// Args are more QEMU arguments, after the board's (devices, say).
	Args []string
	// Monitor opens QEMU's human monitor on a socket, for VM.Monitor
	// (device_add and friends).
	Monitor bool
	// HostForwards reach guest ports from 127.0.0.1, through the board's
	// user-networking -netdev.
	HostForwards []HostForward
}

// VM is a running QEMU whose serial console is read line by line.
type VM struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cancel context.CancelFunc
	ctx    context.Context
	log    func(string)
	stderr bytes.Buffer // QEMU's own messages; written by exec, read after done
	monDir string       // holds the monitor socket; "" without a monitor

	done    chan struct{} // closed once QEMU has exited and output is drained
	waitErr error         // QEMU's exit status, set before done is closed

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every console update
	text    strings.Builder
	lines   []string // complete lines
	partial string   // text after the last newline (a prompt, say)
	cursor  int      // index into lines where the next match starts
	skip    int      // bytes of lines[cursor] (or partial) already matched
}

// Start boots opts.Kernel and opts.Initrd on opts.Board. The caller must
// end the VM with Wait or Kill.
func Start(ctx context.Context, opts Options) (*VM, error) {
	if opts.Board == nil {
		return nil, errors.New("qemu: no board")
	}
	if opts.Kernel == "" {
		return nil, fmt.Errorf("qemu: board %s: no kernel", opts.Board.Name)
	}
	bin, err := exec.LookPath(opts.Board.QEMU.Binary)
	if err != nil {
		return nil, fmt.Errorf("qemu: board %s: %w (run scripts/setup)", opts.Board.Name, err)
	}
	var cancel context.CancelFunc
	if opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	v := &VM{
		ctx:     ctx,
		cancel:  cancel,
		log:     opts.Log,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	qargs, err := withHostForwards(Args(opts.Board, opts.Kernel, opts.Initrd, opts.Cmdline), opts.HostForwards)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("qemu: board %s: %w", opts.Board.Name, err)
	}
	qargs = append(qargs, opts.Args...)
	if opts.Monitor {
		// A short path: socket addresses are limited to 108 bytes.
		if v.monDir, err = os.MkdirTemp("", "qmon"); err != nil {
			cancel()
			return nil, fmt.Errorf("qemu: monitor: %w", err)
		}
		qargs = append(qargs, "-monitor", "unix:"+v.monitorPath()+",server=on,wait=off")
	}
	v.cmd = exec.CommandContext(ctx, bin, qargs...)
	v.cmd.Stdout = consoleWriter{v}
	v.cmd.Stderr = &v.stderr
	// QEMU does not fork, but bound the wait for its output all the same.
	v.cmd.WaitDelay = 5 * time.Second
	if v.stdin, err = v.cmd.StdinPipe(); err != nil {
		cancel()
		return nil, fmt.Errorf("qemu: stdin: %w", err)
	}
	if err := v.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	go v.wait()
	return v, nil
}

func (v *VM) wait() {
	err := v.cmd.Wait()
	v.mu.Lock()
	v.waitErr = err
	rest := v.partial
	v.notify()
	v.mu.Unlock()
	if rest != "" && v.log != nil {
		v.log(rest)
	}
	v.cancel()
	if v.monDir != "" {
		os.RemoveAll(v.monDir)
	}
	close(v.done)
}

// consoleWriter receives QEMU's stdout; exec copies into it from one goroutine.
type consoleWriter struct{ v *VM }

func (w consoleWriter) Write(p []byte) (int, error) {
	v := w.v
	s := strings.ReplaceAll(string(p), "\r", "")
	v.mu.Lock()
	v.text.WriteString(s)
	first := len(v.lines)
	s = v.partial + s
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		v.lines = append(v.lines, s[:i])
		s = s[i+1:]
	}
	v.partial = s
	done := v.lines[first:]
	v.notify()
	v.mu.Unlock()
	// Outside the lock, so that Log may look at the VM.
	if v.log != nil {
		for _, l := range done {
			v.log(l)
		}
	}
	return len(p), nil
}

// notify wakes every waiter; v.mu must be held.
func (v *VM) notify() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// Expect waits until a console line after the previous match contains
// substr and returns that line. A line without a newline yet (a shell
// prompt) counts too. It fails at once on a kernel panic (ErrPanic), when
// QEMU exits first (ErrExited), or after timeout (ErrTimeout).
func (v *VM) Expect(substr string, timeout time.Duration) (string, error) {
	var line string
	err := v.expect(fmt.Sprintf("%q", substr), timeout, func(s string) (int, bool) {
		i := strings.Index(s, substr)
		if i < 0 {
			return 0, false
		}
		return i + len(substr), true
	}, func(l string) { line = l })
	return line, err
}

// ExpectRegexp is Expect with a regular expression matched against each
// line; it returns the submatches as regexp.FindStringSubmatch does.
func (v *VM) ExpectRegexp(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	var m []string
	err := v.expect("/"+re.String()+"/", timeout, func(s string) (int, bool) {
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil {
			return 0, false
		}
		m = make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = s[loc[2*i]:loc[2*i+1]]
			}
		}
		return loc[1], true
	}, func(string) {})
	return m, err
}

// expect scans the console from the cursor with match, which returns where
// in the line the match ends. found receives the whole matching line.
func (v *VM) expect(what string, timeout time.Duration, match func(string) (int, bool), found func(string)) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		v.mu.Lock()
		err, ok := v.scan(what, match, found)
		changed := v.changed
		exited := isClosed(v.done)
		if !ok && exited {
			err, ok = v.failLocked("waiting for "+what, ErrExited), true
		}
		v.mu.Unlock()
		if ok {
			return err
		}
		select {
		case <-changed:
		case <-v.done:
		case <-timer.C:
			v.mu.Lock()
			defer v.mu.Unlock()
			return v.failLocked(fmt.Sprintf("no %s on the console within %v", what, timeout), ErrTimeout)
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// scan looks for a match or a panic from the cursor on; ok is false when
// neither is there yet. v.mu is held.
func (v *VM) scan(what string, match func(string) (int, bool), found func(string)) (err error, ok bool) {
	for i := v.cursor; i <= len(v.lines); i++ {
		line := v.partial
		if i < len(v.lines) {
			line = v.lines[i]
		}
		off := 0
		if i == v.cursor {
			off = min(v.skip, len(line))
		}
		if end, hit := match(line[off:]); hit {
			found(line)
			if i < len(v.lines) && off+end == len(line) {
				v.cursor, v.skip = i+1, 0
			} else {
				v.cursor, v.skip = i, off+end
			}
			return nil, true
		}
		if strings.Contains(line, panicMarker) {
			v.cursor, v.skip = len(v.lines), len(v.partial)
			return v.failLocked("waiting for "+what, ErrPanic), true
		}
	}
	return nil, false
}

// failLocked builds an error of the given kind that carries the end of the
// console and, once QEMU is gone, how it ended. v.mu is held.
func (v *VM) failLocked(what string, kind error) error {
	var detail strings.Builder
	if isClosed(v.done) {
		switch {
		case errors.Is(v.ctx.Err(), context.DeadlineExceeded):
			detail.WriteString(" (killed at the boot timeout)")
		case v.waitErr != nil:
			fmt.Fprintf(&detail, " (%v)", v.waitErr)
		}
		// exec has finished copying stderr once QEMU was waited for.
		if msg := strings.TrimSpace(v.stderr.String()); msg != "" {
			detail.WriteString("\n--- qemu stderr ---\n" + msg)
		}
	}
	detail.WriteString("\n--- console, last lines ---")
	for _, l := range v.lines[max(0, len(v.lines)-tailLines):] {
		detail.WriteString("\n" + l)
	}
	if v.partial != "" {
		detail.WriteString("\n" + v.partial)
	}
	if kind != ErrTimeout && errors.Is(v.ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("qemu: %s: %w (%w)%s", what, kind, ErrTimeout, detail.String())
	}
	return fmt.Errorf("qemu: %s: %w%s", what, kind, detail.String())
}

// Send writes s to the guest console (QEMU's stdin).
func (v *VM) Send(s string) error {
	if _, err := io.WriteString(v.stdin, s); err != nil {
		return fmt.Errorf("qemu: send to console: %w", err)
	}
	return nil
}

// Wait waits for QEMU to exit, killing it after timeout (ErrTimeout). As
// QEMU exits 0 after a kernel panic, a panic on the console is an ErrPanic
// error; otherwise QEMU's own exit error is returned.
func (v *VM) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-v.done:
	case <-timer.C:
		v.Kill()
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.failLocked(fmt.Sprintf("qemu did not exit within %v", timeout), ErrTimeout)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if errors.Is(v.ctx.Err(), context.DeadlineExceeded) {
		return v.failLocked("boot did not finish", ErrTimeout)
	}
	if strings.Contains(v.text.String(), panicMarker) {
		return v.failLocked("exit", ErrPanic)
	}
	if v.waitErr != nil {
		return v.failLocked("exit", v.waitErr)
	}
	return nil
}

// Kill stops QEMU and returns once it has exited and its output is drained.
func (v *VM) Kill() {
	v.cancel()
	<-v.done
}

// Transcript returns everything the console printed so far, \r removed.
func (v *VM) Transcript() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.text.String()
}

// Interactive boots kernel and initrd on b with the console on the
// terminal. The serial port is multiplexed with the QEMU monitor, so
// Ctrl-A X quits and Ctrl-A C switches to the monitor.
func Interactive(ctx context.Context, b *board.Board, kernel, initrd, extraCmdline string) error {
	bin, err := exec.LookPath(b.QEMU.Binary)
	if err != nil {
		return fmt.Errorf("qemu: board %s: %w (run scripts/setup)", b.Name, err)
	}
	cmd := exec.CommandContext(ctx, bin, args(b, kernel, initrd, extraCmdline, "mon:stdio")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("qemu: board %s: %w", b.Name, err)
	}
	return nil
}
