package qemu_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/board"
	"github.com/sysmaster-go/sysmaster/qemu"
)

func TestArgs(t *testing.T) {
	custom := &board.Board{
		Name:    "custom",
		Cmdline: "",
		QEMU: board.QEMU{
			Binary:  "qemu-system-riscv64",
			Machine: "virt",
			Args:    []string{"-device", "virtio-rng-device"},
		},
	}
	tests := []struct {
		board  string
		b      *board.Board
		initrd string
		extra  string
		kvm    bool
		want   []string
	}{
		{
			board:  "qemu-x86_64",
			initrd: "/i",
			want: []string{
				"-M", "q35", "-cpu", "qemu64", "-m", "512M", "-smp", "1", "-accel", "tcg",
				"-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio",
				"-kernel", "/k", "-initrd", "/i",
				"-append", "console=ttyS0 rdinit=/init panic=-1 quiet",
				"-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
				"-device", "virtio-rng-pci",
				"-device", "virtio-serial-pci", "-chardev", "null,id=port0",
				"-device", "virtserialport,chardev=port0,name=org.sysmaster.port0",
				"-device", "pcie-root-port,id=hotplug0,chassis=1",
			},
		},
		{
			board:  "qemu-aarch64",
			initrd: "/i",
			extra:  "sysmaster.debug=1",
			want: []string{
				"-M", "virt", "-cpu", "cortex-a57", "-m", "512M", "-smp", "1", "-accel", "tcg",
				"-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio",
				"-kernel", "/k", "-initrd", "/i",
				"-append", "console=ttyAMA0 rdinit=/init panic=-1 quiet sysmaster.debug=1",
				"-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
				"-device", "virtio-rng-pci",
				"-device", "virtio-serial-pci", "-chardev", "null,id=port0",
				"-device", "virtserialport,chardev=port0,name=org.sysmaster.port0",
				"-device", "pcie-root-port,id=hotplug0,chassis=1",
			},
		},
		{
			board: "qemu-x86_64",
			kvm:   true,
			want: []string{
				"-M", "q35", "-cpu", "qemu64", "-m", "512M", "-smp", "1", "-accel", "kvm",
				"-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio",
				"-kernel", "/k",
				"-append", "console=ttyS0 rdinit=/init panic=-1 quiet",
				"-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
				"-device", "virtio-rng-pci",
				"-device", "virtio-serial-pci", "-chardev", "null,id=port0",
				"-device", "virtserialport,chardev=port0,name=org.sysmaster.port0",
				"-device", "pcie-root-port,id=hotplug0,chassis=1",
			},
		},
		{
			b:     custom,
			extra: " rdinit=/x ",
			want: []string{
				"-M", "virt", "-m", "512M", "-smp", "1", "-accel", "tcg",
				"-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio",
				"-kernel", "/k", "-append", "rdinit=/x",
				"-device", "virtio-rng-device",
			},
		},
	}
	for _, tt := range tests {
		b := tt.b
		if b == nil {
			var err error
			if b, err = board.Load(tt.board); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(b.Name, func(t *testing.T) {
			if tt.kvm {
				t.Setenv("SYSMASTER_KVM", "1")
			} else {
				t.Setenv("SYSMASTER_KVM", "")
			}
			got := qemu.Args(b, "/k", tt.initrd, tt.extra)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Every built-in board's arguments must keep the essentials of a headless,
// bounded boot.
func TestArgsAllBoards(t *testing.T) {
	t.Setenv("SYSMASTER_KVM", "")
	for _, name := range board.Names() {
		b, err := board.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		got := qemu.Args(b, "/k", "/i", "")
		for _, want := range [][]string{
			{"-accel", "tcg"}, {"-nodefaults"}, {"-no-reboot"}, {"-serial", "stdio"},
			{"-display", "none"}, {"-kernel", "/k"}, {"-initrd", "/i"},
		} {
			if !containsSeq(got, want) {
				t.Errorf("%s: Args %q lack %q", name, got, want)
			}
		}
	}
}

func containsSeq(s, seq []string) bool {
	for i := 0; i+len(seq) <= len(s); i++ {
		if slices.Equal(s[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func TestHostForwards(t *testing.T) {
	b, err := board.Load("qemu-aarch64")
	if err != nil {
		t.Fatal(err)
	}
	args := qemu.Args(b, "/k", "/i", "")
	got, err := qemu.WithHostForwards(args, []qemu.HostForward{{HostPort: 2222, GuestPort: 22}, {HostPort: 8080, GuestPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	if !containsSeq(got, []string{"-netdev", "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80"}) {
		t.Errorf("no forwards on the user netdev: %q", got)
	}
	if !slices.Equal(qemu.Args(b, "/k", "/i", ""), args) {
		t.Error("the board's arguments changed")
	}
	if _, err := qemu.WithHostForwards(args, []qemu.HostForward{{HostPort: 0, GuestPort: 22}}); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := qemu.WithHostForwards([]string{"-netdev", "tap,id=n"}, []qemu.HostForward{{HostPort: 2222, GuestPort: 22}}); err == nil || !strings.Contains(err.Error(), "no user-networking") {
		t.Errorf("no user netdev: %v", err)
	}
}
