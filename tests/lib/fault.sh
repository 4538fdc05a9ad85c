# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The body of tests/integration/fault-*.sh: one resource made scarce under
# every namespace operation (helpers/faultrun.py says how and what is
# checked).  Three lowers on the test's tmpdir, the upper on a tmpfs of its
# own (so that its inodes and bytes can be limited by a remount), the daemon
# in the foreground under prlimit (so that its RLIMIT_NOFILE can be lowered
# and raised by pid).
#
# fault_main BIN RESOURCE K...: K are the headrooms tried, in inodes, pages
# or free fd slots.

fault_main() {
	local bin=$1 res=$2 out rc line
	shift 2
	uf_require_fuse "$bin"
	uf_require_root
	uf_require_cmd prlimit setfattr
	uf_tmp
	local run=$(cd "$(dirname "$0")" && pwd)/helpers/faultrun.py
	local T=$UF_TMP M=$UF_TMP/mnt
	mkdir -p "$T/l0" "$T/l1" "$T/l2" "$T/ut" "$M"
	mount -t tmpfs -o nr_inodes=1000000,size=1g,mode=0755 tmpfs "$T/ut" ||
		uf_skip "cannot mount a tmpfs"
	mkdir "$T/ut/u"
	"$UF_PYTHON" "$run" build "$T/l0" "$T/l1" "$T/l2" "$T/ut/u" $# ||
		{ uf_fail "build the scenario trees"; uf_finish; }
	local lower_sum
	lower_sum=$(cd "$T" && find l0 l1 l2 -type f -print0 | sort -z | xargs -0 sha256sum)

	# Room for the fds of every directory the test leaves looked up; the
	# fds test lowers the soft limit around each call.
	prlimit --nofile=16384:16384 "$bin" -f "$T/l0:$T/l1:$T/l2:$T/ut/u" "$M" 2>"$T/daemon.err" &
	local dpid=$!
	if ! uf_wait_mounted "$M" 10; then
		uf_fail "daemon mounts" "$(cat "$T/daemon.err")"
		uf_finish
	fi
	local t0=$SECONDS
	out=$(timeout 300 "$UF_PYTHON" "$run" run "$res" "$M" "$T/l0" "$T/l1" "$T/l2" "$T/ut/u" \
		"$dpid" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
	uf_log "$res faults: $(($# + 1)) calls per operation in $((SECONDS - t0)) s"
	line=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		UF_NPASS=$((UF_NPASS + BASH_REMATCH[1]))
		UF_NFAIL=$((UF_NFAIL + BASH_REMATCH[2]))
	else
		uf_fail "faultrun.py ran to its end (exit $rc)"
	fi
	if kill -0 "$dpid" 2>/dev/null; then
		uf_pass "the daemon is alive after the faults"
	else
		uf_fail "the daemon is alive after the faults" "stderr: $(tail -n 20 "$T/daemon.err")"
	fi
	uf_umount "$M"
	wait "$dpid" 2>/dev/null
	uf_check_eq "the lowers are unchanged" "$lower_sum" \
		"$(cd "$T" && find l0 l1 l2 -type f -print0 | sort -z | xargs -0 sha256sum)"
	umount "$T/ut"
	uf_finish
}
