#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Writing files through a 3-branch union: create (O_EXCL, O_TRUNC of a lower
# file), write/pwrite/O_APPEND, truncate up and down, unlink (whiteout for a
# lower name, nothing for an upper-only one; EISDIR, ENOENT), symlink, link
# of a lower file, fallocate, SEEK_DATA/SEEK_HOLE on a sparse copy-up,
# copy_file_range, flock and fcntl locks, ENAMETOOLONG, open-unlink-read,
# the reserved .wh.* names (EINVAL), mknod c 0 0 (EPERM); then a few of the
# same with -o writeback.  Each case checks the view, the upper's on-disk
# form, and at the end that no lower changed.
# Usage: write-files.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr fallocate du
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
B1=$T/b1 B2=$T/b2 U=$T/u
mkdir -p "$B1" "$B2" "$U" "$M"
(
	set -e
	cd "$B1"
	printf 'lower file' >lf
	printf 'truncate me' >trunc
	printf 'append:' >app
	printf '0123456789' >pw
	printf 'abc' >tup
	printf 'abcdefghij' >tdown
	printf 'ftrunc-me' >ftr
	printf 'remove me' >rmme
	printf 'b1 both' >both
	printf 'exists' >./ex
	printf 'creat' >creat
	printf 'link me' >lk
	printf 'fa' >fa
	head -c 8192 /dev/zero | tr '\0' A >punch
	printf 'keepsize' >keep
	printf 'lock' >lockf
	printf 'open-unlink lower' >ou
	printf 'open-unlink lower ro' >ouro
	printf 'b1 shadow' >shadow
	head -c 100000 /dev/urandom >cfr_src
	printf 'dst-original-content' >cfr_dst
	truncate -s 4M sparse
	head -c 4096 /dev/urandom | dd of=sparse bs=4096 seek=256 conv=notrunc status=none
	mkdir -p dir/sub ld
	printf 'x' >dir/x
	printf 'keep' >ld/keep
	chmod 0750 ld
	chown 12:34 ld
	setfattr -n user.ld -v 1 ld
	touch -d '2001-02-03 04:05:06.123456789' ld
	cd "$B2"
	printf 'b2 shadow' >shadow
	cd "$U"
	printf 'upper file' >uf
	printf 'u both' >both
	printf 'open-unlink upper' >uou
)
wr_save_lowers "$B1" "$B2"

uf_mount "$BIN" "$B1:$B2:$U" "$M" || uf_finish

# ---------------------------------------------------------------- create
uf_log "create"
wr_check_py "create a new file (O_CREAT|O_EXCL)" "OK" \
	'fd = os.open(A[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640); os.write(fd, b"new"); os.close(fd); print("OK")' "$M/new"
uf_check_out "new file: view" "new 640" bash -c 'cat "$1"; echo " $(stat -c %a "$1")"' _ "$M/new"
wr_check_kind "new file: lands in the upper" "file:new" "$U/new"
uf_check_out "new file: mode 0640 in the upper" "640 0 0" stat -c '%a %u %g' "$U/new"
uf_check_errno "O_EXCL on a lower file: EEXIST" EEXIST open "$M/ex" "O_WRONLY|O_CREAT|O_EXCL"
uf_check_errno "O_EXCL on an upper file: EEXIST" EEXIST open "$M/uf" "O_WRONLY|O_CREAT|O_EXCL"
uf_check_errno "O_EXCL on a directory from a lower: EEXIST" EEXIST open "$M/dir" "O_WRONLY|O_CREAT|O_EXCL"
wr_check_kind "failed O_EXCL on a lower file: no copy-up" absent "$U/ex"
uf_check_errno "O_CREAT without O_EXCL on a lower file opens it" OK open "$M/creat" "O_WRONLY|O_CREAT"
uf_check_out "O_CREAT on a lower file keeps its data" "creat" cat "$M/creat"
wr_check_py "O_TRUNC on a lower file" "OK 0" \
	'fd = os.open(A[0], os.O_WRONLY | os.O_TRUNC); print("OK", os.fstat(fd).st_size); os.close(fd)' "$M/trunc"
uf_check_out "O_TRUNC on a lower file: view has size 0" "0" stat -c %s "$M/trunc"
uf_check_out "O_TRUNC on a lower file: copied up with size 0, mode kept" "regular empty file 0 644" \
	stat -c '%F %s %a' "$U/trunc"
