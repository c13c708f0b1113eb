#!/usr/bin/env bash
# slowdisk.sh: a slow disk like production's, with a real, finite request
# queue, on loop devices (no device-mapper here). A bash library and a CLI.
#
#   slowdisk.sh up   --fs ext4|xfs [--opts MOUNTOPTS] [--size MB] [--bps B/S]
#                    [--dir MOUNTPOINT] [--image-dir DIR] --state FILE
#   slowdisk.sh down --state FILE
#   slowdisk.sh run  --fs ext4|xfs [up options] [--state FILE] -- CMD [ARG...]
#
# The stack (issue 3, item 7; measured on these machines):
#
#   image file (under /var/tmp: not tmpfs, direct I/O must work)
#     -> lower loop device (losetup --direct-io=on), throttled to --bps bytes/s
#        for reads and writes by a cgroup v1 blkio rule in the ROOT cgroup
#        (blkio.throttle.{write,read}_bps_device "MAJ:MIN BPS")
#     -> upper loop device backed by the lower one (direct I/O too)
#     -> ext4 (journal; lazy init off) or XFS on the upper device, mounted.
#
# Why this shape: blk-throttle queues bios without blocking the submitter, so
# throttling the filesystem's own device never stalls a writer. Throttling
# the device *below* it makes the upper device's requests complete at --bps:
# the journal's commit writes queue behind the data writeback, and a writer
# whose write() must dirty an inode buffer the commit is writing waits
# (do_get_write_access <- ext4_dirty_inode). The rule sits in the root cgroup
# because cgroup v1 charges buffered writeback and jbd2 to the root: a rule
# in a child cgroup holding the writers throttles their fsync()s but lets
# the journal through, and the write() stalls mostly vanish (measured).
# The rule is set after mkfs (whose discard of the whole device would
# otherwise take size/bps seconds) and removed first on the way down.
#
# Everything `up` creates is appended to the state FILE as KEY=VALUE lines as
# it goes; `down` removes exactly what that file lists, in reverse order,
# checking each item is still ours (a loop device still backed by our file,
# a mount still of our device), and tolerates partial setups. `up` cleans up
# after itself on any failure or SIGINT/SIGTERM and exits non-zero. `run`
# sets up, runs CMD with SLOWDISK_DIR (the mount point) and SLOWDISK_STATE
# exported, and tears down on every exit path; it exits with CMD's status.
#
# As a library: `source scripts/slowdisk.sh`, then slowdisk_up ARGS,
# slowdisk_down --state FILE, slowdisk_run ARGS -- CMD; each runs in its own
# subshell (its traps and options do not leak into the caller).

SLOWDISK_BLKIO=${SLOWDISK_BLKIO:-/sys/fs/cgroup/blkio}

_sd_err() {
	echo "slowdisk: $*" >&2
}

_sd_usage() {
	cat <<'TXT'
Usage: slowdisk.sh up   --fs ext4|xfs [--opts MOUNTOPTS] [--size MB] [--bps BYTES/S]
                        [--dir MOUNTPOINT] [--image-dir DIR] --state FILE
       slowdisk.sh down --state FILE
       slowdisk.sh run  --fs ext4|xfs [up options] [--state FILE] -- CMD [ARG...]

  --fs ext4|xfs     filesystem (ext4 with its journal, lazy init off)
  --opts OPTS       mount options, e.g. commit=1,data=writeback
  --size MB         image size (default 2048)
  --bps B/S         read and write limit of the disk (default 104857600)
  --dir DIR         mount point (created if missing; default: in the image dir)
  --image-dir DIR   where the image's directory is made (default /var/tmp; no tmpfs)
  --state FILE      what was created, KEY=VALUE per line; `down` reads it
TXT
}

# -- the state file ---------------------------------------------------------

_sd_record() { # STATE KEY VALUE
	printf '%s=%s\n' "$2" "$3" >>"$1"
}

