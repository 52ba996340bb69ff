package sctl

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sysmaster-go/sysmaster/core/proto"
)

// render prints what a query answered: as JSON when asked, else as the
// text systemctl users know.
func render(w io.Writer, cmd string, r proto.Response, asJSON bool) {
	var data any
	switch cmd {
	case "status", "list-units":
		data = r.Units
	case "list-jobs":
		data = r.JobList
	case "list-timers":
		data = r.Timers
	default:
		for _, j := range r.Jobs {
			fmt.Fprintf(w, "job %d %s %s: %s\n", j.ID, j.Type, j.Unit, j.Result)
		}
		return
	}
	if asJSON {
		b, _ := json.MarshalIndent(data, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	switch cmd {
	case "status":
		renderStatus(w, r.Units)
	case "list-units":
		renderUnits(w, r.Units)
	case "list-jobs":
		renderJobs(w, r.JobList)
	case "list-timers":
		renderTimers(w, r.Timers, time.Now())
	}
}

func renderStatus(w io.Writer, sts []proto.UnitStatus) {
	var b strings.Builder
	for _, st := range sts {
		fmt.Fprintf(&b, "* %s - %s\n", st.Name, st.Description)
		switch {
		case st.Load == "masked":
			b.WriteString("    Loaded: masked\n")
		case st.Error != "":
			fmt.Fprintf(&b, "    Loaded: bad-setting\n     Error: %s\n", st.Error)
		default:
			fmt.Fprintf(&b, "    Loaded: loaded (%s)\n", st.Path)
		}
		fmt.Fprintf(&b, "    Active: %s (%s)", st.Active, st.Sub)
		if st.Since != "" {
			fmt.Fprintf(&b, " since %s", st.Since)
		}
		b.WriteString("\n")
		if st.MainPID > 0 {
			fmt.Fprintf(&b, "  Main PID: %d\n", st.MainPID)
		}
		if st.Status != "" {
			fmt.Fprintf(&b, "    Status: %q\n", st.Status)
		}
		if len(st.Processes) > 0 {
			fmt.Fprintf(&b, "     Tasks: %d", len(st.Processes))
			if st.Cgroup != "" {
				fmt.Fprintf(&b, " (cgroup %s)", st.Cgroup)
			}
			b.WriteString("\n")
			for _, p := range st.Processes {
				fmt.Fprintf(&b, "            %d %s\n", p.PID, p.Cmdline)
			}
		}
		if st.Result != "" && st.Result != "success" {
			fmt.Fprintf(&b, "    Result: %s\n", st.Result)
		}
		if st.Restarts > 0 {
			fmt.Fprintf(&b, "  Restarts: %d\n", st.Restarts)
		}
		if len(st.Log) > 0 {
			b.WriteString("\n")
			for _, l := range st.Log {
				b.WriteString(l + "\n")
			}
		}
	}
	io.WriteString(w, b.String())
}

func renderUnits(w io.Writer, sts []proto.UnitStatus) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tLOAD\tACTIVE\tSUB\tDESCRIPTION")
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Name, st.Load, st.Active, st.Sub, st.Description)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d units listed.\n", len(sts))
}

func renderJobs(w io.Writer, jobs []proto.JobInfo) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "No jobs running.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tUNIT\tTYPE\tSTATE")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", j.ID, j.Unit, j.Type, j.State)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d jobs listed.\n", len(jobs))
}

func renderTimers(w io.Writer, ts []proto.TimerInfo, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NEXT\tLEFT\tLAST\tPASSED\tUNIT\tACTIVATES")
	for _, t := range ts {
		next, left, last, passed := "-", "-", "-", "-"
		if at, err := time.Parse(time.RFC3339Nano, t.Next); err == nil {
			next, left = at.Format("2006-01-02 15:04:05"), at.Sub(now).Round(time.Second).String()
		}
		if at, err := time.Parse(time.RFC3339Nano, t.Last); err == nil {
			last, passed = at.Format("2006-01-02 15:04:05"), now.Sub(at).Round(time.Second).String()+" ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", next, left, last, passed, t.Unit, t.Activates)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d timers listed.\n", len(ts))
}
