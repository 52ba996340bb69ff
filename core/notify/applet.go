package notify

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// Main is the notify applet, systemd-notify for shell-script services:
// `notify --ready --status="serving" [KEY=VALUE...]` sends one message to
// $NOTIFY_SOCKET. The sender is this process, so the service needs
// NotifyAccess="all".
func Main(args []string) int {
	fs := flag.NewFlagSet("notify", flag.ContinueOnError)
	ready := fs.Bool("ready", false, "send READY=1")
	reloading := fs.Bool("reloading", false, "send RELOADING=1")
	stopping := fs.Bool("stopping", false, "send STOPPING=1")
	status := fs.String("status", "", "send STATUS=`TEXT`")
	mainPID := fs.Int("pid", 0, "send MAINPID=`PID`")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var lines []string
	for _, f := range []struct {
		on   bool
		line string
	}{
		{*ready, "READY=1"}, {*reloading, "RELOADING=1"}, {*stopping, "STOPPING=1"},
		{*status != "", "STATUS=" + *status}, {*mainPID > 0, fmt.Sprintf("MAINPID=%d", *mainPID)},
	} {
		if f.on {
			lines = append(lines, f.line)
		}
	}
	for _, a := range fs.Args() {
		if !strings.Contains(a, "=") {
			fmt.Fprintf(os.Stderr, "notify: %q is not KEY=VALUE\n", a)
			return 2
		}
		lines = append(lines, a)
	}
	if len(lines) == 0 {
		fmt.Fprintln(os.Stderr, "notify: nothing to send (try --ready)")
		return 2
	}
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		fmt.Fprintln(os.Stderr, "notify: NOTIFY_SOCKET is not set")
		return 1
	}
	if err := SendAndWait(sock, strings.Join(lines, "\n"), 5*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "notify: %v\n", err)
		return 1
	}
	return 0
}