_sd_get() { # STATE KEY: prints the last value of KEY (empty if none)
	local line val=
	while IFS= read -r line || [[ -n $line ]]; do
		[[ ${line%%=*} == "$2" ]] && val=${line#*=}
	done <"$1"
	printf '%s' "$val"
}

# -- checks -------------------------------------------------------------------

_sd_posint() { # VALUE NAME
	[[ $1 =~ ^[1-9][0-9]{0,15}$ ]] || { _sd_err "$2 must be a positive integer, not '$1'"; return 1; }
}

_sd_backing() { # LOOPDEV: prints its backing file, empty if detached
	losetup -nO BACK-FILE "$1" 2>/dev/null | sed 's/[[:space:]]*$//' || true
}

_sd_majmin() { # BLOCKDEV
	local hex
	hex=$(stat -c '%t:%T' "$1") || return 1
	printf '%d:%d' "0x${hex%%:*}" "0x${hex##*:}"
}

_sd_mounted_from() { # MOUNTPOINT: prints the source mounted exactly there
	findmnt -rn -M "$1" -o SOURCE 2>/dev/null | tail -n 1 || true
}

# -- teardown -------------------------------------------------------------------

_sd_unthrottle() { # MAJ:MIN
	local f rc=0
	for f in write_bps_device read_bps_device; do
		echo "$1 0" >"$SLOWDISK_BLKIO/blkio.throttle.$f" 2>/dev/null || {
			grep -q "^$1 " "$SLOWDISK_BLKIO/blkio.throttle.$f" &&
				{ _sd_err "cannot remove the $f rule for $1"; rc=1; }
		}
	done
	return "$rc"
}

_sd_umount() { # MOUNTPOINT UPPER
	local src
	src=$(_sd_mounted_from "$1")
	[[ -z $src ]] && return 0
	if [[ $src != "$2" ]]; then
		_sd_err "$1 is mounted from $src, not $2: left alone"
		return 1
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		umount "$1" 2>/dev/null && return 0
		sleep 0.5 # a process that had files there may still be exiting
	done
	_sd_err "cannot unmount $1: $(umount "$1" 2>&1 | head -n 1)"
	return 1
}

_sd_detach() { # LOOPDEV BACKING: detaches LOOPDEV if still backed by BACKING
	local back
	back=$(_sd_backing "$1")
	[[ -z $back ]] && return 0
	if [[ $back != "$2" ]]; then
		_sd_err "$1 is now backed by $back, not $2: left alone"
		return 1
	fi
	losetup -d "$1" 2>/dev/null || { _sd_err "cannot detach $1 ($2)"; return 1; }
}

_sd_down() { # STATE
	local st=$1 work image lower upper throttle mnt made rc=0
	work=$(_sd_get "$st" WORKDIR)
	image=$(_sd_get "$st" IMAGE)
	lower=$(_sd_get "$st" LOWER)
	throttle=$(_sd_get "$st" THROTTLE)
	upper=$(_sd_get "$st" UPPER)
	made=$(_sd_get "$st" MKDIR)
	mnt=$(_sd_get "$st" MOUNT)
	# the rule first, so that the unmount's final flush is not throttled
	if [[ -n $throttle ]]; then
		_sd_unthrottle "$throttle" || rc=1
	fi
	if [[ -n $mnt && -n $upper ]]; then
		_sd_umount "$mnt" "$upper" || return 1 # still in use: keep the devices
	fi
	if [[ -n $made ]]; then
		rmdir "$made" 2>/dev/null || { [[ -e $made ]] && _sd_err "cannot remove $made" && rc=1; }
	fi
	# UPPER/LOWER missing while their backing is recorded: up was killed
	# between losetup and recording; the devices backed by our file are ours.
	local lowers=() uppers=() dev
	if [[ -n $lower ]]; then
		lowers=("$lower")
	elif [[ -n $image ]]; then
		mapfile -t lowers < <(losetup -nO NAME -j "$image" 2>/dev/null)
	fi
	if [[ -n $upper ]]; then
		uppers=("$upper:$lower")
	else
		for dev in "${lowers[@]}"; do
			while IFS= read -r upper; do
				uppers+=("$upper:$dev")
			done < <(losetup -nO NAME -j "$dev" 2>/dev/null)
		done
	fi
	for dev in "${uppers[@]}"; do
		_sd_detach "${dev%%:*}" "${dev#*:}" || rc=1
	done
	for dev in "${lowers[@]}"; do
		_sd_detach "$dev" "$image" || rc=1
	done
	[[ $rc -eq 0 ]] || return 1
	if [[ -n $image ]]; then
		rm -f "$image"
	fi
	if [[ -n $work ]]; then
		rm -f "$work/err"
		rmdir "$work" 2>/dev/null || { [[ -e $work ]] && _sd_err "cannot remove $work" && return 1; }
	fi
	rm -f "$st"
}

_sd_down_main() {
	local st=''
	while [[ $# -gt 0 ]]; do
		case $1 in
		--state) st=${2-}; shift 2 || { _sd_err "--state needs a FILE"; exit 2; } ;;
		-h | --help) _sd_usage; exit 0 ;;
		*) _sd_err "down: unknown argument '$1'"; exit 2 ;;
		esac
	done
	[[ -n $st ]] || { _sd_err "down: --state FILE is required"; exit 2; }
	[[ -f $st ]] || { _sd_err "down: no state file $st (nothing to remove?)"; exit 1; }
	# ignore signals while removing: a half-done teardown is worse
	trap '' INT TERM HUP
	_sd_down "$st"
}

