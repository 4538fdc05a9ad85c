# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers sourced by tests/integration/*.sh and tests/differential/*.sh.
# They own the test's private tmpdir and every mount made under it: a trap
# unmounts them all (FUSE with fusermount3 -u, falling back to -uz; kernel
# overlays with umount, falling back to umount -l) and removes the tmpdir.
# Missing prerequisites skip (exit 77), except under CI=true where they fail.
#
# Assertions never stop the script: each prints "ok - DESC" or a
# "FAIL: DESC" block with the command, the expected and the actual output,
# and uf_finish prints "N passed, N failed" and exits 0 or 1.

UF_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# /usr/bin/python3 first: a pyenv shim under /root is useless to `nobody`.
if [ -x /usr/bin/python3 ]; then UF_PYTHON=/usr/bin/python3; else UF_PYTHON=python3; fi
UF_NPASS=0
UF_NFAIL=0
UF_TMP=
export LC_ALL=C

uf_fsutil() { "$UF_PYTHON" "$UF_LIB/fsutil.py" "$@"; }

# ---------------------------------------------------------------- reporting

uf_log() { printf '# %s\n' "$*"; }

uf_pass() {
	UF_NPASS=$((UF_NPASS + 1))
	printf 'ok - %s\n' "$1"
}

# uf_fail DESC [DETAILS...]: record a failure; DETAILS are printed indented.
uf_fail() {
	UF_NFAIL=$((UF_NFAIL + 1))
	printf 'FAIL: %s\n' "$1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/    /'; done
}

# Missing prerequisite: skip (77), or fail under CI=true.
uf_skip() {
	if [ "${CI:-}" = true ]; then
		printf 'FAIL: prerequisite missing under CI=true: %s\n' "$*" >&2
		exit 1
	fi
	printf 'SKIP: %s\n' "$*"
	exit 77
}

uf_finish() {
	printf '%d passed, %d failed\n' "$UF_NPASS" "$UF_NFAIL"
	[ "$UF_NFAIL" -eq 0 ] && exit 0
	exit 1
}

# uf_check_eq DESC EXPECTED ACTUAL [COMMAND-TEXT]
uf_check_eq() {
	if [ "$2" == "$3" ]; then
		uf_pass "$1"
		return 0
	fi
	local d
	d=$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | head -n 60)
	uf_fail "$1" ${4:+"command: $4"} "expected: $(printf '%s' "$2" | head -c 2000)" \
		"actual:   $(printf '%s' "$3" | head -c 2000)" "diff (-expected +actual):" "$d"
	return 1
}

# uf_check_out DESC EXPECTED CMD...: stdout+stderr of CMD (with the exit
# status appended as "[exit N]" when non-zero) must equal EXPECTED.
uf_check_out() {
	local desc=$1 exp=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && out="$out${out:+ }[exit $rc]"
	uf_check_eq "$desc" "$exp" "$out" "$*"
}

# uf_check_errno DESC EXPECTED OP PATH [ARGS...]: one syscall through
# fsutil.py; EXPECTED is "OK", "OK <result>" or an errno name like EROFS.
uf_check_errno() {
	local desc=$1 exp=$2 out
	shift 2
	out=$(uf_fsutil errno "$@" 2>&1)
	uf_check_eq "$desc" "$exp" "$out" "fsutil.py errno $*"
}

# uf_check DESC CMD...: CMD must exit 0.
uf_check() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		uf_pass "$desc"
	else
		uf_fail "$desc" "command: $*" "expected: exit 0" "actual:   exit $rc: $(printf '%s' "$out" | head -c 2000)"
	fi
	return "$rc"
}

# ------------------------------------------------------------ prerequisites

uf_require_root() {
	[ "$(id -u)" -eq 0 ] || uf_skip "needs root (trusted.* xattrs, mknod, mount -t overlay)"
}

