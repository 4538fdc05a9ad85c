# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Layered test trees shared by the integration and the differential tests.
# Each builder makes ROOT/b1 (bottom), ROOT/b2 (middle), ROOT/u (upper) and
# ROOT/w (an empty workdir for the kernel overlay).  Whiteouts and opaque
# markers are written through uf_wh / uf_opq in one of two styles:
#   style A: char device 0/0 whiteout, trusted.overlay.opaque=y xattr
#   style B: the aufs/OCI form, empty .wh.NAME file, .wh..wh..opq marker
# FORM picks what each style becomes on disk:
#   mixed   A = kernel form, B = aufs form (what unionfuse must read)
#   kernel  A and B = kernel form (what `mount -t overlay` reads)
#   aufs    A and B = aufs form
# Needs root: trusted.* xattrs, mknod.

UF_FORM=mixed

# uf_wh STYLE PATH: hide PATH's name in the branches below PATH's branch.
uf_wh() {
	local style=$1 path=$2 form
	form=$(uf_style_form "$style")
	if [ "$form" = kernel ]; then
		mknod "$path" c 0 0
	else
		: >"$(dirname "$path")/.wh.$(basename "$path")"
	fi
}

# uf_opq STYLE DIR: make the (existing) directory DIR opaque.
uf_opq() {
	local style=$1 dir=$2 form
	form=$(uf_style_form "$style")
	if [ "$form" = kernel ]; then
		setfattr -n trusted.overlay.opaque -v y "$dir"
	else
		: >"$dir/.wh..wh..opq"
	fi
}

uf_style_form() {
	case $UF_FORM:$1 in
	kernel:*) echo kernel ;;
	aufs:*) echo aufs ;;
	mixed:A) echo kernel ;;
	mixed:B) echo aufs ;;
	*) echo "bad form $UF_FORM:$1" >&2; return 1 ;;
	esac
}

# mkf PATH CONTENT: a file with exactly CONTENT (no newline added).
mkf() {
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
}

# uf_build_layers ROOT [FORM]: the 3-branch read-side tree.  Its expected
# union view is UF_LAYERS_BRIEF below.
uf_build_layers() {
	local r=$1
	UF_FORM=${2:-mixed}
	mkdir -p "$r/b1" "$r/b2" "$r/u" "$r/w"
	(
		set -e
		cd "$r/b1"
		mkf a.txt "b1 a"
		mkf only1.txt "only in b1"
		mkf wh_c.txt "b1 wh_c"
		mkf wh_a.txt "b1 wh_a"
		mkf wh_uc.txt "b1 wh_uc"
		mkf wh_ua.txt "b1 wh_ua"
		mkf gone_dir/x "b1 gone x"
		mkf gone_dir/sub/y "b1 gone y"
		mkf gone_dir2/x "b1 gone2 x"
		mkf re.txt "b1 re"
		mkf re_dir/a "b1 re_dir a"
		mkf filedir "b1 filedir file"
		mkf dirfile/x "b1 dirfile x"
		mkf merged/m1 "b1 m1"
		mkf merged/same "b1 same"
		mkf merged/sub/s1 "b1 s1"
		mkf merged/sub/deep/d1 "b1 d1"
		mkf opq_c/old1 "b1 old1"
		mkf opq_c/old2 "b1 old2"
		mkf opq_a/old "b1 old"
		mkf opq_u/old "b1 old"
		mkf opq_mid/a "b1 a"
		ln -s /etc etc
		ln -s merged link_dir
		mkf hl1 "hard"
		ln hl1 hl2
		ln hl1 merged/hl3
		mknod null c 1 3
		mkf perms.txt "perms"
		chmod 0640 perms.txt
		chown 1234:5678 perms.txt
		mkf suid "suid"
		chmod 4755 suid
		mkf xa.txt "xattrs"
		setfattr -n user.color -v blue xa.txt
		setfattr -n user.bin -v 0x00ff xa.txt
		setfattr -n trusted.test -v t xa.txt
		setfattr -n trusted.overlay.foo -v bar xa.txt
		mkf "sp ace" "space"
		: >empty
		chmod 0750 merged
		chown 42:43 merged/sub
		mkf odd/keep "keep"
		mkf odd/$'white\nout' "white"

		cd "$r/b2"
		mkf a.txt "b2 a"
		uf_wh A wh_c.txt
		uf_wh B wh_a.txt
		uf_wh B gone_dir2
		uf_wh A re.txt
		uf_wh B re_dir
		mkf dirfile "b2 file over dir"
		mkf merged/m2 "b2 m2"
		mkf merged/same "b2 same"
		mkf merged/sub/s2 "b2 s2"
		mkdir -p merged/sub/deep
		uf_wh A merged/sub/deep/d1
		mkf merged/sub/deep/d2 "b2 d2"
		mkdir opq_c
		uf_opq A opq_c
		mkf opq_c/new1 "b2 new1"
		mkdir opq_a
		uf_opq B opq_a
		mkf opq_a/new "b2 new"
		mkf opq_u/mid "b2 mid"
		mkdir opq_mid
		uf_opq B opq_mid
		mkf opq_mid/b "b2 b"
		ln -s /nonexistent/target dangling
		mkfifo fifo
		mkf pair1 "pair"
		ln pair1 pair2
		uf_wh A nothing
		mkdir xdir
		setfattr -n user.dirattr -v 1 xdir
		mkf odd/$'nl\nname' "newline"
		mkf odd/$'bin\xff' "binary"
		uf_wh B odd/$'white\nout'

		cd "$r/u"
		uf_wh A wh_uc.txt
		uf_wh B wh_ua.txt
		uf_wh A gone_dir
		mkf re.txt "u re"
		mkf re_dir/b "u re_dir b"
		mkf filedir/inner "u inner"
		mkf merged/m3 "u m3"
		mkf merged/same "u same"
		mkdir -p merged/sub
		uf_wh B merged/sub/s1
		mkf merged/sub/deep/d3 "u d3"
		mkdir opq_u
		uf_opq A opq_u
		mkf opq_u/top "u top"
		mkf opq_mid/c "u c"
		ln -s merged/m1 rel
		chmod 0750 merged
		chown 42:43 merged/sub
	) || return 1
}