# -- setup ----------------------------------------------------------------------

# Runs CMD; on failure prints "WHAT: <first line of its stderr>" and fails.
_sd_try() { # WHAT CMD...
	local what=$1 errf=${_SD_ERRF:-/dev/null}
	shift
	"$@" 2>"$errf" && return 0
	_sd_err "$what failed: $(head -n 1 "$errf" 2>/dev/null)"
	return 1
}

_sd_signalled() {
	if [[ -n ${_sd_sig:-} ]]; then
		_sd_err "interrupted: removing what was set up"
		exit "$_sd_sig"
	fi
}

_sd_check_env() { # IMAGE_BASE
	[[ $(id -u) -eq 0 ]] || { _sd_err "needs root (loop devices, mount, blkio)"; return 1; }
	[[ -w $SLOWDISK_BLKIO/blkio.throttle.write_bps_device ]] ||
		{ _sd_err "no cgroup v1 blkio throttling at $SLOWDISK_BLKIO"; return 1; }
	local cmd
	for cmd in losetup mkfs."$_sd_fs" mount umount findmnt; do
		command -v "$cmd" >/dev/null || { _sd_err "$cmd not found"; return 1; }
	done
	[[ -d $1 ]] || { _sd_err "image dir $1 does not exist"; return 1; }
	_sd_imgbase=$(realpath "$1")
	if [[ $(stat -f -c %T "$1") == tmpfs ]]; then
		_sd_err "image dir $1 is on tmpfs (no direct I/O): use --image-dir on a disk"
		return 1
	fi
}

_sd_parse_up() {
	_sd_fs='' _sd_opts='' _sd_size=2048 _sd_bps=104857600 _sd_dir='' _sd_state=''
	_sd_imgbase=/var/tmp
	while [[ $# -gt 0 ]]; do
		case $1 in
		--fs | --opts | --size | --bps | --dir | --image-dir | --state)
			[[ $# -ge 2 ]] || { _sd_err "$1 needs a value"; return 2; }
			case $1 in
			--fs) _sd_fs=$2 ;;
			--opts) _sd_opts=$2 ;;
			--size) _sd_size=$2 ;;
			--bps) _sd_bps=$2 ;;
			--dir) _sd_dir=$2 ;;
			--image-dir) _sd_imgbase=$2 ;;
			--state) _sd_state=$2 ;;
			esac
			shift 2
			;;
		-h | --help) _sd_usage; exit 0 ;;
		*) _sd_err "unknown argument '$1' (see --help)"; return 2 ;;
		esac
	done
	[[ $_sd_fs == ext4 || $_sd_fs == xfs ]] || { _sd_err "--fs must be ext4 or xfs"; return 2; }
	[[ -n $_sd_state ]] || { _sd_err "--state FILE is required"; return 2; }
	_sd_posint "$_sd_size" --size || return 2
	_sd_posint "$_sd_bps" --bps || return 2
	local v
	for v in "$_sd_opts" "$_sd_dir" "$_sd_state" "$_sd_imgbase"; do
		[[ $v != *$'\n'* ]] || { _sd_err "no newlines in arguments, please"; return 2; }
	done
}

