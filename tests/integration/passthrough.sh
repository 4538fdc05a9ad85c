#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# FUSE passthrough (libfuse >= 3.18, kernel >= 6.9, root): reads and writes
# of open regular files go to the real file without a request to the daemon
# (its -d log shows no READ/WRITE). With -o passthrough=on (lower files of
# a writable union too) the kernel's one-backing-file-per-inode rule never
# shows: a lower file open for reading while a writer copies it up (the
# readers keep the lower data; the writer and later opens see the copy), a
# file open through two names, lower hard links, O_TRUNC, truncate and mmap;
# nobody gets EIO. The default, auto, backs only files whose data is in the
# upper (and every file of a read-only union), so a reader open across a
# copy-up sees the copy, as with the kernel overlayfs. The lower is never
# written. -o passthrough=off and -o writeback turn it off. Without
# passthrough (libfuse 3.14) the same sequences must work, the old readers
# then seeing the copy.
# Usage: passthrough.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l" "$T/u" "$M"
head -c 3M /dev/urandom >"$T/l/big"
printf 'lower-data-0123456789' >"$T/l/f"
printf 'lower-data-0123456789' >"$T/l/g"
printf 'lower-data-0123456789' >"$T/l/tr"
printf 'hardlinked-lower' >"$T/l/h1"
ln "$T/l/h1" "$T/l/h2"
lower_sum=$(cd "$T/l" && sha256sum big f g tr h1 h2)

# The daemon in the foreground with -d, so its requests can be counted.
mount_d() {
	local log=$1
	shift
	"$BIN" -f -d "$@" "$T/l:$T/u" "$M" >"$log" 2>&1 &
	if ! uf_wait_mounted "$M" 10; then
		uf_fail "mount $*" "actual: $(tail -n 5 "$log")"
		uf_finish
	fi
}
ops() { grep -c "opcode: $2 " "$1"; }

mount_d "$UF_TMP/d.log" -o passthrough=on
pt=off
grep -q 'passthrough: on' "$UF_TMP/d.log" && pt=on
why=$(grep -o 'passthrough: off: .*' "$UF_TMP/d.log")
uf_log "passthrough $pt ${why:+($why)}"
# It must be on where it can be: libfuse 3.18 as root on a 6.9+ kernel.
if "$BIN" -V | grep -q 'version 7\.4[0-9]' &&
	[ "$(printf '%s\n' 6.9 "$(uname -r)" | sort -V | head -n1)" = 6.9 ]; then
	uf_check_eq "passthrough is granted (libfuse 7.4x protocol, kernel $(uname -r))" on "$pt"
fi

# --- reads and writes go straight to the real files
before=$(ops "$UF_TMP/d.log" READ)
uf_check "read of a 3 MiB lower file is right" cmp "$M/big" "$T/l/big"
dd if=/dev/urandom of="$M/new" bs=1M count=2 conv=fsync status=none
uf_check "a 2 MiB write lands in the upper" cmp "$M/new" "$T/u/new"
if [ "$pt" = on ]; then
	uf_check_eq "no READ request reached the daemon" "$before" "$(ops "$UF_TMP/d.log" READ)"
	uf_check_eq "no WRITE request reached the daemon" 0 "$(ops "$UF_TMP/d.log" WRITE)"
fi

# --- copy-up while a reader has the lower file open
out=$("$UF_PYTHON" - "$M" "$pt" <<'EOF' 2>&1
import os, sys, mmap
m, pt = sys.argv[1], sys.argv[2]
def pread(fd, n=21): return os.pread(fd, n, 0).decode()
r = os.open(m + "/f", os.O_RDONLY)
assert pread(r) == "lower-data-0123456789", "reader before"
mm = mmap.mmap(r, 0, prot=mmap.PROT_READ)
w = os.open(m + "/f", os.O_RDWR)            # copies f up
os.pwrite(w, b"UPPER", 0)
os.fsync(w)
old = "lower-data-0123456789" if pt == "on" else "UPPER-data-0123456789"
print("old reader:", "ok" if pread(r) == old else "got " + pread(r))
print("writer:", "ok" if pread(w) == "UPPER-data-0123456789" else "got " + pread(w))
n = os.open(m + "/f", os.O_RDONLY)
print("new reader:", "ok" if pread(n) == "UPPER-data-0123456789" else "got " + pread(n))
print("old fstat:", os.fstat(r).st_size)
print("mmap:", mm[:5].decode() in ("lower", "UPPER"))
mm.close()
for fd in (r, w, n): os.close(fd)
# O_TRUNC by a writer while a reader is open, then truncate(2) likewise.
r = os.open(m + "/g", os.O_RDONLY)
w = os.open(m + "/g", os.O_WRONLY | os.O_TRUNC)
os.write(w, b"short")
print("trunc writer:", os.pread(os.open(m + "/g", os.O_RDONLY), 99, 0).decode())
os.close(w); os.close(r)
r = os.open(m + "/tr", os.O_RDONLY)
os.truncate(m + "/tr", 4)
n = os.open(m + "/tr", os.O_RDONLY)
print("truncate:", os.pread(n, 99, 0).decode(), os.fstat(n).st_size)
os.close(n); os.close(r)
# One inode, two names: one backing file for both.
with open(m + "/a", "w") as f: f.write("one")
os.link(m + "/a", m + "/b")
r = os.open(m + "/a", os.O_RDONLY)
w = os.open(m + "/b", os.O_RDWR)
os.pwrite(w, b"two", 0)
print("two names:", os.pread(r, 9, 0).decode())
os.close(r); os.close(w)
# Lower hard links: each name is its own file in the union.
r = os.open(m + "/h1", os.O_RDONLY)
w = os.open(m + "/h2", os.O_RDWR)
os.pwrite(w, b"HARD", 0)
print("hard links:", os.pread(r, 16, 0).decode(), os.pread(w, 16, 0).decode())
os.close(r); os.close(w)
EOF
)
expect="old reader: ok
writer: ok
new reader: ok
old fstat: 21
mmap: True
trunc writer: short
truncate: lowe 4
two names: two
hard links: hardlinked-lower HARDlinked-lower"
uf_check_eq "copy-up, O_TRUNC, truncate, two names, lower hard links with files open (no EIO)" \
	"$expect" "$out"
