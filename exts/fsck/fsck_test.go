package fsck

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	has := func(paths ...string) func(string) (os.FileInfo, error) {
		paths = append(paths, "/dev/vda")
		return func(p string) (os.FileInfo, error) {
			for _, q := range paths {
				if p == q {
					return nil, nil
				}
			}
			return nil, os.ErrNotExist
		}
	}
	for _, c := range []struct {
		name, typ string
		stat      func(string) (os.FileInfo, error)
		code      int
		runErr    error
		want      string
		status    int
	}{
		{"clean", "ext4", has("/usr/sbin/e2fsck"), 0, nil, "fsck: /dev/vda: clean", 0},
		{"corrected", "ext4", has("/sbin/e2fsck"), 1, nil, "errors corrected (/sbin/e2fsck exit 1)", 0},
		{"uncorrected", "ext4", has("/sbin/e2fsck"), 4, nil, "errors left uncorrected (/sbin/e2fsck exit 4); not mounting it", 1},
		{"no checker", "ext4", has(), 0, nil, "the image has no checker for ext4 (/sbin/e2fsck); mounting unchecked", 0},
		{"vfat", "vfat", has("/sbin/fsck.fat"), 0, nil, "clean", 0},
		{"unknown type", "btrfs", has(), 0, nil, "no checker known for btrfs", 0},
		{"no device", "ext4", func(string) (os.FileInfo, error) { return nil, os.ErrNotExist }, 0, nil, "fsck: /dev/vda: the device is not there (file does not exist); not mounting it", 1},
		{"cannot run", "ext4", has("/sbin/e2fsck"), 0, errors.New("exec format error"), "running /sbin/e2fsck: exec format error", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			got := Check(c.typ, "/dev/vda", c.stat, func(string, string) (int, error) { return c.code, c.runErr }, &out)
			if got != c.status || !strings.Contains(out.String(), c.want) {
				t.Fatalf("status %d, output %q; want %d, %q", got, out.String(), c.status, c.want)
			}
		})
	}
}
