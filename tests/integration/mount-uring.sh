#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# -o io_uring (libfuse 3.18, /sys/module/fuse/parameters/enable_uring): the
# requests come in on libfuse's ring threads ("cqe unique" in the -d log),
# not by read() of /dev/fuse. Through such a union: a file workload (create,
# write, rename, link, unlink, mkdir/rmdir, copy-up of lower files) ends in
# the same tree as on a plain directory; an fsx-like run of random writes,
# truncates and reads through the daemon (passthrough off) and with
# passthrough keeps a file equal to its model; four writers copying up one
# big lower file at once (the ring threads must hand the busy inode to the
# pool, not wait for it) all succeed and the copy is whole. The lower is
# never written. The kernel parameter is set for the test and restored.
# Without libfuse 3.18 (3.14): -o io_uring mounts, says why it is off.
# Under CI=true a 3.18 build that cannot run it fails instead of skipping.
# Usage: mount-uring.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/d" "$T/u" "$M" "$T/ref"
head -c 32M /dev/urandom >"$T/l/big"
for i in $(seq 20); do printf 'lower %s\n' "$i" >"$T/l/d/f$i"; done
lower_sum=$(cd "$T/l" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

mount_d() { # LOG OPTIONS...
	local log=$1
	shift
	"$BIN" -f -d "$@" "$T/l:$T/u" "$M" >"$log" 2>&1 &
	if ! uf_wait_mounted "$M" 10; then
		uf_fail "mount $*" "actual: $(tail -n 5 "$log")"
		uf_finish
	fi
}

if ! "$BIN" -V | grep -q 'version 7\.4[0-9]'; then
	uf_log "libfuse $("$BIN" -V | head -n1): no FUSE over io_uring"
	mount_d "$UF_TMP/d.log" -o io_uring
	uf_check "-o io_uring mounts without it, saying why" grep -q 'io_uring: off: libfuse' "$UF_TMP/d.log"
	uf_check_eq "and serves" "lower 1" "$(head -n1 "$M/d/f1")"
	uf_umount "$M"
	uf_finish
fi

P=/sys/module/fuse/parameters/enable_uring
[ -w "$P" ] || uf_skip "no $P (kernel without FUSE over io_uring)"
old=$(cat "$P")
restore() { [ -n "${old:-}" ] && echo "$old" >"$P" 2>/dev/null; old=; }
trap 'rc=$?; restore; (exit $rc); uf_cleanup' EXIT
echo 1 >"$P" || uf_skip "cannot set $P"

# ------------------------------------------------------------ file workload
mount_d "$UF_TMP/d.log" -o io_uring
grep -q 'FUSE over io_uring: on' "$UF_TMP/d.log" ||
	uf_skip "the ring was not granted: $(grep -i 'uring' "$UF_TMP/d.log" | head -n3)"
workload() ( # DIR: the same on the union and on a plain copy
	set -e
	cd "$1"
	mkdir -p a/b/c
	for i in $(seq 50); do printf 'new %s\n' "$i" >"a/b/c/n$i"; done
	for i in $(seq 1 2 50); do mv "a/b/c/n$i" "a/b/m$i"; done
	for i in $(seq 2 6 50); do ln "a/b/c/n$i" "a/l$i"; done
	rm a/b/c/n10 a/b/c/n20
	for i in $(seq 1 3 20); do printf 'changed\n' >>"d/f$i"; done
	rm d/f2 d/f4
	mv d/f5 a/moved
	mkdir x && rmdir x
	dd if=/dev/zero of=a/zero bs=64k count=16 status=none
	truncate -s 100k a/zero
)
cp -a "$T/l/d" "$T/ref/d"
workload "$M" || uf_fail "workload through the union"
workload "$T/ref" || uf_fail "workload on a plain directory"
tree() ( # DIR: names, types, and the files' link counts and data
	cd "$1" && find a d -print0 | sort -z | xargs -0 stat -c '%n %F' &&
		find a d -type f -print0 | sort -z | xargs -0 stat -c '%n %h %s' &&
		find a d -type f -print0 | sort -z | xargs -0 sha256sum
)
uf_check_eq "after the workload the union shows what a plain directory shows" \
	"$(tree "$T/ref")" "$(tree "$M")"

# ------------------------------------------------------------ copy-up race
# Four writers open the big lower file at once: one copies it up, the
# others find its inode locked and must be served after it.
pids=
for i in 1 2 3 4; do
	"$UF_PYTHON" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"w" + sys.argv[2].encode(), int(sys.argv[2]) * 4096)