# SLOWDISK_MKFS_OPTS: extra mkfs options, split on spaces (e.g. "-O fast_commit")
_sd_mkfs() { # DEV
	local -a extra=()
	[[ -n ${SLOWDISK_MKFS_OPTS:-} ]] && read -r -a extra <<<"$SLOWDISK_MKFS_OPTS"
	case $_sd_fs in
	ext4) _sd_try "mkfs.ext4 $1" mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 \
		"${extra[@]}" "$1" ;;
	xfs) _sd_try "mkfs.xfs $1" mkfs.xfs -q -f "${extra[@]}" "$1" ;;
	esac
}

_sd_mountpoint() { # WORKDIR: prints the mount point, creating it if needed
	local dir=${_sd_dir:-$1/mnt}
	if [[ -e $dir ]]; then
		[[ -d $dir ]] || { _sd_err "$dir is not a directory"; return 1; }
		[[ -z $(_sd_mounted_from "$dir") ]] || { _sd_err "$dir is already a mount point"; return 1; }
		[[ -z $(ls -A "$dir") ]] || { _sd_err "$dir is not empty"; return 1; }
	else
		mkdir "$dir" || { _sd_err "cannot create $dir"; return 1; }
		_sd_record "$_sd_state" MKDIR "$(realpath "$dir")"
	fi
	realpath "$dir"
}

_sd_throttle() { # MAJ:MIN
	local f
	for f in write_bps_device read_bps_device; do
		_sd_try "blkio.throttle.$f $1" \
			tee "$SLOWDISK_BLKIO/blkio.throttle.$f" <<<"$1 $_sd_bps" >/dev/null || return 1
	done
}

_sd_up_steps() {
	local st=$_sd_state work image lower upper majmin mnt
	work=$(mktemp -d "$_sd_imgbase/kafkalat-slowdisk.XXXXXX") ||
		{ _sd_err "cannot create a directory in $_sd_imgbase"; return 1; }
	_sd_record "$st" WORKDIR "$work" || return 1
	_SD_ERRF=$work/err
	image=$work/disk.img
	_sd_record "$st" IMAGE "$image" || return 1
	_sd_try "creating $image" truncate -s "${_sd_size}M" "$image" || return 1
	_sd_signalled
	lower=$(_sd_try "losetup $image" losetup --direct-io=on --show -f "$image") || return 1
	_sd_record "$st" LOWER "$lower" || return 1
	_sd_signalled
	upper=$(_sd_try "losetup $lower" losetup --direct-io=on --show -f "$lower") || return 1
	_sd_record "$st" UPPER "$upper" || return 1
	_sd_signalled
	_sd_mkfs "$upper" || return 1
	_sd_signalled
	majmin=$(_sd_majmin "$lower") || { _sd_err "no device number for $lower"; return 1; }
	_sd_record "$st" THROTTLE "$majmin" || return 1
	_sd_throttle "$majmin" || return 1
	_sd_signalled
	mnt=$(_sd_mountpoint "$work") || return 1
	_sd_record "$st" MOUNT "$mnt" || return 1
	_sd_try "mount $upper on $mnt" mount -t "$_sd_fs" ${_sd_opts:+-o "$_sd_opts"} "$upper" "$mnt" ||
		return 1
	_sd_record "$st" FS "$_sd_fs" || return 1
	_sd_record "$st" OPTS "$_sd_opts" || return 1
	_sd_record "$st" BPS "$_sd_bps" || return 1
	_sd_signalled
	_sd_err "$_sd_fs${_sd_opts:+ ($_sd_opts)} at $mnt: $upper on $lower ($majmin, $_sd_bps B/s) on $image"
}

_sd_up_exit() { # RC
	trap '' INT TERM HUP
	if [[ $1 -ne 0 && -f $_sd_state ]]; then
		_sd_down "$_sd_state" || _sd_err "cleanup incomplete: see $_sd_state"
	fi
}