# uf_require_fuse [BIN]: /dev/fuse and fusermount3 present; BIN (the daemon
# under test) must exist, which is a build error, never a skip.
uf_require_fuse() {
	[ -c /dev/fuse ] || uf_skip "/dev/fuse is missing"
	if [ "$(id -u)" -ne 0 ] && { [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; }; then
		uf_skip "/dev/fuse is not read-writable by uid $(id -u)"
	fi
	command -v fusermount3 >/dev/null 2>&1 || uf_skip "fusermount3 is not installed"
	command -v mountpoint >/dev/null 2>&1 || uf_skip "mountpoint(1) is not installed"
	if [ $# -gt 0 ] && [ ! -x "$1" ]; then
		printf 'FAIL: daemon binary %s is missing or not executable\n' "$1"
		exit 1
	fi
}

uf_require_overlay() {
	uf_require_root
	if ! grep -qw overlay /proc/filesystems; then
		modprobe overlay >/dev/null 2>&1 || true
		grep -qw overlay /proc/filesystems || uf_skip "the kernel has no overlay filesystem"
	fi
}

uf_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || uf_skip "$c is not installed"
	done
}

# ----------------------------------------------------------- tmpdir, cleanup

# uf_tmp: create the private tmpdir, set UF_TMP, install the cleanup trap.
# Call it directly (not in $(...)): the trap must live in the test's shell.
uf_tmp() {
	umask 022
	UF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/unionfuse-test.XXXXXX") || exit 1
	UF_TMP=$(realpath "$UF_TMP")
	chmod 755 "$UF_TMP"
	# Sanitizer builds (-Dsanitize=true): the ASan/LSan reports of every
	# daemon this test starts, even daemonized, land here (1777: some run as
	# nobody); uf_cleanup fails the test when there is one. UBSan ignores
	# log_path: UBSAN_OPTIONS=halt_on_error=1 makes it kill the daemon.
	mkdir -m 1777 "$UF_TMP/sanitizer"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$UF_TMP/sanitizer/asan"
	trap uf_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Print "FSTYPE MOUNTPOINT CONN" for each mount at or below $1, deepest
# first.  CONN is the FUSE connection number (the minor device).
uf_mounts_under() {
	awk -v top="$1" '
	function unesc(s,   r, i, c) {
		r = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\" && substr(s, i + 1, 3) ~ /^[0-7][0-7][0-7]$/) {
				r = r sprintf("%c", (substr(s, i + 1, 1) * 64) + (substr(s, i + 2, 1) * 8) + substr(s, i + 3, 1))
				i += 3
			} else r = r c
		}
		return r
	}
	{
		mp = unesc($5)
		for (i = 7; i <= NF; i++) if ($i == "-") break
		split($3, dev, ":")
		if (mp == top || index(mp, top "/") == 1)
			print length(mp), $(i + 1), mp, dev[2]
	}' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

# uf_is_mounted DIR: DIR itself is a mount point (any filesystem).
# Reads mountinfo, so it works on a dead FUSE mount too (mountpoint(1)
# would fail with ENOTCONN there).
uf_is_mounted() {
	local t
	t=$(uf_mounts_under "$1" | awk -v m="$1" '$2 == m')
	[ -n "$t" ]
}

uf_unmount_one() {
	local type=$1 mp=$2 conn=$3
	case $type in
	fuse | fuse.*)
		timeout 20 fusermount3 -u "$mp" 2>/dev/null && return 0
		[ -n "$conn" ] && [ -w "/sys/fs/fuse/connections/$conn/abort" ] &&
			echo 1 >"/sys/fs/fuse/connections/$conn/abort" 2>/dev/null
		fusermount3 -uz "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
		;;
	*)
		umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
		;;
	esac
}

