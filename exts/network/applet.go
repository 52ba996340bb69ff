package network

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sysmaster-go/sysmaster/core/notify"
	"github.com/sysmaster-go/sysmaster/exts/network/config"
)

// Main is the netmaster applet.
func Main(args []string) int {
	logger := log.New(os.Stderr, "netmaster: ", 0)
	fs := flag.NewFlagSet("netmaster", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	cfg := Config{Logf: logger.Printf}
	fs.StringVar(&cfg.ConfigDir, "config", config.Dir, "directory of network files (*.toml)")
	fs.StringVar(&cfg.RunDir, "run", DefaultRunDir, "directory for the control socket and lease records")
	fs.StringVar(&cfg.ResolvConf, "resolv-conf", "/etc/resolv.conf", "resolv.conf to write (\"\" leaves it alone)")
	fs.StringVar(&cfg.SysDir, "sys", "/sys", "sysfs")
	fs.StringVar(&cfg.MachineID, "machine-id", "/etc/machine-id", "machine id, for the DHCPv6 DUID (\"\" takes it from the MAC)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if h, err := os.Hostname(); err == nil && h != "" && h != "(none)" && h != "localhost" {
		cfg.Hostname = h
	}
	// A log pipe whose reader is gone (core crashed and is coming back)
	// costs log lines, not the network manager.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	m := New(cfg)
	err := m.Run(ctx, func() {
		last := onlineStatus(m)
		if _, err := notify.Notify("READY=1\nSTATUS=" + last); err != nil {
			logger.Print(err)
		}
		logger.Print("configuration applied")
		// Keep the manager's status line (sctl status) current.
		go func() {
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if s := onlineStatus(m); s != last {
					last = s
					_, _ = notify.Notify("STATUS=" + s)
				}
			}
		}()
	})
	if err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

func onlineStatus(m *Manager) string {
	if ok, waiting := m.online(); !ok {
		return "configured; waiting for " + strings.Join(waiting, "; ")
	}
	return "online"
}

// CtlMain is the netctl applet.
func CtlMain(args []string) int { return ctl(args, os.Stdout, os.Stderr) }

const ctlUsage = `usage: netctl [--socket PATH] [--json] COMMAND
  status [IFACE]            addresses, lease, gateway, DNS and state
  renew IFACE               renew the DHCP lease now
  wait-online [--timeout D] wait until every required interface has an address
`

func ctl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	socket := fs.String("socket", filepath.Join(DefaultRunDir, SocketName), "netmaster's control socket")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		rest = []string{"status"}
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "netctl: "+format+"\n", a...)
		return 1
	}
	switch rest[0] {
	case "status":
		if len(rest) > 2 {
			fmt.Fprint(stderr, ctlUsage)
			return 2
		}
		req := Request{Cmd: "status"}
		if len(rest) == 2 {
			req.Iface = rest[1]
		}
		resp, err := Ask(*socket, req, 5*time.Second)
		if err != nil {
			return fail("%v", err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(resp)
		} else {
			printStatus(stdout, resp, req.Iface == "")
		}
		if resp.Error != "" {
			return fail("%s", resp.Error)
		}
		return 0
	case "renew":
		if len(rest) != 2 {
			fmt.Fprint(stderr, ctlUsage)
			return 2
		}
		resp, err := Ask(*socket, Request{Cmd: "renew", Iface: rest[1]}, 5*time.Second)
		if err != nil {
			return fail("%v", err)
		}
		if resp.Error != "" {
			return fail("%s", resp.Error)
		}
		return 0
	case "wait-online":
		wf := flag.NewFlagSet("wait-online", flag.ContinueOnError)
		wf.SetOutput(stderr)
		timeout := wf.Duration("timeout", 60*time.Second, "give up after this long")
		if err := wf.Parse(rest[1:]); err != nil {
			return 2
		}
		return waitOnline(*socket, *timeout, stdout, stderr)
	}
	fmt.Fprintf(stderr, "netctl: unknown command %q\n%s", rest[0], ctlUsage)
	return 2
}

// waitOnline asks netmaster until it is online; netmaster may not be
// there yet, or be restarting.
func waitOnline(socket string, timeout time.Duration, stdout, stderr io.Writer) int {
	deadline := time.Now().Add(timeout)
	why := "netmaster did not answer"
	for {
		resp, err := Ask(socket, Request{Cmd: "online"}, time.Second)
		switch {
		case err != nil:
			why = err.Error()
		case resp.Online:
			fmt.Fprintln(stdout, "netctl: online")
			return 0
		default:
			why = strings.Join(resp.Waiting, "; ")
		}
		if !time.Now().Before(deadline) {
			fmt.Fprintf(stderr, "netctl: not online after %s: %s\n", timeout, why)
			return 1
		}
		time.Sleep(min(250*time.Millisecond, time.Until(deadline)))
	}
}

func printStatus(w io.Writer, resp *Response, all bool) {
	for _, e := range resp.ConfigErrors {
		fmt.Fprintf(w, "bad file: %s\n", e)
	}
	for _, s := range resp.Interfaces {
		carrier := "carrier"
		if !s.Carrier {
			carrier = "no carrier"
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", s.Name, s.State, carrier)
		line := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "  %-9s %s\n", k+":", v)
			}
		}
		cfg := s.Config
		if s.Required && cfg != "" {
			cfg += " (required)"
		}
		line("config", cfg)
		line("error", s.Error)
		line("mac", s.MAC)
		for _, a := range s.Addresses {
			line("address", a)
		}
		line("gateway", strings.Join(s.Gateway, " "))
		line("dns", strings.Join(s.DNS, " "))
		line("domains", strings.Join(s.Domains, " "))
		if s.DHCP != "" {
			d := s.DHCP
			if s.DHCPNote != "" {
				d += ": " + s.DHCPNote
			}
			line("dhcp", d)
		}
		if l := s.Lease; l != nil {
			line("lease", fmt.Sprintf("%s from %s, renew in %s, expires in %s", l.Address, l.Server,
				time.Until(l.Renew).Round(time.Second), time.Until(l.Expires).Round(time.Second)))
		}
		if s.DHCP6 != "" {
			d := s.DHCP6
			if s.DHCP6Note != "" {
				d += ": " + s.DHCP6Note
			}
			line("dhcp6", d)
		}
		if l := s.Lease6; l != nil {
			line("lease6", fmt.Sprintf("%s from %s (DUID %s), renew in %s, expires in %s", l.Address, l.Server, l.ServerID,
				time.Until(l.Renew).Round(time.Second), time.Until(l.Expires).Round(time.Second)))
		}
	}
	if all {
		if resp.Online {
			fmt.Fprintln(w, "online: yes")
		} else {
			fmt.Fprintf(w, "online: no (%s)\n", strings.Join(resp.Waiting, "; "))
		}
	}
}
