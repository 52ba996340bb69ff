// Package rules is devmaster's device rules: what udev rules do, written
// in TOML.
//
// A rules file is a list of [[rule]] tables. Each rule has match keys,
// all of which must hold for the rule to apply, and assignments, which
// then apply. Rules are evaluated in order for every event, until one
// that matches has last = true. Applying them is pure (see Set.Apply):
// devmaster acts on the Result.
//
//	[[rule]]
//	subsystem = "block"
//	kernel = "vd*"
//	env = { DEVTYPE = "disk" }
//	attr = { serial = "?*" }
//	group = "disk"
//	mode = "0660"
//	symlink = ["disk/by-id/virtio-$attr{serial}"]
//
// # Match keys
//
//	action     the uevent action: add, remove, change, move, bind, unbind, online, offline
//	subsystem  the subsystem ("block", "tty", "net", …)
//	kernel     the kernel name, the last element of devpath ("vda1", "ttyS0")
//	devpath    the kernel DEVPATH ("/devices/pci0000:00/…/block/vda")
//	driver     the driver bound to the device
//	attr       a table of sysfs attributes of the device: { serial = "?*" };
//	           a name may reach into a subdirectory: { "device/serial" = "?*" }
//	env        a table of properties: those of the uevent, those devmaster
//	           imported (ID_FS_UUID, ID_FS_LABEL, ID_FS_TYPE, ID_SERIAL, …)
//	           and those set by earlier rules
//
// A match value is a glob with path.Match's syntax (*, ?, [a-z], [^a-z],
// \c), except that * and ? also match '/' and [!a-z] negates too, as in
// udev. Alternatives are separated by '|': kernel = "null|zero". A value
// starting with '!' negates the whole: action = "!remove" and
// kernel = "!sd*|vd*" (neither). An unset property matches as "" (so
// env = { X = "" } means "X is not set"); a missing attribute matches
// only a negated value. action takes action names only, without globs.
//
// # Assignments
//
//	owner, group  user and group of the device node: a name or a number
//	mode          its permissions, an octal string: "0660" (up to "07777")
//	symlink       links to the node, relative to /dev: ["disk/by-label/$env{ID_FS_LABEL}"]
//	set_env       properties to set: { ID_SERIAL = "$attr{serial}" }; "" removes one
//	run           one program to run, as an argv with an absolute path: ["/bin/logger", "$kernel"]
//	start         units to start for the device: ["storage@$kernel.service"]
//	last          true: stop evaluating rules after this one, when it matches
//
// owner, group and mode take the value of the last matching rule that
// sets them; symlink, set_env, run and start accumulate. Within one rule
// set_env applies first, so its links, program and units see the
// properties it sets; later rules match against them too.
//
// # Substitutions
//
// Values of symlink, set_env, run and start may use
//
//	$kernel   %k     the kernel name
//	$number   %n     its trailing number ("1" of vda1), or ""
//	$devpath  %p     the devpath
//	$devnode  %N     the device node ("/dev/vda1"), or ""
//	$driver          the driver, or ""
//	$env{KEY} %E{KEY} a property, or ""
//	$attr{N}  %s{N}  a sysfs attribute, or ""
//	$$  %%           a literal $ or %
//
// Any other $ or % is an error. In a link, substituted values are escaped
// as udev escapes by-id and by-label names: bytes other than letters,
// digits and #+-.:=@_ become \xNN (a space becomes \x20), and so does '/'
// except in $devpath and $devnode. A link with an empty path component
// (disk/by-uuid/$env{ID_FS_UUID} while ID_FS_UUID is unset) is silently
// not made; one that would leave /dev is dropped with a warning. In a
// unit name, substituted values are escaped as systemd-escape does.
//
// # Files
//
// Load reads the *.toml files of a list of directories; see Load for
// the precedence rules. Parse is strict: an unknown key (with a
// suggestion for a typo), a wrong type or a bad value is an error that
// names file, line and key, and rejects the file. testdata/example.toml
// is a commented example; Default is the rules file shipped in images.
package rules