# uf_daemon_pids_under DIR: pids of the unionfuse processes whose last
# argument (the mount point) is DIR or below it.
uf_daemon_pids_under() {
	local p last
	for p in /proc/[0-9]*; do
		last=$(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | tail -n 1)
		case $last in "$1" | "$1"/*) ;; *) continue ;; esac
		case $(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1) in
		*unionfuse*) echo "${p#/proc/}" ;;
		esac
	done
}

# uf_sanitizer_reports: the ASan/LSan reports written under $UF_TMP/sanitizer.
uf_sanitizer_reports() {
	local f
	for f in "$UF_TMP"/sanitizer/asan.*; do
		[ -f "$f" ] || continue
		printf '%s:\n' "$f"
		head -n 60 "$f"
	done
}

uf_cleanup() {
	local rc=$? type mp conn p rep
	trap - EXIT
	trap '' PIPE
	if [ -n "$UF_TMP" ] && [ -d "$UF_TMP" ]; then
		while read -r type mp conn; do
			[ -n "$mp" ] || continue
			uf_log "cleanup: unmounting $type $mp" >&2
			uf_unmount_one "$type" "$mp" "$conn"
		done < <(uf_mounts_under "$UF_TMP")
		# Let the daemons exit: LeakSanitizer reports at exit.
		for p in $(uf_daemon_pids_under "$UF_TMP"); do
			timeout 10 tail --pid="$p" -f /dev/null
		done
		rep=$(uf_sanitizer_reports)
		if [ -n "$rep" ]; then
			printf 'FAIL: sanitizer report(s) of the daemon:\n%s\n' "$rep"
			rc=1
		fi
		if [ -n "$(uf_mounts_under "$UF_TMP")" ]; then
			printf 'cleanup: still mounted under %s, not removing it\n' "$UF_TMP" >&2
		else
			chmod -R u+rwx "$UF_TMP" 2>/dev/null
			rm -rf --one-file-system "$UF_TMP"
		fi
	fi
	exit "$rc"
}

# ------------------------------------------------------------- mount, umount

# uf_wait_mounted MNT [SECONDS]: poll until MNT is a FUSE mount point.
uf_wait_mounted() {
	local mnt=$1 n=$((${2:-10} * 20))
	while [ "$n" -gt 0 ]; do
		if uf_is_mounted "$mnt" && mountpoint -q "$mnt"; then return 0; fi
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

uf_wait_unmounted() {
	local mnt=$1 n=$((${2:-10} * 20))
	while [ "$n" -gt 0 ]; do
		uf_is_mounted "$mnt" || return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# uf_mount_args BIN MNT ARGS...: run "BIN ARGS..." (which must daemonize and
# return 0) and wait until MNT is mounted.  The daemon's stderr is kept in
# $UF_TMP/mount.err and shown on failure.
uf_mount_args() {
	local bin=$1 mnt=$2 rc=0
	shift 2
	timeout 30 "$bin" "$@" 2>"$UF_TMP/mount.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		uf_fail "mount: $bin $*" "expected: exit 0 and a mount on $mnt" \
			"actual:   exit $rc, stderr: $(cat "$UF_TMP/mount.err")"
		return 1
	fi
	if ! uf_wait_mounted "$mnt" 10; then
		uf_fail "mount: $bin $*" "expected: a FUSE mount on $mnt" \
			"actual:   none after 10 s, stderr: $(cat "$UF_TMP/mount.err")"
		return 1
	fi
	return 0
}

# uf_mount BIN BRANCHES MNT [OPTS...]: "BIN OPTS... BRANCHES MNT".
uf_mount() {
	local bin=$1 branches=$2 mnt=$3
	shift 3
	uf_mount_args "$bin" "$mnt" "$@" "$branches" "$mnt"
}

# uf_umount MNT: fusermount3 -u and wait until the mount is gone.
uf_umount() {
	local out rc=0 pid
	pid=$(uf_daemon_pid "$1")
	out=$(timeout 20 fusermount3 -u "$1" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		uf_fail "unmount $1" "command: fusermount3 -u $1" "expected: exit 0" "actual:   exit $rc: $out"
		return 1
	fi
	if ! uf_wait_unmounted "$1" 10; then
		uf_fail "unmount $1" "expected: mount gone" "actual:   still in mountinfo after 10 s"
		return 1
	fi
	# The daemon notices the unmount at its next read of /dev/fuse and then
	# tears down, releasing the upper's lock last: on a loaded machine that
	# may be a while after fusermount3 returns. What comes next (a remount,
	# a tool that takes the lock) waits for it, as a person would.
	if [ -n "$pid" ] && ! uf_wait_exited "$pid" 30; then
		uf_log "the daemon (pid $pid) of $1 still runs 30 s after the unmount; its threads:"
		uf_dump_threads "$pid"
	fi
	return 0
}

# uf_dump_threads PID: where each thread of PID waits (kernel stack, and
# gdb's backtrace when gdb is there), for a test's log.
uf_dump_threads() {
	local t
	for t in /proc/"$1"/task/*; do
		uf_log "thread ${t##*/}: $(cat "$t/comm" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/#   /' "$t/stack" 2>/dev/null
	done
	command -v gdb >/dev/null &&
		timeout 30 gdb -p "$1" -batch -ex 'thread apply all bt' 2>/dev/null | grep -E '^(Thread|#)' | sed 's/^/#   /'
}

