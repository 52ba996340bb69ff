package pid1

import (
	"fmt"
	"strconv"
	"strings"
)

// Options are init's settings from the kernel command line.
type Options struct {
	// OnFailure is what init does when core cannot run at all.
	OnFailure string
	// Core is the path of the core binary.
	Core string
	// Hostname is systemd.hostname=, checked when it is set.
	Hostname string
	// Root is the real root a first-stage initramfs switches to.
	Root RootSpec
	// FaultAround is sysmaster.fault_around=BYTES, the kernel's
	// fault_around_bytes for the whole system; 0 when not given, which
	// means defaultFaultAround.
	FaultAround int
	// Masked are the units of sysmaster.mask= (or systemd.mask=), masked
	// for this boot: core gets them as --mask.
	Masked []string
}

// onFailureActions are the values of sysmaster.on_failure=.
var onFailureActions = []string{"poweroff", "reboot", "shell", "hang"}

// ParseCmdline reads init's options from a kernel command line. Unknown
// values are reported and replaced by the default.
func ParseCmdline(cmdline string) (Options, []string) {
	o := Options{OnFailure: "poweroff", Core: "/sbin/sysmaster"}
	var warnings []string
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "sysmaster.on_failure":
			ok := false
			for _, a := range onFailureActions {
				ok = ok || a == v
			}
			if !ok {
				warnings = append(warnings, fmt.Sprintf("sysmaster.on_failure=%q: want one of %s; using %s", v, strings.Join(onFailureActions, ", "), o.OnFailure))
				continue
			}
			o.OnFailure = v
		case "systemd.hostname":
			o.Hostname = v
		case "root":
			o.Root.Device = v
		case "rootfstype":
			o.Root.FSType = v
		case "rootflags":
			o.Root.Flags = v
		case "init":
			o.Root.Init = v
		case "sysmaster.fault_around":
			n, err := strconv.Atoi(v)
			if err != nil || n < 4096 || n > 65536 || n&(n-1) != 0 {
				warnings = append(warnings, fmt.Sprintf("sysmaster.fault_around=%q: want a power of two from 4096 to 65536 bytes; using %d", v, defaultFaultAround))
				continue
			}
			o.FaultAround = n
		case "sysmaster.mask", "systemd.mask":
			// UNIT[,UNIT...]; core checks each name.
			for _, n := range strings.Split(v, ",") {
				if n != "" {
					o.Masked = append(o.Masked, n)
				}
			}
		case "sysmaster.core":
			if strings.HasPrefix(v, "/") {
				o.Core = v
			} else {
				warnings = append(warnings, fmt.Sprintf("sysmaster.core=%q: not an absolute path; using %s", v, o.Core))
			}
		}
	}
	return o, warnings
}