uf_check_out "shell > on the b2 file shadowing b1" "rewritten" \
	bash -c 'echo rewritten >"$1" && cat "$1"' _ "$M/shadow"
wr_check_kind "shadowed file: copied up from b2 and rewritten" "file:rewritten" "$U/shadow"
uf_check_out "create inside a lower-only dir" "keep new" \
	bash -c 'printf new >"$1/new" && echo $(ls "$1")' _ "$M/ld"
wr_check_kind "create inside a lower dir: file in the upper" "file:new" "$U/ld/new"
uf_check_out "lower dir copied up with its mode and owner" "directory 750 12 34" stat -c '%F %a %u %g' "$U/ld"
wr_check_xattr "lower dir copied up with its user xattr" "$U/ld" user.ld 1
wr_check_xattr "copied-up parent dir is not opaque" "$U/ld" trusted.overlay.opaque "<none>"
n255=$(printf '%255s' '' | tr ' ' n)
n256=$(printf '%256s' '' | tr ' ' n)
uf_check_errno "create a 256-char name: ENAMETOOLONG" ENAMETOOLONG open "$M/$n256" "O_WRONLY|O_CREAT"
uf_check_errno "mkdir a 256-char name: ENAMETOOLONG" ENAMETOOLONG mkdir "$M/$n256"
uf_check_errno "create a 255-char name works" OK open "$M/$n255" "O_WRONLY|O_CREAT"
wr_check_kind "255-char name lands in the upper" "file:" "$U/$n255"

# ---------------------------------------------------------------- write
uf_log "write, pwrite, O_APPEND"
uf_check_out "dd conv=notrunc into a lower file" "012XY56789" \
	bash -c 'printf XY | dd of="$1" bs=1 seek=3 conv=notrunc status=none && cat "$1"' _ "$M/pw"
wr_check_kind "pwrite: copied up with the new bytes" "file:012XY56789" "$U/pw"
wr_check_py "pwrite past EOF leaves zeros (shown as 0)" "OK 23 012XY56789000000000000Z" \
	'fd = os.open(A[0], os.O_RDWR); os.pwrite(fd, b"Z", 22); d = os.pread(fd, 100, 0); os.close(fd)
print("OK", len(d), d.replace(b"\0", b"0").decode())' "$M/pw"
wr_check_py "O_RDWR on a lower file: read back what was written via the same fd" "OK lowXYfile" \
	'fd = os.open(A[0], os.O_RDWR); os.pwrite(fd, b"XY", 3); d = os.pread(fd, 100, 0); os.close(fd); print("OK", d.decode().replace(" ", ""))' "$M/lf"
wr_check_py "O_APPEND: two fds interleave at the end" "OK append:ABCD" \
	'a = os.open(A[0], os.O_WRONLY | os.O_APPEND); b = os.open(A[0], os.O_WRONLY | os.O_APPEND)
os.write(a, b"A"); os.write(b, b"B"); os.write(a, b"C"); os.pwrite(b, b"D", 0)
os.close(a); os.close(b)
print("OK", open(A[0]).read())' "$M/app"
wr_check_kind "O_APPEND: upper copy" "file:append:ABCD" "$U/app"
uf_check_out "shell >> on an upper file" "upper file+" bash -c 'printf + >>"$1" && cat "$1"' _ "$M/uf"

# ---------------------------------------------------------------- truncate
uf_log "truncate"
uf_check_errno "truncate a lower file up to 10000" OK truncate "$M/tup" 10000
uf_check_out "truncate up: size and head through the mount" "10000 abc" \
	bash -c 'echo $(stat -c %s "$1") $(head -c 3 "$1")' _ "$M/tup"
uf_check_out "truncate up: tail bytes are zero" "0" bash -c 'tail -c +4 "$1" | tr -d "\0" | wc -c' _ "$M/tup"
uf_check_out "truncate up: upper copy" "10000 abc" bash -c 'echo $(stat -c %s "$1") $(head -c 3 "$1")' _ "$U/tup"
uf_check_errno "truncate a lower file down to 3" OK truncate "$M/tdown" 3
uf_check_out "truncate down: view" "abc" cat "$M/tdown"
wr_check_kind "truncate down: upper copy" "file:abc" "$U/tdown"
wr_check_py "ftruncate on an O_WRONLY fd of a lower file" "OK 5" \
	'fd = os.open(A[0], os.O_WRONLY); os.ftruncate(fd, 5); print("OK", os.fstat(fd).st_size); os.close(fd)' "$M/ftr"