_sd_up_main() {
	_sd_parse_up "$@" || exit $?
	_sd_check_env "$_sd_imgbase" || exit 1
	if [[ -s $_sd_state ]]; then
		_sd_err "$_sd_state exists and is not empty (a disk still up? run down first)"
		exit 1
	fi
	: >"$_sd_state" || { _sd_err "cannot write $_sd_state"; exit 1; }
	_sd_state=$(realpath "$_sd_state")
	# a signal is acted on between steps, so that every device made is recorded
	_sd_sig=
	trap '_sd_sig=130' INT
	trap '_sd_sig=143' TERM
	trap '_sd_sig=129' HUP
	trap '_sd_up_exit $?' EXIT
	# every step is checked (set -e does not reach into `slowdisk_up || ...`);
	# a failure exits, and the EXIT trap cleans up
	_sd_up_steps || exit 1
}

# -- run --------------------------------------------------------------------------

_sd_run_exit() { # STATE STARTED OWN_STATE
	trap '' INT TERM HUP
	if [[ -n $2 && -s $1 ]]; then
		slowdisk_down --state "$1" || _sd_err "teardown incomplete: see $1"
	fi
	if [[ -n $3 && -f $1 && ! -s $1 ]]; then
		rm -f "$1"
	fi
}

_sd_run_main() {
	local args=() st='' own_state='' started='' child='' rc=0
	while [[ $# -gt 0 && $1 != -- ]]; do
		[[ $1 == --state ]] && st=${2-}
		args+=("$1")
		shift
	done
	[[ ${1-} == -- && $# -ge 2 ]] || { _sd_err "run: usage: run --fs ext4|xfs [...] -- CMD [ARG...]"; exit 2; }
	shift
	if [[ -n $st && -s $st ]]; then
		_sd_err "$st exists and is not empty (a disk still up? run down first)"
		exit 1
	fi
	_sd_sig=
	trap '_sd_sig=130; [[ -z $child ]] || kill -TERM "$child" 2>/dev/null' INT
	trap '_sd_sig=143; [[ -z $child ]] || kill -TERM "$child" 2>/dev/null' TERM
	trap '_sd_sig=129; [[ -z $child ]] || kill -TERM "$child" 2>/dev/null' HUP
	trap '_sd_run_exit "$st" "$started" "$own_state"' EXIT
	if [[ -z $st ]]; then
		own_state=1
		st=$(mktemp /var/tmp/kafkalat-slowdisk-state.XXXXXX) || exit 1
		args+=(--state "$st")
	fi
	[[ -z $_sd_sig ]] || exit "$_sd_sig"
	started=1
	slowdisk_up "${args[@]}" || exit $?
	[[ -z $_sd_sig ]] || exit "$_sd_sig"
	SLOWDISK_DIR=$(_sd_get "$st" MOUNT)
	SLOWDISK_STATE=$st
	export SLOWDISK_DIR SLOWDISK_STATE
	"$@" &
	child=$!
	# wait returns early when a trapped signal arrives: wait again for the end
	while :; do
		rc=0
		wait "$child" || rc=$?
		kill -0 "$child" 2>/dev/null || break
	done
	child=
	[[ -z $_sd_sig ]] || exit "$_sd_sig"
	exit "$rc"
}

# -- library entry points: each in a subshell, so that its traps, options and
# exits stay there. Signal the caller's whole process group to interrupt one.
slowdisk_up() (
	set -euo pipefail
	_sd_up_main "$@"
)

slowdisk_down() (
	set -euo pipefail
	_sd_down_main "$@"
)

slowdisk_run() (
	set -euo pipefail
	_sd_run_main "$@"
)

# -- CLI ----------------------------------------------------------------------------

_sd_main() {
	local cmd=${1-}
	shift || true
	case $cmd in
	up) _sd_up_main "$@" ;; # in this process: signals sent to the script reach it
	down) _sd_down_main "$@" ;;
	run) _sd_run_main "$@" ;;
	-h | --help) _sd_usage ;;
	*) _sd_err "unknown command '${cmd}' (up, down, run)"; _sd_usage >&2; return 2 ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	_sd_main "$@"
fi
