#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse unify: three sandboxes' uppers with shared and differing files
# are unified into one store (a data-only branch); each sandbox then mounts
# with the printed options, by the kernel overlayfs and by unionfuse alike,
# showing exactly the tree it showed before (content, modes, owners,
# xattrs, mtimes). A write copies up without touching the store or the
# other sandboxes; a re-run is a no-op; a mounted upper is refused. Hostile
# stubs (redirects out of the store, to a dir, to or through a symlink)
# give EIO, as the kernel's, and read nothing. A metacopy file made by the
# kernel, its data moved by hand into a data-only branch (overlayfs.rst),
# reads the same through unionfuse.
# Usage: tool-unify.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd setfattr getfattr
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
K=$UF_TMP/kmnt
S=$T/store
mkdir -p "$M" "$K"
head -c 70000 /dev/urandom >"$UF_TMP/big"
head -c 9000 /dev/urandom >"$UF_TMP/doc"
head -c 2000 /dev/urandom >"$UF_TMP/small"

for n in 1 2 3; do
	B=$T/sb$n
	mkdir -p "$B/lower/etc" "$B/upper/usr/lib" "$B/upper/usr/share" "$B/upper/etc" "$B/kwork"
	echo "lower conf $n" >"$B/lower/etc/conf"
	echo "lower only $n" >"$B/lower/etc/base"
	# Shared by all three, each with its own owner, mode, xattr, mtime.
	cp "$UF_TMP/big" "$B/upper/usr/lib/big.so"
	chown "$n:$((n + 10))" "$B/upper/usr/lib/big.so"
	chmod "75$n" "$B/upper/usr/lib/big.so"
	setfattr -n user.tag -v "sandbox $n" "$B/upper/usr/lib/big.so"
	touch -d "2020-01-0$n 12:00:00" "$B/upper/usr/lib/big.so"
	# Hides the lower's etc/conf: its stub must hide it too.
	cp "$UF_TMP/big" "$B/upper/etc/conf"
	cp "$UF_TMP/small" "$B/upper/usr/share/small"
done
cp "$UF_TMP/doc" "$T/sb1/upper/usr/share/doc"
cp "$UF_TMP/doc" "$T/sb2/upper/usr/share/doc"
head -c 9000 /dev/urandom >"$T/sb3/upper/usr/share/doc" # differs: stays
ln "$T/sb1/upper/usr/lib/big.so" "$T/sb1/upper/usr/lib/big-link.so" # nlink 2: stays
mkdir -p "$T/sb2/upper/opq"
cp "$UF_TMP/big" "$T/sb2/upper/opq/big"
setfattr -n trusted.overlay.opaque -v y "$T/sb2/upper/opq" # under an opaque dir: stays
cp "$UF_TMP/big" "$T/sb3/upper/usr/lib/origin.so"
setfattr -n trusted.overlay.origin -v x "$T/sb3/upper/usr/lib/origin.so" # overlay.*: stays

# The views before, by the kernel (the oracle).
view() { tree_snapshot "$1"; (cd "$1" && find . -type f -printf '%p %T@\n' | sort); }
for n in 1 2 3; do
	B=$T/sb$n
	ovl_mount "$B/lower" "$B/upper" "$B/kwork" "$K"
	view "$K" >"$UF_TMP/before$n"
	ovl_umount "$K"
	rm -rf "$B/kwork"
done
lowers_before=$(cd "$T" && find sb*/lower -type f -exec sha256sum {} + | sort)

out=$("$BIN" unify --store "$S" "$T/sb1/lower:$T/sb1/upper" "$T/sb2/lower:$T/sb2/upper" \
	"$T/sb3/lower:$T/sb3/upper" 2>"$UF_TMP/unify.err")
rc=$?
uf_check_eq "unify exits 0" "0" "$rc" "$(cat "$UF_TMP/unify.err")"
uf_check_eq "one line per sandbox, in order" \
	"lowerdir=$T/sb1/upper.stubs:$T/sb1/lower::$S,upperdir=$T/sb1/upper,workdir=$T/sb1/upper.work,metacopy=on