os.close(fd)' "$M/big" "$i" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || uf_fail "writer $p failed"; done
exp=$(cp "$T/l/big" "$UF_TMP/big.exp" && "$UF_PYTHON" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in (1, 2, 3, 4):
    os.pwrite(fd, b"w%d" % i, i * 4096)' "$UF_TMP/big.exp" && sha256sum <"$UF_TMP/big.exp")
uf_check_eq "four writers copying up one 32 MiB lower file at once: all writes in the copy" \
	"$exp" "$(sha256sum <"$M/big")"
uf_check_eq "...and in the upper" "$exp" "$(sha256sum <"$T/u/big")"

# ------------------------------------------------------------ fsx-like
FSX='import os, random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
model = bytearray(open(path, "rb").read())
fd = os.open(path, os.O_RDWR)
for op in range(n):
    k = rnd.random()
    if k < 0.45:
        off = rnd.randrange(0, len(model) + 65536)
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.choice((1, 17, 4096, 70000))))
        os.pwrite(fd, data, off)
        if off > len(model):
            model.extend(b"\0" * (off - len(model)))
        model[off:off + len(data)] = data
    elif k < 0.55:
        size = rnd.randrange(0, len(model) + 65536)
        os.ftruncate(fd, size)
        del model[size:]
        model.extend(b"\0" * (size - len(model)))
    else:
        off = rnd.randrange(0, len(model) + 4096)
        ln = rnd.choice((1, 100, 4096, 131072))
        got = os.pread(fd, ln, off)
        if got != bytes(model[off:off + ln]):
            print("op %d: read %d at %d differs" % (op, ln, off))
            sys.exit(1)
    if op % 50 == 0 and os.fstat(fd).st_size != len(model):
        print("op %d: size %d, model %d" % (op, os.fstat(fd).st_size, len(model)))
        sys.exit(1)
os.close(fd)
if open(path, "rb").read() != bytes(model):
    print("final content differs")
    sys.exit(1)
print("ok")'
uf_check_out "fsx-like: 1500 random writes, truncates and reads of a copied-up file" ok \
	"$UF_PYTHON" -c "$FSX" "$M/d/f1" 1500 1
uf_umount "$M"
uf_check "the ring carried the requests (cqe in the -d log)" grep -q 'cqe unique' "$UF_TMP/d.log"
uf_check_eq "...and /dev/fuse only FUSE_INIT and forgets" "" \
	"$(grep -a 'dev unique' "$UF_TMP/d.log" | grep -o 'opcode: [A-Z_]*' | sort -u |
		grep -vE ' (INIT|FORGET|BATCH_FORGET)$')"

mount_d "$UF_TMP/d2.log" -o io_uring,passthrough=off
uf_check_out "fsx-like through the daemon (passthrough off): data over the ring" ok \
	"$UF_PYTHON" -c "$FSX" "$M/d/f3" 1500 2
uf_umount "$M"
uf_check "...READ and WRITE requests came over the ring" \
	grep -q 'cqe unique: [0-9]*, opcode: WRITE' "$UF_TMP/d2.log"

restore
uf_check_eq "the lower is unchanged" "$lower_sum" \
	"$(cd "$T/l" && find . -type f -print0 | sort -z | xargs -0 sha256sum)"
uf_finish
