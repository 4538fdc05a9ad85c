#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse check on planted damage, each kind, with and without --repair:
# copy-up temporaries, ".wh." entries of the wrong type (a char device that
# is not 0/0 under an ordinary name is no whiteout), invalid, dangling and
# looping redirects, metacopy files with an invalid mark or without lower
# data. Exit codes as fsck (0, 1, 4, 8, or'ed); refused while mounted; the
# upper made by a real session is clean; after --repair the union mounts
# and shows what it showed; the lowers are untouched.
# Usage: tool-check.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd setfattr
uf_tmp

L=$UF_TMP/lower U=$UF_TMP/upper M=$UF_TMP/mnt
mkdir -p "$L/d_ren/in" "$L/d_merged/sub" "$U" "$M"
printf 'keep\n' >"$L/f_keep"
printf 'x\n' >"$L/d_ren/in/z"
head -c 100000 /dev/zero >"$L/f_meta"
before=$(cd "$L" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)

# --- a real session leaves a clean upper
uf_mount "$BIN" "$L:$U" "$M" -o metacopy=on || uf_finish
mv "$M/d_ren" "$M/d_new"
chmod 0600 "$M/f_meta"
rm "$M/f_keep"
printf 'n\n' >"$M/d_merged/new"
out=$("$BIN" check "$L:$U" 2>&1)
uf_check_eq "refused while mounted: exit 8" "8" "$?"
case $out in
*"upper '$U' is in use by pid "*"unmount it first"*) uf_pass "says who uses the upper" ;;
*) uf_fail "says who uses the upper" "actual: $out" ;;
esac
uf_check_out "--repair refused while mounted too" "8" sh -c "'$BIN' check --repair '$L:$U' >/dev/null 2>&1; echo \$?"
pid=$(uf_daemon_pid "$M")
uf_umount "$M"
# The daemon drops the upper's lock when it exits, which may be a while
# after the unmount on a loaded machine; check waits 5 s only.
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
uf_check_out "the session's upper is clean: exit 0, no output" "" "$BIN" check "$L:$U"

# --- planted damage
mkdir "$U/.wh..wh.uf-tmp.99999.1" && printf 'half\n' >"$U/.wh..wh.uf-tmp.99999.1/f"
printf 'half\n' >"$U/d_new/.wh..wh.uf-tmp.99999.2"
mkdir "$U/.wh.gone" && printf 'data\n' >"$U/.wh.gone/keepme"
mknod "$U/.wh.other" c 1 3
mknod "$U/dev13" c 1 3 # just a device
mkdir "$U/dang" && printf 'u\n' >"$U/dang/mine" && setfattr -n trusted.overlay.redirect -v /nonexistent "$U/dang"
mkdir "$U/inval" && setfattr -n trusted.overlay.redirect -v 'a/b' "$U/inval"
mkdir "$U/inval2" && setfattr -n trusted.overlay.redirect -v '/d_merged/../d_ren' "$U/inval2"
mkdir "$U/d_merged/sub" && setfattr -n trusted.overlay.redirect -v /d_merged "$U/d_merged/sub"
printf '' >"$U/orphan" && setfattr -n trusted.overlay.metacopy "$U/orphan"
printf '' >"$U/mcbad" && setfattr -n trusted.overlay.metacopy -v 0xff "$U/mcbad"

report="temporary .wh..wh.uf-tmp.99999.1: left by a daemon that died
whiteout-type .wh.gone: not a regular file: it whites out nothing
whiteout-type .wh.other: not a regular file: it whites out nothing
redirect-loop d_merged/sub: redirect to '/d_merged', its own ancestor or descendant
temporary d_new/.wh..wh.uf-tmp.99999.2: left by a daemon that died
redirect-dangling dang: redirect to '/nonexistent': no directory there in the lowers
redirect-invalid inval: invalid overlay.redirect (Invalid argument)
redirect-invalid inval2: invalid overlay.redirect (Permission denied)
metacopy-invalid mcbad: invalid overlay.metacopy (reads fail)
metacopy-nodata orphan: metadata-only copy without a lower file holding its data"
out=$("$BIN" check "$L:$U" 2>&1)
uf_check_eq "without --repair: exit 4" "4" "$?"
uf_check_eq "without --repair: each kind found, in tree order" "$report
10 problems, 0 repaired" "$out"
uf_check_eq "without --repair nothing changed" "yes yes" \
	"$([ -e "$U/.wh..wh.uf-tmp.99999.1/f" ] && echo yes) $(getfattr -h --only-values -n trusted.overlay.redirect "$U/dang" >/dev/null 2>&1 && echo yes)"

out=$("$BIN" check --repair "$L:$U" 2>&1)
uf_check_eq "--repair: exit 5 (1 corrected | 4 left)" "5" "$?"
uf_check_eq "--repair says what it did" "temporary .wh..wh.uf-tmp.99999.1: left by a daemon that died [removed]
whiteout-type .wh.gone: not a regular file: it whites out nothing [left]
whiteout-type .wh.other: not a regular file: it whites out nothing [left]
redirect-loop d_merged/sub: redirect to '/d_merged', its own ancestor or descendant [left]
temporary d_new/.wh..wh.uf-tmp.99999.2: left by a daemon that died [removed]
redirect-dangling dang: redirect to '/nonexistent': no directory there in the lowers [made opaque]
redirect-invalid inval: invalid overlay.redirect (Invalid argument) [made opaque]
redirect-invalid inval2: invalid overlay.redirect (Permission denied) [made opaque]
metacopy-invalid mcbad: invalid overlay.metacopy (reads fail) [left]
metacopy-nodata orphan: metadata-only copy without a lower file holding its data [left]
10 problems, 5 repaired" "$out"
uf_check_eq "temporaries gone" "" "$(find "$U" -name '.wh..wh.uf-tmp.*')"
uf_check_eq "dang: opaque, no redirect, its file kept" "y none mine" \
	"$(getfattr -h --only-values -n trusted.overlay.opaque "$U/dang" 2>/dev/null) $(getfattr -h --only-values -n trusted.overlay.redirect "$U/dang" >/dev/null 2>&1 && echo left || echo none) $(ls "$U/dang")"
uf_check_eq "wrong-type .wh. dir kept with its data" "data" "$(cat "$U/.wh.gone/keepme")"

out=$("$BIN" check --repair "$L:$U" 2>&1)
uf_check_eq "second --repair: only what is left, exit 4" "4 5" "$? $(printf '%s\n' "$out" | grep -c '\[left\]')"

rm -r "$U/.wh.gone" "$U/.wh.other" "$U/mcbad" "$U/orphan"
setfattr -x trusted.overlay.redirect "$U/d_merged/sub"
uf_check_out "hand-cleaned: exit 0" "" "$BIN" check "$L:$U"

# --- the repaired upper mounts and shows the session's changes
uf_mount "$BIN" "$L:$U" "$M" || uf_finish
uf_check_eq "the union after repair" "d_merged d_new dang dev13 f_meta inval inval2 | in | mine | new sub" \
	"$(echo $(ls "$M") \| $(ls "$M/d_new") \| $(ls "$M/dang") \| $(ls "$M/d_merged"))"
uf_umount "$M"
uf_check_eq "the lowers are untouched" "$before" "$(cd "$L" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)"

# --- operational errors and usage
uf_check_out "missing upper: exit 8" "unionfuse check: branch '$UF_TMP/nope': No such file or directory [exit 8]" \
	"$BIN" check "$L:$UF_TMP/nope"
uf_check_eq "bad usage: exit 16" "16" "$("$BIN" check --bogus "$L:$U" >/dev/null 2>&1; echo $?)"
uf_finish
