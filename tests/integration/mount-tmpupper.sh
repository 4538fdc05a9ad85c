#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# -o tmpupper: only lowers are given, the upper is ephemeral. On the
# daemon's private tmpfs (root): writes work, the lowers stay untouched, the
# tmpfs is seen by nobody (not in the mount table, nothing in /run), a full
# tmpfs is ENOSPC with one log line, and nothing is left after unmount,
# SIGTERM or even SIGKILL. With tmpupper=DIR: the upper is a fresh
# DIR/unionfuse-XXXXXX, removed at unmount and SIGTERM; after SIGKILL the
# next tmpupper mount in DIR removes it. Bad combinations: one line, exit 1.
# Usage: mount-tmpupper.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

L1=$UF_TMP/base
L2=$UF_TMP/updates
M=$UF_TMP/mnt
D=$UF_TMP/dir
mkdir -p "$L1/etc" "$L2/etc" "$M" "$D"
chmod 0751 "$L2"
printf 'base\n' >"$L1/etc/a"
printf 'update\n' >"$L2/etc/b"
lowers_before=$(tree_snapshot "$UF_TMP/base"; tree_snapshot "$UF_TMP/updates")
run_before=$(ls -A /run/unionfuse 2>/dev/null)

# run_entries: /run/unionfuse/tmpupper-* dirs now, minus those before.
new_run_entries() { comm -13 <(printf '%s\n' "$run_before") <(ls -A /run/unionfuse 2>/dev/null); }

# --- private tmpfs
if uf_mount "$BIN" "$L1:$L2" "$M" -o tmpupper; then
	uf_check_out "both lowers merged" "$(printf '%s\n' a b)" ls "$M/etc"
	uf_check_out "the source is the branch list as given" "$L1:$L2" findmnt -n -o SOURCE "$M"
	uf_check_out "the union's root has the top lower's mode" "751" stat -c %a "$M"
	printf 'new\n' >"$M/etc/c" && printf 'changed\n' >"$M/etc/a" && rm "$M/etc/b"
	uf_check_out "writes land in the ephemeral upper" "$(printf '%s\n' a c)" ls "$M/etc"
	uf_check_out "copy-up of a lower file" "changed" cat "$M/etc/a"
	uf_check_eq "no tmpfs in our mount table under /run/unionfuse" "" \
		"$(grep ' /run/unionfuse' /proc/self/mountinfo)"
	uf_check_eq "nothing left in /run/unionfuse while mounted" "" "$(new_run_entries)"
	pid=$(uf_daemon_pid "$M")
	uf_check_eq "the daemon's own mount table has no tmpfs there either" "" \
		"$(grep ' /run/unionfuse' "/proc/$pid/mountinfo" 2>/dev/null)"
	uf_umount "$M"
fi
uf_check_eq "lowers untouched" "$lowers_before" "$(tree_snapshot "$UF_TMP/base"; tree_snapshot "$UF_TMP/updates")"
if uf_mount "$BIN" "$L1:$L2" "$M" -o tmpupper; then
	uf_check_out "a new mount starts empty again" "$(printf '%s\n' a b)" ls "$M/etc"
	uf_umount "$M"
fi

# --- tmpupper_size: a full tmpfs is ENOSPC, said once in the log (-f: stderr)
# The daemon sees what it answers: with passthrough (libfuse 3.18) writes go
# to the upper without it, so this part serves writes itself.
timeout 60 "$BIN" -f -o tmpupper,tmpupper_size=1m,passthrough=off "$L1:$L2" "$M" 2>"$UF_TMP/full.err" &
fg=$!
if uf_wait_mounted "$M" 10; then
	out=$(dd if=/dev/zero of="$M/big" bs=64k count=64 2>&1)
	uf_check_eq "2 MiB into a 1 MiB tmpfs: ENOSPC" "1" "$(printf '%s' "$out" | grep -c 'No space left')"
	out=$(dd if=/dev/zero of="$M/big2" bs=64k count=64 2>&1)
	uf_check_eq "and again ENOSPC" "1" "$(printf '%s' "$out" | grep -c 'No space left')"
	uf_umount "$M"
else
	uf_fail "foreground tmpupper mount" "$(cat "$UF_TMP/full.err")"
fi
wait "$fg"
uf_check_eq "foreground daemon exits 0" "0" "$?"
uf_check_eq "the log says 'full' once" "1" "$(grep -c 'tmpupper upper is full' "$UF_TMP/full.err")"
uf_check_out "the log line" "unionfuse: the -o tmpupper upper is full: writes fail with ENOSPC (-o tmpupper_size= sets its size)" \
	grep full "$UF_TMP/full.err"

# --- SIGTERM and SIGKILL leave nothing on the private tmpfs
for sig in TERM KILL; do
	if uf_mount "$BIN" "$L1:$L2" "$M" -o tmpupper; then
		printf 'x' >"$M/x"
		pid=$(uf_daemon_pid "$M")
		kill "-$sig" "$pid"
		for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
		[ "$sig" = KILL ] && umount "$M" # the kernel keeps a dead mount
		uf_wait_unmounted "$M" 10
		uf_check_eq "SIGTERM/SIGKILL ($sig): mount gone" "" "$(uf_mounts_under "$M")"
		uf_check_eq "SIGTERM/SIGKILL ($sig): nothing left in /run/unionfuse" "" "$(new_run_entries)"
	fi
