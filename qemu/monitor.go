package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

const monitorPrompt = "(qemu) "

func (v *VM) monitorPath() string { return filepath.Join(v.monDir, "mon.sock") }

// Monitor runs one command of QEMU's human monitor, such as
// "device_add virtio-blk-pci,drive=d1", and returns what it printed.
// The VM must have been started with Options.Monitor.
func (v *VM) Monitor(cmd string) (string, error) {
	if v.monDir == "" {
		return "", errors.New("qemu: started without a monitor")
	}
	c, err := net.DialTimeout("unix", v.monitorPath(), 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("qemu: monitor: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := readPrompt(c); err != nil {
		return "", fmt.Errorf("qemu: monitor: %w", err)
	}
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", fmt.Errorf("qemu: monitor %q: %w", cmd, err)
	}
	out, err := readPrompt(c)
	if err != nil {
		return "", fmt.Errorf("qemu: monitor %q: %w", cmd, err)
	}
	// The monitor echoes the command line with terminal escapes; the
	// answer is what follows it.
	if i := strings.Index(out, "\n"); i >= 0 {
		out = out[i+1:]
	}
	return strings.TrimSpace(strings.ReplaceAll(out, "\r", "")), nil
}

// readPrompt reads up to the monitor's next prompt.
func readPrompt(c net.Conn) (string, error) {
	var buf bytes.Buffer
	b := make([]byte, 4096)
	for !bytes.HasSuffix(buf.Bytes(), []byte(monitorPrompt)) {
		n, err := c.Read(b)
		buf.Write(b[:n])
		if err != nil {
			return buf.String(), err
		}
	}
	return strings.TrimSuffix(buf.String(), monitorPrompt), nil
}
