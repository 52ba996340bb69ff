package core_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sysmaster-go/sysmaster/core/notify"
)

// serviceRole runs the test binary as a service of the kind the tests ask
// for, and returns its exit code.
func serviceRole(role string) int {
	sock := os.Getenv("NOTIFY_SOCKET")
	switch role {
	case "notify":
		notify.Send(sock, "STATUS=warming up")
		time.Sleep(300 * time.Millisecond)
		notify.Send(sock, "READY=1\nSTATUS=serving")
		select {}
	case "notify-never":
		select {}
	case "watchdog":
		// Pets the watchdog for a while, then hangs.
		notify.Send(sock, "READY=1")
		for i := 0; i < 5; i++ {
			time.Sleep(100 * time.Millisecond)
			notify.Send(sock, "WATCHDOG=1")
		}
		select {}
	case "hold-conns":
		// Opens SM_CONNS connections to the control socket and keeps them
		// idle until stdin has a line, then prints what each was told.
		n, _ := strconv.Atoi(os.Getenv("SM_CONNS"))
		var held []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.Dial("unix", os.Getenv("SM_SOCKET"))
			if err != nil {
				fmt.Println("dial:", err)
				return 1
			}
			held = append(held, c)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n')
		for _, c := range held {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Print(strings.TrimSpace(line) + "\n")
		}
		return 0
	case "socket":
		// Socket activation: fd 3 is the listening socket, LISTEN_PID is us.
		if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "1" {
			fmt.Fprintf(os.Stderr, "bad activation env: LISTEN_PID=%s LISTEN_FDS=%s pid=%d\n",
				os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getpid())
			return 3
		}
		l, err := net.FileListener(os.NewFile(3, "listen"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		for {
			c, err := l.Accept()
			if err != nil {
				return 5
			}
			fmt.Fprintf(c, "hello from %d (%s)\n", os.Getpid(), os.Getenv("LISTEN_FDNAMES"))
			c.Close()
		}
	}
	fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
	return 2
}