done

# --- tmpupper=DIR
if uf_mount "$BIN" "$L1:$L2" "$M" -o "tmpupper=$D"; then
	printf 'in dir\n' >"$M/etc/c"
	sub=$(ls "$D")
	uf_check_eq "one fresh unionfuse-XXXXXX in DIR" "1" "$(printf '%s\n' "$sub" | grep -c '^unionfuse-......$')"
	uf_check_out "the upper's file is in DIR/unionfuse-XXXXXX/upper" "in dir" cat "$D/$sub/upper/etc/c"
	uf_umount "$M"
	for _ in $(seq 100); do [ -z "$(ls "$D")" ] && break; sleep 0.05; done
	uf_check_eq "tmpupper=DIR: removed at unmount" "" "$(ls -A "$D")"
fi
if uf_mount "$BIN" "$L1:$L2" "$M" -o "tmpupper=$D"; then
	mkdir -p "$M/etc/deep/er" && chmod 0 "$M/etc/deep"
	kill -TERM "$(uf_daemon_pid "$M")"
	uf_wait_unmounted "$M" 10
	for _ in $(seq 100); do [ -z "$(ls "$D")" ] && break; sleep 0.05; done
	uf_check_eq "tmpupper=DIR: removed at SIGTERM (with a mode 0 dir inside)" "" "$(ls -A "$D")"
fi
if uf_mount "$BIN" "$L1:$L2" "$M" -o "tmpupper=$D"; then
	printf 'x' >"$M/x"
	pid=$(uf_daemon_pid "$M")
	kill -KILL "$pid"
	for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
	umount "$M"
	stale=$(ls "$D")
	uf_check_eq "tmpupper=DIR after SIGKILL: the directory is left" "1" "$(printf '%s\n' "$stale" | grep -c '^unionfuse-')"
	mkdir "$D/unionfuse-keepme" "$D/unionfuse-123456"  # not ours: no marker
	timeout 60 "$BIN" -f -o "tmpupper=$D" "$L1:$L2" "$M" 2>"$UF_TMP/reap.err" &
	fg=$!
	if uf_wait_mounted "$M" 10; then
		uf_check_eq "the next tmpupper=DIR mount removes it" "" "$(ls "$D" | grep -Fx "$stale")"
		uf_check_eq "and says so" "1" "$(grep -c "removed the upper of a crashed -o tmpupper mount: $D/$stale" "$UF_TMP/reap.err")"
		uf_check "unmarked look-alikes stay" test -d "$D/unionfuse-keepme" -a -d "$D/unionfuse-123456"
		uf_umount "$M"
	fi
	wait "$fg"
	rmdir "$D/unionfuse-keepme" "$D/unionfuse-123456"
fi

# --- refused, one line, nothing made
uf_check_out "tmpupper with upperdir= is refused" \
	"unionfuse: -o tmpupper makes the upper: it excludes -o upperdir= [exit 1]" \
	"$BIN" -o "tmpupper,lowerdir=$L1,upperdir=$UF_TMP/u,workdir=$UF_TMP/w" "$M"
uf_check_out "tmpupper with ro is refused" "unionfuse: -o tmpupper makes the upper: it excludes -o ro [exit 1]" \
	"$BIN" -o tmpupper,ro "$L1" "$M"
uf_check_out "tmpupper_size without tmpupper is refused" \
	"unionfuse: -o tmpupper_size= is the size of the tmpfs of -o tmpupper (without =DIR) [exit 1]" \
	"$BIN" -o tmpupper_size=10m "$L1:$L2" "$M"
uf_check_out "a bad tmpupper_size is refused" \
	"unionfuse: bad -o tmpupper_size=lots: want a number with k, m, g or % [exit 1]" \
	"$BIN" -o tmpupper,tmpupper_size=lots "$L1" "$M"
uf_check_out "a missing tmpupper=DIR is refused" \
	"unionfuse: -o tmpupper=$UF_TMP/nodir: No such file or directory [exit 1]" \
	"$BIN" -o "tmpupper=$UF_TMP/nodir" "$L1" "$M"
uf_check_out "a missing lower: one line" "unionfuse: branch '$UF_TMP/nolower': No such file or directory [exit 1]" \
	"$BIN" -o tmpupper "$UF_TMP/nolower" "$M"
uf_check_eq "the failed mounts left nothing in /run/unionfuse" "" "$(new_run_entries)"
uf_check_eq "nor in DIR" "" "$(ls -A "$D")"
uf_check_eq "nothing mounted" "" "$(uf_mounts_under "$M")"
uf_check_eq "lowers untouched at the end" "$lowers_before" "$(tree_snapshot "$UF_TMP/base"; tree_snapshot "$UF_TMP/updates")"
uf_finish
