package kmod

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestApplet(t *testing.T) {
	tests := []struct {
		name       string
		args       []string // after modprobe -d ROOT -S VERSION
		preloaded  []string
		config     string // /etc/modprobe.d/zz.toml
		wantCode   int
		wantStdout string // DIR stands for the module tree
		wantStderr []string
		wantLoaded string
		wantParams map[string]string
	}{
		{name: "load", args: []string{"virtio_net"}, wantLoaded: "virtio virtio_ring failover net_failover virtio_net"},
		{name: "parameters", args: []string{"virtio_net", "mtu=9000", "debug=-1"},
			wantLoaded: "virtio virtio_ring failover net_failover virtio_net",
			wantParams: map[string]string{"virtio_net": "napi_tx=1 mtu=9000 debug=-1", "virtio": ""}},
		{name: "verbose", args: []string{"-v", "virtio_rng"}, preloaded: []string{"virtio"},
			wantStdout: "insmod DIR/kernel/drivers/virtio/virtio_ring.ko\ninsmod DIR/kernel/drivers/char/hw_random/virtio-rng.ko.zst\n",
			wantLoaded: "virtio_ring virtio_rng"},
		{name: "dry run", args: []string{"-nv", "xt_LOG"},
			wantStdout: "insmod DIR/kernel/net/netfilter/nf_log_syslog.ko\ninsmod DIR/kernel/net/netfilter/xt_LOG.ko\n"},
		{name: "all", args: []string{"-a", "xt_LOG", "md5"}, wantLoaded: "nf_log_syslog xt_LOG md5"},
		{name: "options after names", args: []string{"xt_LOG", "--verbose"},
			wantStdout: "insmod DIR/kernel/net/netfilter/nf_log_syslog.ko\ninsmod DIR/kernel/net/netfilter/xt_LOG.ko\n",
			wantLoaded: "nf_log_syslog xt_LOG"},
		{name: "built in", args: []string{"ext4"}},
		{name: "loaded already", args: []string{"md5"}, preloaded: []string{"md5"}},
		{name: "unknown", args: []string{"foo"}, wantCode: 1,
			wantStderr: []string{"modprobe: FATAL: module foo not found in directory DIR\n"}},
		{name: "unknown, quiet", args: []string{"-q", "foo"}, wantCode: 1},
		{name: "one of all unknown", args: []string{"-a", "foo", "md5"}, wantCode: 1, wantLoaded: "md5",
			wantStderr: []string{"module foo not found"}},
		{name: "show depends", args: []string{"--show-depends", "virtio_net", "mtu=1"}, preloaded: []string{"virtio"},
			wantStdout: "insmod DIR/kernel/drivers/virtio/virtio.ko\ninsmod DIR/kernel/drivers/virtio/virtio_ring.ko\n" +
				"insmod DIR/kernel/net/core/failover.ko\ninsmod DIR/kernel/drivers/net/net_failover.ko\n" +
				"insmod DIR/kernel/drivers/net/virtio_net.ko.xz napi_tx=1 mtu=1\n"},
		{name: "show depends of a built-in", args: []string{"-D", "fs-ext4"}, wantStdout: "builtin ext4\n"},
		{name: "remove", args: []string{"-r", "-v", "virtio_rng"}, preloaded: []string{"virtio", "virtio_ring", "virtio_rng"},
			wantStdout: "rmmod virtio_rng\nrmmod virtio_ring\nrmmod virtio\n"},
		{name: "remove in use", args: []string{"-r", "virtio"}, preloaded: []string{"virtio", "virtio_ring"}, wantCode: 1,
			wantStderr: []string{"modprobe: ERROR: removing module virtio: in use"}},
		{name: "remove built-in", args: []string{"-r", "ext4"}, wantCode: 1, wantStderr: []string{"ext4", "built into the kernel"}},
		{name: "bad config", args: []string{"md5"}, config: "[options]\nmd5 = 1\n", wantCode: 1,
			wantStderr: []string{"modprobe: FATAL: ", "zz.toml:2: options.md5: incompatible types"}},
		{name: "help", args: []string{"--help"}, wantStdout: usage},
		{name: "no module", args: nil, wantCode: 2, wantStderr: []string{"no module given", "usage:"}},
		{name: "unknown option", args: []string{"-x", "md5"}, wantCode: 2, wantStderr: []string{"unknown option -x"}},
		{name: "unknown long option", args: []string{"--frob", "md5"}, wantCode: 2, wantStderr: []string{"unknown option --frob"}},
		{name: "value for a flag", args: []string{"--all=yes", "md5"}, wantCode: 2, wantStderr: []string{"--all takes no value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, dir := fixtureTree(t)
			if tt.config != "" {
				writeTestFile(t, filepath.Join(root, "etc", "modprobe.d", "zz.toml"), []byte(tt.config))
			}
			k := newFakeKernel(tt.preloaded...)
			var stdout, stderr bytes.Buffer
			args := append([]string{"modprobe", "-d", root, "-S", fixtureVersion}, tt.args...)
			code := run(args, &stdout, &stderr, k, WithKernelCmdline(""),
				WithConfigDirs(filepath.Join(root, "etc", "modprobe.d")))
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if want := strings.ReplaceAll(tt.wantStdout, "DIR", dir); stdout.String() != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
			}
			for _, w := range tt.wantStderr {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if len(tt.wantStderr) == 0 && tt.wantCode != 2 && stderr.Len() > 0 {
				t.Errorf("stderr:\n%s", stderr.String())
			}
			if got := joined(k.loadOrder()); got != tt.wantLoaded {
				t.Errorf("loaded %q, want %q", got, tt.wantLoaded)
			}
			for m, p := range tt.wantParams {
				if k.params[m] != p {
					t.Errorf("%s loaded with %q, want %q", m, k.params[m], p)
				}
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want invocation
	}{
		{[]string{"-S6.1", "-d", "/r", "a", "x=1"}, invocation{version: "6.1", root: "/r", args: []string{"a", "x=1"}}},
		{[]string{"--set-version=6.1", "--dirname", "/r", "-qva", "a"}, invocation{version: "6.1", root: "/r", quiet: true, verbose: true, all: true, args: []string{"a"}}},
		{[]string{"-rn", "--", "-a"}, invocation{remove: true, dryRun: true, args: []string{"-a"}}},
		{[]string{"--show", "--show-depends", "a"}, invocation{dryRun: true, showDepends: true, args: []string{"a"}}},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, *got, tt.want)
		}
	}
	for _, bad := range [][]string{{"-S"}, {"--dirname"}, {"-z"}, {"--nope"}, {"--quiet=1"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) took it", bad)
		}
	}
}