uf_check_out "ftruncate: view" "ftrun" cat "$M/ftr"
uf_check_errno "truncate a directory: EISDIR" EISDIR truncate "$M/dir" 0

# ---------------------------------------------------------------- unlink
uf_log "unlink"
uf_check_errno "unlink a lower file" OK unlink "$M/rmme"
uf_check_errno "unlinked lower file is gone from the view" ENOENT lstat "$M/rmme"
wr_check_whiteout "unlink of a lower file leaves a whiteout (c 0:0)" "$U/rmme"
uf_check_out "whiteout mode/owner" "0 0" stat -c '%u %g' "$U/rmme"
uf_check_errno "unlink a file in the upper and in b1" OK unlink "$M/both"
wr_check_whiteout "unlink of an upper file that shadows a lower: whiteout" "$U/both"
uf_check_errno "unlink the new upper-only file" OK unlink "$M/new"
wr_check_kind "unlink of an upper-only file: nothing left in the upper" absent "$U/new"
uf_check_errno "unlink a directory: EISDIR" EISDIR unlink "$M/dir"
uf_check_errno "unlink a missing name: ENOENT" ENOENT unlink "$M/nope"
uf_check_errno "unlink a whited-out name again: ENOENT" ENOENT unlink "$M/rmme"
uf_check_errno "unlink below a file: ENOTDIR" ENOTDIR unlink "$M/ex/x"
uf_check_out "ls shows none of both/new/rmme" "0" bash -c 'ls -A "$1" | grep -c -x -e both -e new -e rmme || true' _ "$M"

# ---------------------------------------------------------------- symlink, link
uf_log "symlink, link"
uf_check_errno "symlink sl -> lf" OK symlink "$M/sl" lf
uf_check_out "symlink: readlink and follow" "lf lowXYfile" \
	bash -c 'echo $(readlink "$1") $(tr -d " " <"$1")' _ "$M/sl"
wr_check_kind "symlink lands in the upper" "symlink:lf" "$U/sl"
uf_check_errno "symlink over a lower name: EEXIST" EEXIST symlink "$M/ex" target
uf_check_errno "link a lower file" OK link "$M/lk2" "$M/lk"
uf_check_out "link: both names, same content, same st_ino, nlink 2" "link me link me same 2 2" \
	bash -c 'echo $(cat "$1") $(cat "$2") $([ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ] && echo same || echo differ) $(stat -c %h "$1") $(stat -c %h "$2")' _ "$M/lk" "$M/lk2"
uf_check_out "link: the upper holds the copy-up and its hard link" "link me link me same 2" \
	bash -c 'echo $(cat "$1") $(cat "$2") $([ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ] && echo same || echo differ) $(stat -c %h "$1")' _ "$U/lk" "$U/lk2"
uf_check_errno "link onto an existing lower name: EEXIST" EEXIST link "$M/ex" "$M/lk"
uf_check_errno "link onto an existing upper name: EEXIST" EEXIST link "$M/uf" "$M/lk"
uf_check_out "write through one link, read through the other" "LINK me" \
	bash -c 'printf LINK | dd of="$1" conv=notrunc status=none && cat "$2"' _ "$M/lk2" "$M/lk"
uf_check_errno "link a directory: EPERM" EPERM link "$M/dirlink" "$M/dir"

# ---------------------------------------------------------------- fallocate
uf_log "fallocate"
wr_check_py "posix_fallocate 1 MiB on a 2-byte lower file" "OK 1048576" \
	'fd = os.open(A[0], os.O_RDWR); os.posix_fallocate(fd, 0, 1 << 20); print("OK", os.fstat(fd).st_size); os.close(fd)' "$M/fa"
uf_check_out "fallocate: view keeps data, zero tail" "fa 1048576 0" \
	bash -c 'echo $(head -c 2 "$1") $(stat -c %s "$1") $(tail -c +3 "$1" | tr -d "\0" | wc -c)' _ "$M/fa"
uf_check_out "fallocate: upper copy has the size and the blocks" "fa 1048576 ok" \
	bash -c 'echo $(head -c 2 "$1") $(stat -c %s "$1") $([ "$(stat -c %b "$1")" -ge 2048 ] && echo ok || echo "blocks=$(stat -c %b "$1")")' _ "$U/fa"