lowerdir=$T/sb2/upper.stubs:$T/sb2/lower::$S,upperdir=$T/sb2/upper,workdir=$T/sb2/upper.work,metacopy=on
lowerdir=$T/sb3/upper.stubs:$T/sb3/lower::$S,upperdir=$T/sb3/upper,workdir=$T/sb3/upper.work,metacopy=on" "$out"
big=$(sha256sum <"$UF_TMP/big" | cut -c1-64)
doc=$(sha256sum <"$UF_TMP/doc" | cut -c1-64)
uf_check_eq "the store holds one object per shared content" \
	"$(printf '%s\n' "objects/${big:0:2}/${big:2}" "objects/${doc:0:2}/${doc:2}" | sort)" \
	"$(cd "$S" && find . -type f | sed 's|^\./||' | sort)"
uf_check_eq "the objects hold their content" "$big" "$(sha256sum <"$S/objects/${big:0:2}/${big:2}" | cut -c1-64)"
uf_check_eq "what stays in the uppers" \
	"sb1/upper/usr/lib/big-link.so
sb1/upper/usr/lib/big.so
sb1/upper/usr/share/small
sb2/upper/opq/big
sb2/upper/usr/share/small
sb3/upper/usr/lib/origin.so
sb3/upper/usr/share/doc
sb3/upper/usr/share/small" "$(cd "$T" && find sb*/upper -type f | sort)"
uf_check_eq "the stubs" \
	"sb1/upper.stubs/etc/conf
sb1/upper.stubs/usr/share/doc
sb2/upper.stubs/etc/conf
sb2/upper.stubs/usr/lib/big.so
sb2/upper.stubs/usr/share/doc
sb3/upper.stubs/etc/conf
sb3/upper.stubs/usr/lib/big.so" "$(cd "$T" && find sb*/upper.stubs -type f | sort)"
# (st_blocks may count an xattr block: at most 8 of 512 bytes.)
uf_check_out "a stub: metacopy, absolute redirect, own xattr, no data blocks" \
	"# file: $T/sb2/upper.stubs/usr/lib/big.so
trusted.overlay.metacopy=\"\"
trusted.overlay.redirect=\"/objects/${big:0:2}/${big:2}\"
user.tag=\"sandbox 2\"
70000 sparse" bash -c 'getfattr -h --absolute-names -d -m- "$1" | grep .; echo $(stat -c %s "$1") $([ $(stat -c %b "$1") -le 8 ] && echo sparse)' _ "$T/sb2/upper.stubs/usr/lib/big.so"
uf_check_eq "lowers untouched" "$lowers_before" "$(cd "$T" && find sb*/lower -type f -exec sha256sum {} + | sort)"

# Each sandbox with its line: the kernel and unionfuse show the old view.
for n in 1 2 3; do
	line=$(sed -n "${n}p" <<<"$out")
	if out2=$(mount -t overlay overlay -o "$line" "$K" 2>&1); then
		uf_check_eq "sandbox $n by the kernel: the same view as before" "$(cat "$UF_TMP/before$n")" "$(view "$K")"
		umount "$K"
	else
		uf_fail "kernel mount of sandbox $n" "mount -o $line" "$out2"
	fi
	uf_mount_args "$BIN" "$M" -o "$line" "$M" || uf_finish
	uf_check_eq "sandbox $n by unionfuse: the same view as before" "$(cat "$UF_TMP/before$n")" "$(view "$M")"
	uf_umount "$M"
done

# mmap, st_blocks, a write that copies up; the store and sandbox 3 stay.
line2=$(sed -n 2p <<<"$out")
uf_mount_args "$BIN" "$M" -o "$line2" "$M" || uf_finish
uf_check_out "mmap reads the store's data" "$big" python3 -c '
import hashlib, mmap, sys
with open(sys.argv[1], "rb") as f:
    print(hashlib.sha256(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)).hexdigest())' "$M/usr/lib/big.so"