# uf_wait_exited PID [SECONDS]: poll until PID is gone or a zombie (a zombie
# holds no files, so no locks: its parent may be slow to reap it).
uf_wait_exited() {
	local n=$((${2:-30} * 20)) st
	while [ "$n" -gt 0 ]; do
		st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
		case $st in '' | Z | X) return 0 ;; esac
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# ovl_mount LOWERS UPPER WORK MNT [EXTRA-OPTS]: kernel overlayfs, LOWERS in
# overlayfs order (top first, ':'-separated).  Empty UPPER: read-only.
ovl_mount() {
	local lowers=$1 upper=$2 work=$3 mnt=$4 extra=${5:-} opts out
	uf_require_overlay
	opts="lowerdir=$lowers"
	[ -n "$upper" ] && opts="$opts,upperdir=$upper,workdir=$work"
	[ -n "$extra" ] && opts="$opts,$extra"
	if ! out=$(mount -t overlay overlay -o "$opts" "$mnt" 2>&1); then
		uf_skip "mount -t overlay -o $opts $mnt failed: $out"
	fi
}

ovl_umount() {
	umount "$1"
}

# uf_daemon_pid MNT: pid of the process whose last argument is MNT.
uf_daemon_pid() {
	local p last
	for p in /proc/[0-9]*; do
		[ -r "$p/cmdline" ] || continue
		last=$(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | tail -n 1)
		if [ "$last" = "$1" ] && [ "${p#/proc/}" != "$$" ]; then
			case $(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1) in
			*unionfuse*) echo "${p#/proc/}"; return 0 ;;
			esac
		fi
	done
	return 1
}

# uf_as_nobody CMD...: run CMD as nobody:nogroup with no supplementary groups.
uf_as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

# uf_fsutil_nobody ARGS...: fsutil.py run as nobody, from a copy in $UF_TMP
# (the source tree may not be readable by nobody).
uf_fsutil_nobody() {
	[ -r "$UF_TMP/fsutil.py" ] || install -m 0644 "$UF_LIB/fsutil.py" "$UF_TMP/fsutil.py"
	uf_as_nobody "$UF_PYTHON" "$UF_TMP/fsutil.py" "$@"
}

# ------------------------------------------------------------------- views

# tree_snapshot DIR: canonical, sorted description of DIR (see fsutil.py).
tree_snapshot() { uf_fsutil snapshot "$1"; }

# tree_brief DIR: "TYPE PATH CONTENT-OR-TARGET" per entry, sorted by path.
tree_brief() { uf_fsutil brief "$1"; }

# ino_check DIR: d_ino == st_ino, unique names incl. . and .., st_ino shared
# only by hard links.  Prints "LINKS: ..." groups and "ERROR: ..." lines.
ino_check() { uf_fsutil inocheck "$1"; }

# ------------------------------------------------------------ differential

# uf_diff_views LABEL KERNEL-MNT UNIONFUSE-MNT: tree_snapshot of both must be
# identical.
uf_diff_views() {
	local k f
	k=$(tree_snapshot "$2")
	f=$(tree_snapshot "$3")
	if [ "$k" == "$f" ]; then
		uf_pass "$1: tree_snapshot identical ($(printf '%s\n' "$k" | wc -l) entries)"
	else
		uf_fail "$1: tree_snapshot differs (-kernel +unionfuse)" \
			"command: diff <(tree_snapshot $2) <(tree_snapshot $3)" \
			"$(diff -u <(printf '%s\n' "$k") <(printf '%s\n' "$f") | tail -n +3 | grep '^[-+]' | head -n 60)"
	fi
}

# uf_diff_probes LABEL KERNEL-MNT UNIONFUSE-MNT < PROBES: run each
# "OP RELPATH ARGS..." line with fsutil.py errno on both mounts; results must
# match.  One assertion for the whole list, listing every mismatch.
uf_diff_probes() {
	local label=$1 km=$2 fm=$3 op rel args k f n=0 bad=()
	while read -r op rel args; do
		[ -n "$op" ] || continue
		n=$((n + 1))
		# shellcheck disable=SC2086
		k=$(uf_fsutil errno "$op" "$km/$rel" $args 2>&1)
		# shellcheck disable=SC2086
		f=$(uf_fsutil errno "$op" "$fm/$rel" $args 2>&1)
		[ "$k" == "$f" ] || bad+=("fsutil.py errno $op MNT/$rel${args:+ $args}: kernel '$k', unionfuse '$f'")
	done
	if [ ${#bad[@]} -eq 0 ]; then
		uf_pass "$label: $n probes give the same result"
	else
		uf_fail "$label: ${#bad[@]} of $n probes differ" "${bad[@]}"
	fi
}
