#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The other ways to spell a mount: "-o lowerdir=TOP:BOTTOM,upperdir=U,
# workdir=W" gives the same view as "BOTTOM:TOP:U"; "\:" escapes a colon in
# a branch path; -o fsname=; -o allow_other,default_permissions as seen by
# user nobody; -V and -h exit 0 without mounting.
# Usage: mount-forms.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd setpriv findmnt
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$M"
uf_build_layers "$T" "${UF_TREE_FORM:-mixed}" || { uf_fail "building the test tree"; uf_finish; }

# --- BRANCHES form vs overlayfs-style options
snap_branches=
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M"; then
	snap_branches=$(tree_snapshot "$M")
	uf_umount "$M"
fi
if uf_mount_args "$BIN" "$M" -o "lowerdir=$T/b2:$T/b1,upperdir=$T/u,workdir=$T/w" "$M"; then
	uf_check_eq "lowerdir=b2:b1,upperdir=u,workdir=w: expected view" "$UF_LAYERS_BRIEF" \
		"$(tree_brief "$M")" "tree_brief $M"
	uf_check_eq "lowerdir=..,upperdir=..,workdir=..: same snapshot as b1:b2:u" "$snap_branches" \
		"$(tree_snapshot "$M")" "tree_snapshot $M"
	uf_check_out "top-first order: a.txt comes from b2" "b2 a" cat "$M/a.txt"
	uf_umount "$M"
fi
if uf_mount_args "$BIN" "$M" -o "lowerdir=$T/u:$T/b2:$T/b1" "$M"; then
	uf_check_out "lowerdir=u:b2:b1 (read-only, 3 lowers): merged/same from the top" "u same" cat "$M/merged/same"
	uf_check_out "lowerdir=u:b2:b1: ls merged" "$(printf '%s\n' hl3 m1 m2 m3 same sub)" ls "$M/merged"
	uf_check_errno "lowerdir=u:b2:b1: whiteout in the top lower" ENOENT lstat "$M/wh_uc.txt"
	uf_umount "$M"
fi

# --- "\:" in a branch path
C=$UF_TMP/colon
mkdir -p "$C/lo:wer" "$C/up:per"
printf 'colon' >"$C/lo:wer/c"
printf 'upper colon' >"$C/up:per/d"
if uf_mount "$BIN" "$C/lo\\:wer:$C/up\\:per" "$M"; then
	uf_check_out "'\\:' escapes a colon: lower file" "colon" cat "$M/c"
	uf_check_out "'\\:' escapes a colon: upper file" "upper colon" cat "$M/d"
	uf_check_out "'\\:' escapes a colon: listing" "$(printf '%s\n' c d)" ls "$M"
	uf_umount "$M"
fi

# --- -o fsname=
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" -o fsname=myunion; then
	uf_check_out "-o fsname=myunion is the mount source" "myunion" findmnt -n -o SOURCE "$M"
	uf_umount "$M"
fi

# --- -o allow_other,default_permissions seen by nobody
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" -o allow_other,default_permissions; then
	uf_check_out "allow_other: nobody reads a 0644 file" "b2 a" uf_as_nobody cat "$M/a.txt"
	uf_check_out "default_permissions: nobody may not read perms.txt (0640 1234:5678)" "EACCES" \
		uf_fsutil_nobody errno open "$M/perms.txt"
	uf_check_out "default_permissions: nobody may not write a root 0644 file" "EACCES" \
		uf_fsutil_nobody errno open "$M/a.txt" O_WRONLY
	uf_check_out "allow_other: nobody lists the root" "OK 28" uf_fsutil_nobody errno listdir "$M"
	uf_umount "$M"
fi
# As root allow_other is the default (mount-options.sh has the details);
# -o noallow_other turns it off.
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M"; then
	uf_check_out "root's default is allow_other: nobody stats a file" "OK" uf_fsutil_nobody errno stat "$M/a.txt"
	uf_umount "$M"
fi
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" -o noallow_other; then
	uf_check_out "with -o noallow_other nobody is refused" "EACCES" uf_fsutil_nobody errno stat "$M/a.txt"
	uf_umount "$M"
fi

# --- -V, -h
before=$(find "$UF_TMP" -printf '%p %y\n' | sort)
out=$(timeout 10 "$BIN" -V 2>&1 </dev/null)
uf_check_eq "-V exits 0" "0" "$?"
if printf '%s' "$out" | grep -Eq 'unionfuse.*[0-9]+\.[0-9]+\.[0-9]+'; then uf_pass "-V prints 'unionfuse' and a version"; else
	uf_fail "-V prints 'unionfuse' and a version" "command: $BIN -V" "expected: unionfuse ... X.Y.Z" "actual:   $out"
fi
out=$(timeout 10 "$BIN" --version 2>&1 </dev/null)
uf_check_eq "--version exits 0" "0" "$?"
out=$(timeout 10 "$BIN" -h 2>&1 </dev/null)
uf_check_eq "-h exits 0" "0" "$?"
if printf '%s' "$out" | grep -qi usage; then
	uf_pass "-h prints a usage text"
else
	uf_fail "-h prints a usage text" "command: $BIN -h" "expected: a text with 'usage'" "actual:   $out"
fi
out=$(timeout 10 "$BIN" --help "$T/b1:$T/u" "$M" 2>&1 </dev/null)
uf_check_eq "--help with branches and mountpoint exits 0" "0" "$?"
uf_check_eq "-V/-h mounted nothing" "" "$(uf_mounts_under "$UF_TMP")"
uf_check_eq "-V/-h created nothing" "$before" "$(find "$UF_TMP" -printf '%p %y\n' | sort)"
uf_finish
