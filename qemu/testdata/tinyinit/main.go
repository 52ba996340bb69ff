// Command tinyinit is the smallest useful /init for boot tests: it says
// hello on the console and powers the machine off.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	// The kernel hands init /dev/console as fds 0-2 when the initramfs has
	// it; otherwise mount devtmpfs (Debian kernels do not) and open it here.
	if _, err := unix.FcntlInt(1, unix.F_GETFD, 0); err != nil {
		_ = os.Mkdir("/dev", 0o755)
		if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err == nil {
			if f, err := os.OpenFile("/dev/console", os.O_RDWR, 0); err == nil {
				os.Stdout, os.Stderr = f, f
			}
		}
	}
	fmt.Printf("tinyinit: hello from pid %d\n", os.Getpid())
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		// Returning from init panics the kernel; with panic=-1 and
		// -no-reboot QEMU still exits, and the test sees the panic.
		fmt.Fprintf(os.Stderr, "tinyinit: power off: %v\n", err)
	}
}
