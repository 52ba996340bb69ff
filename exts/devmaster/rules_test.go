package devmaster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysmaster-go/sysmaster/exts/devmaster/rules"
)

// withRules writes the default rules and a local file into the tree's
// rules directory; the local file runs a program that writes to out.
func (tr *tree) withRules(out string) {
	tr.t.Helper()
	tr.write(filepath.Join(tr.rules, rules.DefaultName), string(rules.Default()))
	local := fmt.Sprintf(`
[[rule]]
subsystem = "tty"
kernel = "ttyS[0-9]*"
owner = "%d"
group = "%d"
mode = "0620"
symlink = ["serial/by-name/console-$number"]
set_env = { SERIAL_PORT = "yes" }
run = ["/bin/sh", "-c", "echo $$DEVNAME $$SERIAL_PORT $$ACTION >> %s"]
start = ["serial-getty@$kernel.service"]
`, os.Getuid(), os.Getgid(), out)
	tr.write(filepath.Join(tr.rules, "60-local.toml"), local)
}

func readlink(t *testing.T, p string) string {
	t.Helper()
	target, err := os.Readlink(p)
	if err != nil {
		t.Error(err)
	}
	return target
}

func TestRulesActions(t *testing.T) {
	tr := newTree(t)
	tr.board()
	out := filepath.Join(t.TempDir(), "run.out")
	tr.withRules(out)
	h := start(t, tr, true, coldplug)
	h.ready()

	// Links of the disk and its partition, from the default rules.
	links := map[string]string{
		"disk/by-uuid/" + rootUUIDString:  "../../vda1",
		`disk/by-label/root\x20fs`:        "../../vda1",
		"disk/by-id/virtio-QM00001":       "../../vda",
		"disk/by-id/virtio-QM00001-part1": "../../vda1",
		"serial/by-name/console-1":        "../../ttyS1",
	}
	for l, want := range links {
		if got := readlink(t, filepath.Join(tr.dev, l)); got != want {
			t.Errorf("%s -> %q, want %q", l, got, want)
		}
	}
	rec, err := h.d.host.db.read("b254:1")
	if err != nil {
		t.Fatal(err)
	}
	wantLinks := []string{"disk/by-id/virtio-QM00001-part1", `disk/by-label/root\x20fs`, "disk/by-uuid/" + rootUUIDString}
	if !slices.Equal(rec.Links, wantLinks) || rec.Env["ID_FS_TYPE"] != "ext4" || rec.Env["ID_SERIAL"] != "QM00001" {
		t.Errorf("database of vda1: %+v", rec)
	}
	c, _ := h.mgr.find(tr.sys + "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1")
	slices.Sort(c.links)
	if c.action != "add" || len(c.links) != 3 || c.links[0] != filepath.Join(tr.dev, wantLinks[0]) {
		t.Errorf("manager got %+v", c)
	}

	// The serial port: access, program, unit.
	fi, err := os.Stat(filepath.Join(tr.dev, "ttyS1"))
	if err != nil || fi.Mode().Perm() != 0o620 {
		t.Errorf("ttyS1 mode: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(out); string(b) != "/dev/ttyS1 yes add\n" {
		t.Errorf("program wrote %q", b)
	}
	if units := h.mgr.started(); !slices.Equal(units, []string{"serial-getty@ttyS1.service"}) {
		t.Errorf("units started: %v", units)
	}

	// A change drops the links the rules no longer make.
	tty, err := h.d.host.db.read("c4:65")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addLink(tr.dev, "old/console", filepath.Join(tr.dev, "ttyS1")); err != nil {
		t.Fatal(err)
	}
	tty.Links = append(tty.Links, "old/console")
	if err := h.d.host.db.write("c4:65", tty); err != nil {
		t.Fatal(err)
	}
	change := recorded(t, "tty-ttyS1-add.txt")
	change.Action, change.Env["ACTION"] = "change", "change"
	h.settle(change)
	if _, err := os.Lstat(filepath.Join(tr.dev, "old")); !os.IsNotExist(err) {
		t.Errorf("stale link left: %v", err)
	}
	if readlink(t, filepath.Join(tr.dev, "serial/by-name/console-1")) != "../../ttyS1" {
		t.Error("change lost the current link")
	}
	if units := h.mgr.started(); len(units) != 1 {
		t.Errorf("units started again on change: %v", units)
	}

	// Remove takes the partition's links and database entry away.
	h.settle(recorded(t, "block-vda1-remove.txt"))
	for _, l := range wantLinks {
		if _, err := os.Lstat(filepath.Join(tr.dev, l)); !os.IsNotExist(err) {
			t.Errorf("%s left after remove: %v", l, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(tr.dev, "disk/by-uuid")); !os.IsNotExist(err) {
		t.Errorf("empty by-uuid directory left: %v", err)
	}
	if readlink(t, filepath.Join(tr.dev, "disk/by-id/virtio-QM00001")) != "../../vda" {
		t.Error("the disk's link went with the partition")
	}
	if _, err := os.Stat(filepath.Join(tr.run, "udev/data/b254:1")); !os.IsNotExist(err) {
		t.Errorf("database entry left: %v", err)
	}
	c, _ = h.mgr.find(tr.sys + "/devices/pci0000:00/0000:00:03.0/virtio1/block/vda/vda1")
	if c.action != "remove" || len(c.links) != 3 {
		t.Errorf("manager got %+v", c)
	}
}

func TestBadRulesReported(t *testing.T) {
	tr := newTree(t)
	tr.write(filepath.Join(tr.rules, "10-bad.toml"), "[[rule]]\nkernal = \"x\"\n")
	tr.write(filepath.Join(tr.rules, "20-good.toml"), "[[rule]]\nkernel = \"ttyS1\"\nmode = \"0600\"\n")
	h := start(t, tr, false)
	h.ready()
	if !h.log.contains("10-bad.toml") {
		t.Error("bad rules file not reported")
	}
	if h.d.rules.Load().Len() != 2 {
		t.Errorf("%d rules loaded, want the good file's one and the harness's", h.d.rules.Load().Len())
	}
	if _, err := call(t, h, Request{Cmd: "reload"}); err == nil || !strings.Contains(err.Error(), "10-bad.toml") {
		t.Errorf("reload with a bad file: %v", err)
	}
}

func TestCtlTest(t *testing.T) {
	tr := newTree(t)
	tr.board()
	out := filepath.Join(t.TempDir(), "run.out")
	tr.withRules(out)
	loader := &fakeLoader{mods: map[string][]string{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00": {"virtio_pci"}}}
	c := &ctl{loader: func() (ModuleLoader, error) { return loader, nil }}
	code, stdout, _ := runCtl(t, tr, c, "test", "--rules-dir", tr.rules, "/dev/ttyS1")
	for _, want := range []string{
		"device:   /devices/platform/serial8250/tty/ttyS1 (tty), action add\n",
		"matched:  " + filepath.Join(tr.rules, "50-default.toml:"),
		"matched:  " + filepath.Join(tr.rules, "60-local.toml:2") + "\n",
		fmt.Sprintf("group:    %d\n", os.Getgid()),
		"mode:     0620\n",
		"link:     /dev/serial/by-name/console-1\n",
		"env:      SERIAL_PORT=yes\n",
		"run:      /bin/sh -c \"echo $DEVNAME $SERIAL_PORT $ACTION >> " + out + "\"\n",
		"unit:     serial-getty@ttyS1.service\n",
		"  SERIAL_PORT=yes\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("devctl test ttyS1: no %q in\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Errorf("devctl test = %d", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("devctl test ran the program")
	}
	if fi, _ := os.Stat(filepath.Join(tr.dev, "ttyS1")); fi.Mode().Perm() == 0o620 {
		t.Error("devctl test changed the node")
	}

	_, stdout, _ = runCtl(t, tr, c, "test", "--rules-dir", tr.rules, "/devices/pci0000:00/0000:00:02.0")
	if !strings.Contains(stdout, "modules:  virtio_pci (for pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00)\n") ||
		!strings.Contains(stdout, "matched:  no rule\n") {
		t.Errorf("devctl test pci:\n%s", stdout)
	}
	if len(loader.called()) != 0 {
		t.Error("devctl test loaded modules")
	}

	_, stdout, _ = runCtl(t, tr, c, "test", "--rules-dir", tr.rules, "--action", "change", "vda1")
	if !strings.Contains(stdout, "link:     /dev/disk/by-uuid/"+rootUUIDString+"\n") || !strings.Contains(stdout, "action change") {
		t.Errorf("devctl test vda1:\n%s", stdout)
	}
	if entries, _ := os.ReadDir(filepath.Join(tr.run, "udev", "data")); len(entries) != 0 {
		t.Errorf("devctl test wrote the database: %v", entries)
	}
}