uf_check "fallocate --punch-hole on a lower file" fallocate -p -o 0 -l 4096 "$M/punch"
uf_check_out "punch hole: size kept, first 4 KiB zero, rest A" "8192 0 4096" \
	bash -c 'echo $(stat -c %s "$1") $(head -c 4096 "$1" | tr -d "\0" | wc -c) $(tail -c 4096 "$1" | tr -d "\0" | wc -c)' _ "$M/punch"
uf_check_out "punch hole: upper copy matches" "8192 0 4096" \
	bash -c 'echo $(stat -c %s "$1") $(head -c 4096 "$1" | tr -d "\0" | wc -c) $(tail -c 4096 "$1" | tr -d "\0" | wc -c)' _ "$U/punch"
uf_check "fallocate --keep-size on a lower file" fallocate -n -l 1M "$M/keep"
uf_check_out "keep-size: size unchanged, data kept" "8 keepsize" bash -c 'echo $(stat -c %s "$1") $(cat "$1")' _ "$M/keep"

# ---------------------------------------------------------------- SEEK_DATA/HOLE
uf_log "SEEK_DATA/SEEK_HOLE"
SEEKPY='fd = os.open(A[0], os.O_RDONLY)
out = []
for what, off in (("D", 0), ("H", 1 << 20), ("D", (1 << 20) + 4096), ("H", 3 << 20), ("D", (3 << 20) + 4096)):
    try:
        out.append(str(os.lseek(fd, off, os.SEEK_DATA if what == "D" else os.SEEK_HOLE)))
    except OSError as e:
        out.append(errno.errorcode[e.errno])
os.close(fd)
print(" ".join(out))'
wr_check_py "SEEK_DATA/SEEK_HOLE on the lower sparse file, before copy-up" \
	"1048576 1052672 ENXIO 3145728 ENXIO" "$SEEKPY" "$M/sparse"
wr_check_py "write 1 byte at 3 MiB of the sparse lower file" "OK" \
	'fd = os.open(A[0], os.O_WRONLY); os.pwrite(fd, b"!", 3 << 20); os.close(fd); print("OK")' "$M/sparse"
wr_check_py "SEEK_DATA/SEEK_HOLE through the mount after copy-up" \
	"1048576 1052672 3145728 3149824 ENXIO" "$SEEKPY" "$M/sparse"
wr_check_py "SEEK_DATA/SEEK_HOLE on the upper copy (holes kept)" \
	"1048576 1052672 3145728 3149824 ENXIO" "$SEEKPY" "$U/sparse"
uf_check_out "sparse copy-up: size kept, upper uses 8 KiB" "4194304 8" \
	bash -c 'echo $(stat -c %s "$1") $(du -k "$1" | cut -f1)' _ "$U/sparse"
uf_check_out "sparse copy-up: data block identical to the lower's" \
	"$(dd if="$B1/sparse" bs=4096 skip=256 count=1 status=none | sha256sum)" \
	bash -c 'dd if="$1" bs=4096 skip=256 count=1 status=none | sha256sum' _ "$M/sparse"

# ---------------------------------------------------------------- copy_file_range
uf_log "copy_file_range"
wr_check_py "copy_file_range from a lower file to a new file" "OK 100000" \
	's = os.open(A[0], os.O_RDONLY); d = os.open(A[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
n = 0
while True:
    r = os.copy_file_range(s, d, 1 << 20)
    if r == 0: break
    n += r
os.close(s); os.close(d); print("OK", n)' "$M/cfr_src" "$M/cfr_new"
uf_check "copy_file_range: copy equals the source through the mount" cmp "$M/cfr_src" "$M/cfr_new"
uf_check "copy_file_range: upper copy equals the lower source" cmp "$B1/cfr_src" "$U/cfr_new"
wr_check_kind "copy_file_range: the source was not copied up" absent "$U/cfr_src"
wr_check_py "copy_file_range into the middle of a lower file (with offsets)" "OK 8" \
	's = os.open(A[0], os.O_RDONLY); d = os.open(A[1], os.O_WRONLY)
print("OK", os.copy_file_range(s, d, 8, 0, 4)); os.close(s); os.close(d)' "$M/pw" "$M/cfr_dst"
uf_check_out "copy_file_range into a lower file: view" "dst-012XY567-content" \
	bash -c 'cat "$1" | tr -d "\0"' _ "$M/cfr_dst"
uf_check_out "copy_file_range into a lower file: upper copy" "dst-012XY567-content" \
	bash -c 'cat "$1" | tr -d "\0"' _ "$U/cfr_dst"