uf_umount "$M"
# passthrough=on (3.18, root): the store file is the backing file.
uf_mount_args "$BIN" "$M" -o "$line2,passthrough=on" "$M" || uf_finish
uf_check_eq "passthrough=on reads the store's data" "$big" "$(sha256sum <"$M/usr/lib/big.so" | cut -c1-64)"
uf_check_eq "st_blocks are the data's" "$(stat -c %b "$S/objects/${big:0:2}/${big:2}")" "$(stat -c %b "$M/usr/lib/big.so")"
uf_check_errno "the stub's own xattr shows" "OK sandbox 2" getxattr "$M/usr/lib/big.so" user.tag
printf 'appended' >>"$M/usr/lib/big.so"
uf_check_eq "the write shows" "70008" "$(stat -c %s "$M/usr/lib/big.so")"
uf_umount "$M"
# (overlay.origin, the stub's file handle, is what any copy-up records.)
uf_check_out "the copy-up is a whole file with the stub's metadata, no metacopy or redirect" \
	"70008 752 2:12 user.tag=\"sandbox 2\"" \
	bash -c 'echo $(stat -c "%s %a %u:%g" "$1") $(getfattr -h --absolute-names -d -m- "$1" | grep = | grep -v "^trusted.overlay.origin=")' _ "$T/sb2/upper/usr/lib/big.so"
uf_check "its data is the old content and the append" cmp "$T/sb2/upper/usr/lib/big.so" <(cat "$UF_TMP/big"; printf appended)
uf_check_eq "the store object is unchanged" "$big" "$(sha256sum <"$S/objects/${big:0:2}/${big:2}" | cut -c1-64)"
uf_mount_args "$BIN" "$M" -o "$(sed -n 3p <<<"$out")" "$M" || uf_finish
uf_check_eq "sandbox 3 is unchanged" "$(cat "$UF_TMP/before3")" "$(view "$M")"

# Refused while mounted (sandbox 3 is).
state() { (cd "$T" && find . -path '*/upper.work' -prune -o -printf '%p %s %m\n' | sort); }
st_before=$(state)
rc=0
"$BIN" unify --store "$S" "$T/sb3/lower:$T/sb3/upper" >/dev/null 2>"$UF_TMP/unify.err" || rc=$?
uf_check_eq "refused while mounted: exit 2" "2" "$rc"
uf_check "it says why" grep -q "in use" "$UF_TMP/unify.err"
uf_umount "$M"

# A re-run changes nothing.
rc=0
"$BIN" unify --store "$S" "$T/sb1/lower:$T/sb1/upper" "$T/sb2/lower:$T/sb2/upper" \
	"$T/sb3/lower:$T/sb3/upper" >/dev/null 2>"$UF_TMP/unify.err" || rc=$?
uf_check_eq "re-run exits 0" "0" "$rc"
uf_check "re-run moves nothing" grep -q " 0 files (0 bytes) moved" "$UF_TMP/unify.err"
uf_check_eq "re-run changes nothing on disk" "$st_before" "$(state)"

# Hostile stubs: EIO, as the kernel, and nothing outside the store read.
H=$T/hostile
mkdir -p "$H/stubs" "$H/upper" "$H/work" "$H/kwork" "$S/objects/dir"
ln -s /etc/passwd "$S/objects/link"
ln -s /etc "$S/lnk"
stub() {
	truncate -s 1000 "$H/stubs/$1"
	setfattr -n trusted.overlay.metacopy "$H/stubs/$1"
	setfattr -n trusted.overlay.redirect -v "$2" "$H/stubs/$1"
}
stub escape /../etc/passwd
stub dots /objects/../../etc/passwd
stub dir /objects/dir
stub link /objects/link
stub through /lnk/passwd
stub missing /objects/none
stub ok "/objects/${big:0:2}/${big:2}"
truncate -s 70000 "$H/stubs/ok"
uf_mount_args "$BIN" "$M" -o "lowerdir=$H/stubs::$S,upperdir=$H/upper,workdir=$H/work" "$M" || uf_finish
mount -t overlay overlay -o "lowerdir=$H/stubs::$S,upperdir=$H/upper,workdir=$H/kwork" "$K" ||
	uf_fail "kernel mount of the hostile stubs"