# The union view of uf_build_layers, in tree_brief form.
UF_LAYERS_BRIEF='f a.txt b2 a
l dangling -> /nonexistent/target
f dirfile b2 file over dir
f empty 
l etc -> /etc
p fifo
d filedir
f filedir/inner u inner
f hl1 hard
f hl2 hard
l link_dir -> merged
d merged
f merged/hl3 hard
f merged/m1 b1 m1
f merged/m2 b2 m2
f merged/m3 u m3
f merged/same u same
d merged/sub
d merged/sub/deep
f merged/sub/deep/d2 b2 d2
f merged/sub/deep/d3 u d3
f merged/sub/s2 b2 s2
c null 1,3
d odd
f odd/bin\xff binary
f odd/keep keep
f odd/nl\x0aname newline
f only1.txt only in b1
d opq_a
f opq_a/new b2 new
d opq_c
f opq_c/new1 b2 new1
d opq_mid
f opq_mid/b b2 b
f opq_mid/c u c
d opq_u
f opq_u/top u top
f pair1 pair
f pair2 pair
f perms.txt perms
f re.txt u re
d re_dir
f re_dir/b u re_dir b
l rel -> merged/m1
f sp\x20ace space
f suid suid
f xa.txt xattrs
d xdir'

# uf_build_bigdir ROOT N [FORM]: ROOT/{b1,b2,u,w}/big with N names f00000..
# spread over the three branches, some in two or three branches at once,
# some whited out (both styles).  Writes the expected sorted name list to
# ROOT/expected-big.
uf_build_bigdir() {
	local r=$1 n=$2
	UF_FORM=${3:-mixed}
	mkdir -p "$r/b1/big" "$r/b2/big" "$r/u/big" "$r/w"
	"$UF_PYTHON" - "$r" "$n" "$(uf_style_form A)" "$(uf_style_form B)" <<'EOF'
import os, sys
r, n, form_a, form_b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
br = [os.path.join(r, b, "big") for b in ("b1", "b2", "u")]
def mk(b, name):
    with open(os.path.join(br[b], name), "w") as f:
        f.write("%s in %d\n" % (name, b))
def wh(b, name, form):
    if form == "kernel":
        os.mknod(os.path.join(br[b], name), 0o644 | 0o020000, os.makedev(0, 0))
    else:
        open(os.path.join(br[b], ".wh." + name), "w").close()
visible = set()
for i in range(n):
    name = "f%05d" % i
    b = i % 3
    mk(b, name)
    if i % 10 == 0 and b < 2:
        mk(b + 1, name)              # shadowed copy above: still one name
    hidden = False
    if i % 7 == 0 and b == 0 and i % 10 != 0:
        wh(1, name, form_a)          # whited out in b2 (style A)
        hidden = True
    elif i % 11 == 0 and b < 2 and i % 10 != 0:
        wh(2, name, form_b)          # whited out in u (style B)
        hidden = True
    if not hidden:
        visible.add(name)
with open(os.path.join(r, "expected-big"), "w") as f:
    f.write("".join(x + "\n" for x in sorted(visible | {".", ".."})))
EOF
}

# Read-side probes on the uf_build_layers view, one per line:
# "OP RELPATH [ARGS...]" for fsutil.py errno (no spaces inside fields).
uf_layers_probes() {
	local p n256
	n256=$(printf '%256s' '' | tr ' ' n)
	for p in wh_c.txt wh_a.txt wh_uc.txt wh_ua.txt gone_dir gone_dir/x gone_dir2 gone_dir2/x \
		nothing .wh.wh_a.txt .wh.wh_ua.txt .wh.gone_dir2 .wh.re_dir .wh.nothing opq_c/old1 \
		opq_a/old opq_a/.wh..wh..opq opq_u/old opq_u/mid opq_mid/a re_dir/a merged/sub/s1 \
		merged/sub/.wh.s1 merged/sub/deep/d1 filedir/x dirfile/x a.txt merged merged/sub/deep \
		etc dangling fifo null hl2 "$n256" "$n256/x" opq_u/top; do
		echo "lstat $p"
	done
	cat <<'PROBES'
stat etc
stat dangling
stat link_dir/m1
open dangling O_RDONLY
open a.txt O_RDONLY|O_DIRECTORY
open merged O_WRONLY
open merged O_RDONLY|O_DIRECTORY
open fifo O_RDONLY|O_NONBLOCK
open etc/hostname O_RDONLY
read merged/same
read opq_mid/c
read rel
listdir a.txt
listdir merged
listdir opq_u
listdir etc/..
readlink a.txt
readlink etc
readlink rel
getxattr opq_c trusted.overlay.opaque
getxattr xa.txt trusted.overlay.foo
getxattr xa.txt user.color
getxattr xa.txt user.missing
getxattr etc user.color
getxattr xdir user.dirattr
listxattr xa.txt
listxattr opq_c
listxattr opq_a
listxattr etc
listxattr fifo
PROBES
}