# ---------------------------------------------------------------- locks
uf_log "flock, fcntl locks"
wr_check_py "flock: LOCK_EX held, a second open file gets EWOULDBLOCK, then succeeds after unlock" \
	"EAGAIN OK" \
	'a = os.open(A[0], os.O_RDONLY); b = os.open(A[0], os.O_RDONLY)
fcntl.flock(a, fcntl.LOCK_EX)
try:
    fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB); r1 = "OK"
except OSError as e:
    r1 = errno.errorcode[e.errno]
fcntl.flock(a, fcntl.LOCK_UN)
fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB); print(r1, "OK")' "$M/lockf"
wr_check_kind "flock on an O_RDONLY lower file does not copy it up" absent "$U/lockf"
wr_check_py "fcntl F_SETLK: another process gets EAGAIN and F_GETLK names the holder" \
	"EAGAIN holder-ok" \
	'fd = os.open(A[0], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    fd2 = os.open(A[0], os.O_RDWR)
    try:
        fcntl.lockf(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0); res = "OK"
    except OSError as e:
        res = errno.errorcode[e.errno]
    fl = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 10, 0)
    fl = fcntl.fcntl(fd2, fcntl.F_GETLK, fl)
    t, wh, st, ln, p = struct.unpack("hhqqi", fl)
    res += " holder-ok" if p == os.getppid() and t == fcntl.F_WRLCK else " holder=%d type=%d" % (p, t)
    os.write(w, res.encode()); os._exit(0)
os.waitpid(pid, 0); print(os.read(r, 100).decode())' "$M/lockf"

# ---------------------------------------------------------------- open-unlink
uf_log "open, unlink, read"
wr_check_py "upper file: open, unlink, read/write through the fd, fstat nlink 0" \
	"OK open-unlink upper+more 0" \
	'fd = os.open(A[0], os.O_RDWR); os.unlink(A[0])
gone = not os.path.lexists(A[0])
os.pwrite(fd, b"+more", 17); d = os.pread(fd, 100, 0)
print("OK" if gone else "STILL-THERE", d.decode(), os.fstat(fd).st_nlink); os.close(fd)' "$M/uou"
wr_check_kind "open-unlinked upper-only file leaves nothing in the upper" absent "$U/uou"
wr_check_py "lower file opened O_RDWR (copy-up), unlinked: data kept, fstat nlink 0" \
	"OK open-unlink lower! 0" \
	'fd = os.open(A[0], os.O_RDWR); os.unlink(A[0])
gone = not os.path.lexists(A[0])
os.pwrite(fd, b"!", 17); d = os.pread(fd, 100, 0)
print("OK" if gone else "STILL-THERE", d.decode(), os.fstat(fd).st_nlink); os.close(fd)' "$M/ou"
wr_check_whiteout "open-unlinked lower file: whiteout in the upper" "$U/ou"
wr_check_py "lower file opened O_RDONLY, unlinked: data still readable" \
	"OK open-unlink lower ro" \
	'fd = os.open(A[0], os.O_RDONLY); os.unlink(A[0])
gone = not os.path.lexists(A[0])
d = os.pread(fd, 100, 0); os.close(fd)
print("OK" if gone else "STILL-THERE", d.decode())' "$M/ouro"
wr_check_whiteout "open-unlinked O_RDONLY lower file: whiteout in the upper" "$U/ouro"

# ---------------------------------------------------------------- reserved names, mknod
uf_log ".wh.* names, mknod"
uf_check_errno "create .wh.x: EINVAL" EINVAL open "$M/.wh.x" "O_WRONLY|O_CREAT"
uf_check_errno "create dir/.wh.x: EINVAL" EINVAL open "$M/dir/.wh.x" "O_WRONLY|O_CREAT"
uf_check_errno "mkdir .wh.d: EINVAL" EINVAL mkdir "$M/.wh.d"
uf_check_errno "symlink .wh.s: EINVAL" EINVAL symlink "$M/.wh.s" target
uf_check_errno "mkfifo .wh.p: EINVAL" EINVAL mkfifo "$M/.wh.p"
uf_check_errno "link to .wh.l: EINVAL" EINVAL link "$M/.wh.l" "$M/uf"
uf_check_errno "rename to .wh.r: EINVAL" EINVAL rename "$M/uf" "$M/.wh.r"
uf_check_errno ".wh.x does not exist afterwards" ENOENT lstat "$M/.wh.x"
uf_check_out "no .wh.* entry in the upper" "" bash -c 'find "$1" -name ".wh.*"' _ "$U"
wr_check_py "mknod c 0 0: EPERM" EPERM \
	'os.mknod(A[0], 0o644 | stat.S_IFCHR, os.makedev(0, 0)); print("OK")' "$M/wh0"
