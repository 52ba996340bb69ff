package proto

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A switch of the root at runtime (sctl switch-root ROOT [INIT]): core
// checks the request, sends init a SwitchRootMessage on the fd store pair
// and stops every unit; init then moves SwitchRootMounts to ROOT, makes it
// / and executes INIT there.

// SwitchRootMounts go over to the new root; what is mounted below them
// moves with them.
var SwitchRootMounts = []string{"/dev", "/proc", "/sys", "/run"}

// SwitchRootInits are tried in order when no init is named.
var SwitchRootInits = []string{"/sbin/init", "/init"}

// SwitchRootMessage asks init to switch to root and execute init there
// once core has exited. Store names never hold a NUL, so the two kinds of
// message cannot be confused.
func SwitchRootMessage(root, init string) string {
	return "switch-root\x00" + root + "\x00" + init
}

// ParseSwitchRootMessage reads a SwitchRootMessage.
func ParseSwitchRootMessage(msg string) (root, init string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "switch-root\x00")
	if !ok {
		return "", "", false
	}
	root, init, ok = strings.Cut(rest, "\x00")
	return root, init, ok
}

// CheckSwitchRoot says whether the system can switch to root: an absolute
// directory other than /, mounted (mountinfo is /proc/self/mountinfo),
// with the directories SwitchRootMounts move to, and an executable init
// (looked up inside root, its symbolic links followed as they will be
// once root is /). An empty init is the first of SwitchRootInits that
// root has. It returns the init to execute, as a path inside root.
func CheckSwitchRoot(root, init string, mountinfo []byte) (string, error) {
	if !filepath.IsAbs(root) {
		return "", fmt.Errorf("new root %q is not an absolute path", root)
	}
	root = filepath.Clean(root)
	if root == "/" {
		return "", errors.New("new root is / already")
	}
	if st, err := os.Stat(root); err != nil {
		return "", fmt.Errorf("new root: %w", err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("new root %s is not a directory", root)
	}
	if !mountedAt(mountinfo, root) {
		return "", fmt.Errorf("new root %s is not a mount point (mount the root filesystem there first)", root)
	}
	for _, m := range SwitchRootMounts {
		if st, err := os.Stat(filepath.Join(root, m)); err != nil || !st.IsDir() {
			return "", fmt.Errorf("new root %s has no directory %s to move %s to", root, m, m)
		}
	}
	if init != "" {
		if !filepath.IsAbs(init) {
			return "", fmt.Errorf("init %q is not an absolute path", init)
		}
		if err := executableIn(root, init); err != nil {
			return "", fmt.Errorf("new root %s: init %s: %w", root, init, err)
		}
		return filepath.Clean(init), nil
	}
	var errs []string
	for _, cand := range SwitchRootInits {
		err := executableIn(root, cand)
		if err == nil {
			return cand, nil
		}
		errs = append(errs, cand+": "+err.Error())
	}
	return "", fmt.Errorf("new root %s has no init (%s)", root, strings.Join(errs, "; "))
}

// executableIn checks that p, resolved inside root, is an executable
// regular file.
func executableIn(root, p string) error {
	real, err := resolveIn(root, p)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("not executable")
	}
	return nil
}

// resolveIn follows the symbolic links of p as if root were /, and
// returns the path on the current root.
func resolveIn(root, p string) (string, error) {
	parts := strings.Split(p, "/")
	cur := "/"
	for links := 0; len(parts) > 0; {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		target, err := os.Readlink(filepath.Join(root, next))
		if errors.Is(err, unix.EINVAL) {
			cur = next // not a link
			continue
		}
		if err != nil {
			return "", err
		}
		if links++; links > 40 {
			return "", unix.ELOOP
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return filepath.Join(root, cur), nil
}

// mountedAt says whether mountinfo lists a mount on dir.
func mountedAt(mountinfo []byte, dir string) bool {
	for _, l := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(l); len(f) > 4 && unescapeMountinfo(f[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the escapes of a path in mountinfo.
func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
