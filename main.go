// Command smbox carries every on-board program of sysmaster behind argv[0]
// dispatch: run it through a symlink named for an applet, or as
// `smbox APPLET ARGS...`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	pid1 "github.com/sysmaster-go/sysmaster/init"
	"github.com/sysmaster-go/sysmaster/init/pages"
	"github.com/sysmaster-go/sysmaster/init/sysmon"
)

// An applet is one on-board program.
type applet func(args []string) int

// applets is the table of this build. init is always there; the other
// sets can be left out with build tags (applets_*.go), for a smaller
// smbox on a board that runs without them: smbox_nocore, smbox_nodevmaster,
// smbox_nokmod, smbox_nonetwork, smbox_noexts.
func applets() map[string]applet {
	t := map[string]applet{"init": pid1.Main}
	coreApplets(t)
	devmasterApplets(t)
	kmodApplets(t)
	networkApplets(t)
	extApplets(t)
	return t
}

// resident marks a daemon that stays up for the life of the board: its
// runtime's monitor thread is quieted on one CPU (init/sysmon), it maps
// only the pages of smbox it runs, and frees its start-up's heap once
// settled. Short-lived applets (sctl, modprobe, the exec helper before
// every service) skip the trim, which would only make them fault their
// pages in again; init does the same for itself once /proc is mounted.
func resident(a applet) applet {
	return func(args []string) int {
		_ = sysmon.Quiet(sysmon.Slack)
		pages.Trim()
		pages.FreeLater()
		return a(args)
	}
}

func main() {
	os.Exit(dispatch(os.Args, os.Stdout, os.Stderr))
}

// dispatch runs the applet named by argv[0], or by argv[1] when argv[0] is
// smbox itself.
func dispatch(args []string, stdout, stderr io.Writer) int {
	table := applets()
	name := filepath.Base(args[0])
	if a, ok := table[name]; ok {
		return a(args)
	}
	if name == "smbox" && len(args) > 1 {
		if args[1] == "--list" {
			for _, n := range names(table) {
				fmt.Fprintln(stdout, n)
			}
			return 0
		}
		if a, ok := table[args[1]]; ok {
			return a(args[1:])
		}
		name = args[1]
	}
	fmt.Fprintf(stderr, "smbox: unknown applet %q\napplets: %v\n", name, names(table))
	return 2
}

func names(table map[string]applet) []string {
	out := make([]string, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