# The kernel finds the data of a data-only branch at the first open (stat
# works, open fails with its walk's errno); unionfuse at the lookup: EIO.
for f in escape dots dir link through missing; do
	uf_check_errno "hostile stub $f: EIO" "EIO" read "$M/$f"
	kr=$(uf_fsutil errno read "$K/$f" 2>&1)
	case $kr in
	OK*) uf_fail "hostile stub $f: the kernel reads it too?" "$kr" ;;
	*) uf_pass "hostile stub $f: the kernel refuses it too ($kr)" ;;
	esac
done
uf_check_eq "a good stub in the same branch reads" "$big" "$(sha256sum <"$M/ok" | cut -c1-64)"
umount "$K"
uf_umount "$M"
uf_check_eq "nothing landed in the hostile upper" "" "$(ls -A "$H/upper")"

# -o userxattr as root: user.overlay.* stubs are not followed (EPERM).
mkdir -p "$H/ustubs" "$H/uupper" "$H/uwork"
truncate -s 70000 "$H/ustubs/f"
setfattr -n user.overlay.metacopy "$H/ustubs/f"
setfattr -n user.overlay.redirect -v "/objects/${big:0:2}/${big:2}" "$H/ustubs/f"
uf_mount_args "$BIN" "$M" -o "lowerdir=$H/ustubs::$S,upperdir=$H/uupper,workdir=$H/uwork,userxattr" "$M" || uf_finish
uf_check_errno "userxattr as root: a stub is not followed" "EPERM" read "$M/f"
uf_umount "$M"

# A metacopy file the kernel made, its data moved into a data-only branch
# by hand (overlayfs.rst, "Data-only lower layers"): unionfuse reads it as
# the kernel does, by the bottom-first form too.
D=$T/kmade
mkdir -p "$D/l" "$D/u" "$D/w" "$D/data/d" "$D/u2" "$D/w2" "$D/w3"
head -c 200000 /dev/urandom >"$D/l/file"
ovl_mount "$D/l" "$D/u" "$D/w" "$K" "metacopy=on"
chmod 600 "$K/file"
chown 7:8 "$K/file"
ovl_umount "$K"
uf_check "the kernel made a metacopy file" getfattr -h --absolute-names -n trusted.overlay.metacopy "$D/u/file"
want=$(sha256sum <"$D/l/file" | cut -c1-64)
mv "$D/l/file" "$D/data/d/file"
setfattr -n trusted.overlay.redirect -v /d/file "$D/u/file"
mount -t overlay overlay -o "lowerdir=$D/u::$D/data,upperdir=$D/u2,workdir=$D/w2" "$K" ||
	uf_fail "kernel mount of the hand-made data-only branch"
uf_check_eq "the kernel reads it" "600 7:8 200000 $want" "$(stat -c '%a %u:%g %s' "$K/file") $(sha256sum <"$K/file" | cut -c1-64)"
umount "$K"
uf_mount "$BIN" "$D/data::$D/u:$D/u2" "$M" -o workdir="$D/w3" || uf_finish
uf_check_eq "unionfuse reads it (positional DATA::LOWER:UPPER)" "600 7:8 200000 $want" \
	"$(stat -c '%a %u:%g %s' "$M/file") $(sha256sum <"$M/file" | cut -c1-64)"
uf_check_out "data-only branches are not listed" "file" ls -A "$M"
uf_check_errno "nor looked up" "ENOENT" stat "$M/d"
uf_umount "$M"
uf_finish
