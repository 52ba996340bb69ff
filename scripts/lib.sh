# shellcheck shell=bash
# Shared helpers for the scripts in this folder; sourced, not run.

# REPO_ROOT is absolute so that helpers keep working after a cd.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# cache_dir prints $SYSMASTER_CACHE or <repo>/.cache, creating it.
cache_dir() {
	local dir="${SYSMASTER_CACHE:-$REPO_ROOT/.cache}"
	mkdir -p "$dir"
	# The cache ignores itself, whatever the repository's .gitignore says.
	[[ -e $dir/.gitignore ]] || printf '*\n' >"$dir/.gitignore"
	cd "$dir" && pwd
}

log() {
	printf '%s: %s\n' "$(basename "$0")" "$*" >&2
}

die() {
	log "$*"
	exit 1
}

# board_key FILE KEY [SECTION] prints the string value of KEY in a board's
# TOML file, looking only inside [SECTION] when given (top level otherwise).
# A key the file does not set is looked up in the board it inherits from
# (inherit = "NAME"), found as board.Load finds it: NAME.toml next to the
# file (other than the file itself), else the built-in board/NAME.toml; a
# NAME ending in .toml is a path relative to the file.
board_key() {
	local file=$1 key=$2 section=${3:-} depth=0 val parent
	while ((depth++ < 16)); do
		val=$(board_key_own "$file" "$key" "$section")
		if [[ -n $val ]]; then
			printf '%s\n' "$val"
			return 0
		fi
		parent=$(board_key_own "$file" inherit "")
		[[ -n $parent ]] || return 0
		if [[ $parent == *.toml ]]; then
			[[ $parent == /* ]] || parent="$(dirname "$file")/$parent"
			file=$parent
		elif [[ -r "$(dirname "$file")/$parent.toml" && ! "$(dirname "$file")/$parent.toml" -ef $file ]]; then
			# A file named like the built-in board it inherits means that one.
			file="$(dirname "$file")/$parent.toml"
		else
			file="$REPO_ROOT/board/$parent.toml"
		fi
		[[ -r $file ]] || die "board $file (inherited) not found"
	done
	die "inherit chain too long or a cycle at $file"
}

# board_key_own FILE KEY SECTION reads KEY from FILE alone.
board_key_own() {
	local file=$1 key=$2 section=$3
	awk -v key="$key" -v want="$section" '
		/^[[:space:]]*\[/ { gsub(/[][[:space:]]/, ""); cur = $0; next }
		cur == want {
			line = $0
			sub(/^[[:space:]]*/, "", line)
			if (index(line, key) != 1) next
			rest = substr(line, length(key) + 1)
			if (rest !~ /^[[:space:]]*=/) next
			if (match(rest, /"[^"]*"/)) {
				print substr(rest, RSTART + 1, RLENGTH - 2)
				exit
			}
		}' "$file"
}

# apt_dir ARCH prints the folder of the private apt index for ARCH and the
# suite in $DEBIAN_SUITE (default bookworm, whose folder is plain ARCH).
apt_dir() {
	local arch=$1 suite=${DEBIAN_SUITE:-bookworm}
	if [[ $suite == bookworm ]]; then
		printf '%s\n' "$(cache_dir)/apt/$arch"
	else
		printf '%s\n' "$(cache_dir)/apt/$arch-$suite"
	fi
}

# apt_setup ARCH prepares a private apt configuration for Debian packages
# of ARCH from the suite in $DEBIAN_SUITE (default bookworm) under the cache
# and sets APT_DIR. It goes in through
# APT_CONFIG because apt reads that file before /etc/apt/apt.conf.d, so the
# host's sources, pins, hooks and dpkg status all stay out of it. Proxies
# still work through the usual http_proxy variable.
apt_setup() {
	local arch=$1 suite=${DEBIAN_SUITE:-bookworm}
	case $suite in
	bookworm | trixie) ;;
	*) die "DEBIAN_SUITE=$suite: not a suite these scripts know (bookworm, trixie)" ;;
	esac
	APT_DIR=$(apt_dir "$arch")
	mkdir -p "$APT_DIR"/{etc/sources.list.d,etc/apt.conf.d,etc/preferences.d,etc/trusted.gpg.d,state/lists/partial,cache/archives/partial}
	touch "$APT_DIR/state/status"
	local keyring="$APT_DIR/etc/debian-archive-keyring.gpg"
	if [[ ! -s $keyring ]]; then
		[[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] ||
			die "missing /usr/share/keyrings/debian-archive-keyring.gpg (apt-get install debian-archive-keyring)"
		cp /usr/share/keyrings/debian-archive-keyring.gpg "$keyring"
	fi
	cat >"$APT_DIR/etc/sources.list" <<-SRC
		deb [arch=$arch signed-by=$keyring] http://deb.debian.org/debian $suite main
		deb [arch=$arch signed-by=$keyring] http://deb.debian.org/debian $suite-updates main
		deb [arch=$arch signed-by=$keyring] http://deb.debian.org/debian-security $suite-security main
	SRC
	local sandbox=""
	if [[ $(id -u) -eq 0 ]]; then
		# The _apt sandbox user cannot write into a cache owned by root.
		sandbox='APT::Sandbox::User "root";'
	fi
	cat >"$APT_DIR/apt.conf" <<-CONF
		Dir::Etc "$APT_DIR/etc";
		Dir::Etc::main "$APT_DIR/etc/apt.conf";
		Dir::Etc::parts "$APT_DIR/etc/apt.conf.d";
		Dir::Etc::SourceList "$APT_DIR/etc/sources.list";
		Dir::Etc::SourceParts "$APT_DIR/etc/sources.list.d";
		Dir::Etc::Preferences "$APT_DIR/etc/preferences";
		Dir::Etc::PreferencesParts "$APT_DIR/etc/preferences.d";
		Dir::Etc::TrustedParts "$APT_DIR/etc/trusted.gpg.d";
		Dir::State "$APT_DIR/state";
		Dir::State::status "$APT_DIR/state/status";
		Dir::Cache "$APT_DIR/cache";
		APT::Architecture "$arch";
		APT::Architectures { "$arch"; };
		Acquire::Languages "none";
		$sandbox
	CONF
}

# apt_run ARCH CMD ARGS... runs an apt command against the private index.
apt_run() {
	local arch=$1
	shift
	APT_CONFIG="$(apt_dir "$arch")/apt.conf" "$@" \
		-o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
}

# apt_update ARCH refreshes the private index when it is missing or older
# than a day (kernel ABIs move), or always with FETCH_DEB_UPDATE=1.
# apt-get update may exit non-zero when one list is broken; what counts is
# that package lists exist afterwards.
apt_update() {
	local arch=$1
	apt_setup "$arch"
	local stamp="$APT_DIR/state/updated"
	if [[ ${FETCH_DEB_UPDATE:-0} != 1 && -n $(find "$stamp" -mmin -1440 2>/dev/null) ]] &&
		compgen -G "$APT_DIR/state/lists/*_Packages*" >/dev/null; then
		return 0
	fi
	log "updating package index for $arch (${DEBIAN_SUITE:-bookworm})"
	if ! apt_run "$arch" apt-get -qq update >&2; then
		log "apt-get update ($arch) exited non-zero; checking what arrived"
	fi
	compgen -G "$APT_DIR/state/lists/*_Packages*" >/dev/null ||
		die "no package lists for $arch after apt-get update"
	touch "$stamp"
}