wr_check_kind "mknod c 0 0 left nothing" absent "$U/wh0"
uf_check_errno "mknod c 1 3 works" OK mknod "$M/null"
wr_check_kind "mknod c 1 3 lands in the upper" "char:1:3" "$U/null"
uf_check_errno "mkfifo works" OK mkfifo "$M/fifo"
wr_check_kind "mkfifo lands in the upper" fifo "$U/fifo"

# ---------------------------------------------------------------- upper contents
uf_check_out "upper holds exactly the expected names (no temp files)" \
	"$(printf '%s\n' app both cfr_dst cfr_new creat fa fifo ftr keep ld ld/new lf lk lk2 lockf "$n255" null ou ouro \
		punch pw rmme shadow sl sparse tdown trunc tup uf | sort)" \
	bash -c 'cd "$1" && find . -mindepth 1 | sed "s|^\./||" | sort' _ "$U"
wr_check_kind "ld/keep was not copied up by creating ld/new" absent "$U/ld/keep"

uf_umount "$M"
wr_check_lowers

# ---------------------------------------------------------------- -o writeback
# The same basics with the kernel's writeback cache (the kernel then owns
# O_APPEND, the size and the times, and flushes them with SETATTR).
uf_log "-o writeback"
T2=$UF_TMP/t2
mkdir -p "$T2/b1" "$T2/u"
(
	set -e
	cd "$T2/b1"
	printf 'append:' >app
	printf '0123456789' >pw
	printf 'abcdefghij' >tr
	printf 'open-unlink lower ro' >ouro
	printf 'open-unlink lower' >ou
)
wr_save_lowers "$T2/b1"
if uf_mount "$BIN" "$T2/b1:$T2/u" "$M" -o writeback; then
	wr_check_py "writeback: O_APPEND with two fds on a lower file" "OK append:ABCD" \
		'a = os.open(A[0], os.O_WRONLY | os.O_APPEND); b = os.open(A[0], os.O_WRONLY | os.O_APPEND)
os.write(a, b"A"); os.write(b, b"B"); os.write(a, b"C"); os.pwrite(b, b"D", 0)
os.close(a); os.close(b)
print("OK", open(A[0]).read())' "$M/app"
	wr_check_kind "writeback: O_APPEND result in the upper" "file:append:ABCD" "$T2/u/app"
	wr_check_py "writeback: pwrite past EOF, size seen before close" "OK 12 12 0123456789\\x00Z" \
		'fd = os.open(A[0], os.O_RDWR); os.pwrite(fd, b"Z", 11); n = os.stat(A[0]).st_size
os.close(fd); d = open(A[0], "rb").read(); print("OK", n, len(d), repr(d)[2:-1])' "$M/pw"
	uf_check_out "writeback: pwrite result in the upper" "12" stat -c %s "$T2/u/pw"
	uf_check_errno "writeback: truncate a lower file down" OK truncate "$M/tr" 3
	uf_check_out "writeback: truncate result" "abc abc" bash -c 'echo $(cat "$1") $(cat "$2")' _ "$M/tr" "$T2/u/tr"
	wr_check_py "writeback: lower file opened O_RDONLY, unlinked, read, closed" \
		"OK open-unlink lower ro closed" \
		'fd = os.open(A[0], os.O_RDONLY); os.unlink(A[0]); d = os.pread(fd, 100, 0); os.close(fd)
print("OK", d.decode(), "closed")' "$M/ouro"
	wr_check_py "writeback: lower file opened O_RDWR, unlinked, written, read, closed" \
		"OK open-unlink lower! closed" \
		'fd = os.open(A[0], os.O_RDWR); os.unlink(A[0]); os.pwrite(fd, b"!", 17); d = os.pread(fd, 100, 0); os.close(fd)
print("OK", d.decode(), "closed")' "$M/ou"
	wr_check_whiteout "writeback: whiteouts for both" "$T2/u/ouro"
	wr_check_whiteout "writeback: whiteouts for both" "$T2/u/ou"
	uf_umount "$M"
fi
wr_check_lowers "writeback: lower branch unchanged"
uf_finish
