package sctl

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sysmaster-go/sysmaster/core/analyze"
	"github.com/sysmaster-go/sysmaster/core/proto"
)

// analyzeCmds are the views of `sctl analyze VIEW`.
var analyzeCmds = map[string]string{
	"time":           "the kernel's and userspace's part of the boot",
	"blame":          "units by the time they took to start, the slowest first",
	"critical-chain": "the chain of units UNIT (the default target) waited for",
	"plot":           "an SVG chart of the boot, one bar per unit",
}

// analyzeBoot prints view of the boot record b; args are the view's.
func analyzeBoot(b *proto.Boot, view string, args []string, asJSON bool, stdout, stderr io.Writer) int {
	if _, ok := analyzeCmds[view]; !ok {
		var names []string
		for n := range analyzeCmds {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "sctl analyze: unknown view %q (want one of %s)\n", view, strings.Join(names, ", "))
		return 2
	}
	if view != "critical-chain" && len(args) > 0 {
		fmt.Fprintf(stderr, "sctl analyze %s: takes no argument\n", view)
		return 2
	}
	var out any
	switch view {
	case "time":
		t := analyze.BootTimes(b)
		if !asJSON {
			fmt.Fprint(stdout, t)
			if !t.Finished {
				return 1
			}
			return 0
		}
		out = t
	case "blame":
		e := analyze.Blame(b)
		if !asJSON {
			for _, x := range e {
				fmt.Fprintf(stdout, "%10s %s\n", analyze.Format(x.Took), x.Unit)
			}
			return 0
		}
		out = e
	case "critical-chain":
		unit := ""
		if len(args) > 1 {
			fmt.Fprintln(stderr, "sctl analyze critical-chain: at most one unit")
			return 2
		}
		if len(args) == 1 {
			unit = args[0]
			if !strings.Contains(unit, ".") {
				unit += ".service"
			}
		}
		chain, err := analyze.CriticalChain(b, unit)
		if err != nil {
			fmt.Fprintf(stderr, "sctl analyze critical-chain: %v\n", err)
			return 1
		}
		if !asJSON {
			fmt.Fprint(stdout, analyze.FormatChain(chain))
			return 0
		}
		out = chain
	case "plot":
		if !asJSON {
			if err := analyze.Plot(stdout, b); err != nil {
				fmt.Fprintf(stderr, "sctl analyze plot: %v\n", err)
				return 1
			}
			return 0
		}
		out = analyze.NewChart(b)
	}
	data, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintf(stdout, "%s\n", data)
	return 0
}
