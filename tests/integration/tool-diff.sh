#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse diff on golden trees: an upper made by a scripted session
# through a real unionfuse mount (create, modify, chmod only, delete,
# rmdir+mkdir of a lower dir (opaque), rename of a lower dir (redirect),
# a metacopy chmod) and the expected text, -0 and --json output; the
# aufs whiteout form; hostile names quoted; diff runs while mounted and
# changes nothing, lowers untouched, never follows a symlink.
# Usage: tool-diff.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

L=$UF_TMP/lower U=$UF_TMP/upper M=$UF_TMP/mnt
mkdir -p "$L/d_opq/sub" "$L/d_ren/in" "$L/d_merged" "$U" "$M"
for f in f_keep f_mod f_chmod f_del d_opq/x d_ren/y d_ren/in/z d_merged/old; do
	printf 'lower %s\n' "$f" >"$L/$f"
done
head -c 100000 /dev/zero >"$L/f_meta" # metacopy needs 64 KiB
ln -s /etc/passwd "$L/link"
before=$(cd "$L" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)

# --- the session, through the mount
uf_mount "$BIN" "$L:$U" "$M" -o metacopy=on || uf_finish
printf 'new\n' >"$M/added"
printf 'changed\n' >"$M/f_mod"
chmod 0600 "$M/f_chmod"
chmod 0640 "$M/f_meta" # metacopy=on: metadata only
rm "$M/f_del"
rm -r "$M/d_opq" && mkdir "$M/d_opq" && printf 'n\n' >"$M/d_opq/fresh"
mv "$M/d_ren" "$M/d_new"
printf 'n\n' >"$M/d_merged/new"
mkdir "$M/newdir" && printf 'n\n' >"$M/newdir/inner"
sync

# --- while mounted: read-only, the view unchanged
view1=$(cd "$M" && find . -printf '%p %y %m %s\n' | sort)
out=$("$BIN" diff "$L:$U" 2>&1)
uf_check_eq "diff exits 1 when there are changes" "1" "$?"
uf_check_eq "golden text output" "A added
A d_merged/new
R d_new (renamed from d_ren)
O d_opq
A d_opq/fresh
D d_ren
M f_chmod (mode)
D f_del
M f_meta (metacopy,mode)
M f_mod (data,mtime)
A newdir
A newdir/inner" "$out"
uf_check_eq "the view is unchanged by diff" "$view1" "$(cd "$M" && find . -printf '%p %y %m %s\n' | sort)"

uf_check_eq "-0: TYPE PATH EXTRA records" \
	"A|added||A|d_merged/new||R|d_new|d_ren|O|d_opq||A|d_opq/fresh||D|d_ren||M|f_chmod|mode|D|f_del||M|f_meta|metacopy,mode|M|f_mod|data,mtime|A|newdir||A|newdir/inner||" \
	"$("$BIN" diff -0 "$L:$U" | tr '\0' '|')"

json=$("$BIN" diff --json "$L:$U")
uf_check_eq "--json: one document" "ok" "$(printf '%s' "$json" | "$UF_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
c = {x["path"]: x for x in d["changes"]}
assert d["upper"].endswith("/upper") and d["lowers"][0].endswith("/lower"), d
assert c["d_new"] == {"type": "R", "path": "d_new", "from": "d_ren"}, c["d_new"]
assert c["f_mod"]["details"] == ["data", "mtime"], c["f_mod"]
assert c["f_meta"]["details"] == ["metacopy", "mode"], c["f_meta"]
assert c["d_ren"]["type"] == "D" and c["d_opq"]["type"] == "O"
assert len(d["changes"]) == 12, len(d["changes"])
print("ok")' 2>&1)"
uf_umount "$M"

# --- nothing changed: exit 0, no output
mkdir -p "$UF_TMP/empty"
uf_check_out "an empty upper: no output, exit 0" "" "$BIN" diff "$L:$UF_TMP/empty"

# --- by hand: aufs whiteouts, a hostile name, a symlink to elsewhere, two lowers
U2=$UF_TMP/upper2 L2=$UF_TMP/lower2
mkdir -p "$U2" "$L2"
printf 'mid\n' >"$L2/f_keep"         # the middle lower changes f_keep ...
touch "$U2/.wh.f_del"                 # aufs form of a whiteout
mkdir "$U2/.wh.f_mod"                 # a .wh. dir hides nothing
ln -s "$L/f_keep" "$U2/link"          # replaces the lower's symlink
printf 'x\n' >"$U2/$(printf 'bad\nname')"
mkdir "$U2/d_ren" && setfattr -n trusted.overlay.opaque -v y "$U2/d_ren"
uf_check_eq "aufs whiteout, symlink target, quoted name, two lowers" "A \"bad\\nname\"
O d_ren
D f_del
M link (data,mtime)" "$("$BIN" diff "$L:$L2:$U2")"
uf_check_eq "f_keep of the middle lower is not an upper change" "" \
	"$("$BIN" diff "$L:$L2:$U2" | grep f_keep)"
uf_check_eq "the lowers are untouched" "$before" "$(cd "$L" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)"

# --- usage and errors
uf_check_out "one branch only: exit 2" "unionfuse diff: need at least one lower branch and the upper: LOWER:UPPER [exit 2]" \
	"$BIN" diff "$L"
uf_check_out "missing upper: exit 2" "unionfuse diff: branch '$UF_TMP/nope': No such file or directory [exit 2]" \
	"$BIN" diff "$L:$UF_TMP/nope"
uf_check_eq "unknown option: exit 2" "2" "$("$BIN" diff --bogus "$L:$U" >/dev/null 2>&1; echo $?)"
uf_finish
