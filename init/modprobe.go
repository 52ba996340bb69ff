package pid1

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// modprobeLink is where the kernel runs its module requests. Images leave
// it out of the initramfs (image.ModprobeLink says why); init adds it,
// pointing at its own binary, before anything that loads modules runs.
const modprobeLink = "/sbin/modprobe"

func (p *pid1) linkModprobe() {
	if _, err := os.Lstat(modprobeLink); !errors.Is(err, fs.ErrNotExist) {
		return // ours, Debian's kmod, or a root that has its own
	}
	self, err := os.Executable()
	if err == nil {
		err = os.Symlink(self, modprobeLink)
	}
	if err != nil && !errors.Is(err, unix.EROFS) {
		p.logf("warning: the kernel's module requests will fail: linking %s: %v", modprobeLink, err)
	}
}
