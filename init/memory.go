package pid1

import "github.com/sysmaster-go/sysmaster/init/pages"

// lean keeps init's share of the smbox binary to the pages it runs, once
// /proc is there (init starts before it is mounted), and again once the
// boot is behind it.
func (p *pid1) lean() {
	pages.Trim()
	pages.TrimLater()
}