[ "$pt" = on ] && uf_check "writers of files open on their lower copy got new inodes" \
	test "$(grep -c 'backed by its old copy' "$UF_TMP/d.log")" -ge 3
uf_check_eq "upper f is the writer's" "UPPER-data-0123456789" "$(cat "$T/u/f")"
uf_check_eq "upper h2 is the writer's, h1 not copied" "HARDlinked-lower -" \
	"$(cat "$T/u/h2") $(test -e "$T/u/h1" && echo h1 || echo -)"
uf_check_eq "lower files untouched" "$lower_sum" "$(cd "$T/l" && sha256sum big f g tr h1 h2)"
uf_umount "$M"
wait

# --- auto (the default): lower files of a writable union go through the
# daemon, so a reader open across a copy-up sees the copy (the kernel
# overlayfs's read() does); upper files and read-only unions pass through.
mount_d "$UF_TMP/auto.log"
before=$(ops "$UF_TMP/auto.log" READ)
uf_check "auto: read of a lower file" cmp "$M/big" "$T/l/big"
lower_reads=$(($(ops "$UF_TMP/auto.log" READ) - before))
before=$(ops "$UF_TMP/auto.log" READ)
uf_check "auto: read of an upper file" cmp "$M/new" "$T/u/new"
upper_reads=$(($(ops "$UF_TMP/auto.log" READ) - before))
if [ "$pt" = on ]; then
	uf_check "auto: lower file of a writable union read by the daemon ($lower_reads READs)" \
		test "$lower_reads" -gt 0
	uf_check_eq "auto: upper file passed through (READs)" 0 "$upper_reads"
fi
printf 'old data' >"$T/l/rofd"
uf_check_out "auto: fd opened O_RDONLY before a copy-up reads the copy" "b'old data' b'NEW data'" \
	"$UF_PYTHON" -c 'import os, sys
r = os.open(sys.argv[1], os.O_RDONLY); a = os.pread(r, 100, 0)
w = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(w, b"NEW", 0); os.close(w)
print(a, os.pread(r, 100, 0))' "$M/rofd"
uf_check_eq "auto: lower rofd untouched" "old data" "$(cat "$T/l/rofd")"
# A program run from a lower file is backed by it (exec opens: its pages
# come from the lower's page cache); a reader meanwhile follows it; a
# writer gets ETXTBSY, as from the kernel overlayfs, then copies it up.
cp "$(command -v sleep)" "$T/l/prog"
before=$(ops "$UF_TMP/auto.log" READ)
"$M/prog" 1.5 &
prog=$!
sleep 0.5
uf_check "auto: a reader of a lower program while it runs" cmp "$M/prog" "$T/l/prog"
WRITE1='import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY); os.write(fd, b"X"); os.close(fd); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])'
uf_check_out "auto: writing it while it runs: ETXTBSY" ETXTBSY "$UF_PYTHON" -c "$WRITE1" "$M/prog"
wait "$prog" || uf_fail "the lower program failed"
if [ "$pt" = on ]; then
	uf_check_eq "auto: the program and its reader read nothing through the daemon (READs)" 0 \
		"$(($(ops "$UF_TMP/auto.log" READ) - before))"
fi
uf_check_out "auto: writing it once it has ended" OK "$UF_PYTHON" -c "$WRITE1" "$M/prog"
uf_check_eq "auto: ...the copy has the write" X "$(head -c1 "$T/u/prog")"
uf_check "auto: ...the lower program is untouched" cmp "$T/l/prog" "$(command -v sleep)"
uf_umount "$M"
wait
"$BIN" -f -d -o lowerdir="$T/l" "$M" >"$UF_TMP/ro.log" 2>&1 &
uf_wait_mounted "$M" 10 || uf_fail "mount -o ro"
uf_check "ro: read of a lower file" cmp "$M/big" "$T/l/big"
[ "$pt" = on ] && uf_check_eq "ro: lower file passed through (READs)" 0 "$(ops "$UF_TMP/ro.log" READ)"
uf_umount "$M"
wait

# --- off switches: -o passthrough=off, and -o writeback (they exclude each other)
mount_d "$UF_TMP/off.log" -o passthrough=off
uf_check "read with passthrough=off" cmp "$M/big" "$T/l/big"
uf_check "READ requests reach the daemon with passthrough=off" \
	test "$(ops "$UF_TMP/off.log" READ)" -gt 0
[ "$pt" = on ] && uf_check "log says why it is off" \
	grep -q 'passthrough: off: -o passthrough=off' "$UF_TMP/off.log"
uf_umount "$M"
wait
if [ "$pt" = on ]; then
	mount_d "$UF_TMP/wb.log" -o writeback
	uf_check "-o writeback turns passthrough off" grep -q 'passthrough: off: -o writeback' \
		"$UF_TMP/wb.log"
	uf_check "read with writeback" cmp "$M/big" "$T/l/big"
	uf_umount "$M"
	wait
fi
uf_finish
