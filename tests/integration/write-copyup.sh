#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Copy-up of lower objects through a 3-branch union: every trigger (write,
# truncate, chmod, chown, utimes, setxattr, link, rename) copies data, mode,
# owner, atime/mtime to the ns and xattrs (never trusted.overlay.*); a 1 GiB
# sparse file stays sparse after a 1-byte write; symlinks keep target and
# owner; fifos and devices keep their type; setuid/setgid survive; st_ino is
# the same before and after (also after the kernel forgets the inode); lower
# hard links copy up one name only; concurrent writers of one lower file all
# land in the one copy; an fd opened before the copy-up reads the new data
# (as the kernel overlayfs); no temp file is left behind; no lower changes.
# Usage: write-copyup.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr setfattr du
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
B1=$T/b1 B2=$T/b2 U=$T/u
mkdir -p "$B1" "$B2" "$U" "$M"
ATIME='2003-04-05 06:07:08.123456789'
MTIME='2004-05-06 07:08:09.987654321'
TRIGGERS="write trunc chmod chown utime setx link rename"
(
	set -e
	cd "$B1"
	truncate -s 1G sparse1g
	printf 'MIDDLE' | dd of=sparse1g bs=1 seek=$((512 << 20)) conv=notrunc status=none
	for t in $TRIGGERS; do
		printf 'meta data' >"m_$t"
		chmod 0640 "m_$t"
		chown 1234:5678 "m_$t"
		setfattr -n user.a -v 1 "m_$t"
		setfattr -n user.bin -v 0x00ff "m_$t"
		setfattr -n trusted.t -v T "m_$t"
		setfattr -n trusted.overlay.foo -v bar "m_$t"
		touch -a -d "$ATIME" "m_$t"
		touch -m -d "$MTIME" "m_$t"
	done
	ln -s target/path sym
	chown -h 7:8 sym
	ln -s other/target sym2
	chown -h 7:8 sym2
	mkfifo -m 0620 ff
	chown 3:4 ff
	mknod -m 0600 cdev c 1 3
	chown 5:6 cdev
	printf 'suid' >suid
	chmod 4755 suid
	printf 'sgid' >sgid
	chmod 2755 sgid
	printf 'suidx' >suidx
	chmod 6755 suidx
	printf 'hard' >h1
	ln h1 h2
	head -c $((5 << 20)) /dev/urandom >rand
	printf 'ino' >inof
	printf 'ino2' >inof2
	mkdir -p ld
	head -c 65536 /dev/zero | tr '\0' . >race
	printf 'old data' >rofd
	cd "$B2"
)
wr_save_lowers "$B1" "$B2"

uf_mount "$BIN" "$B1:$B2:$U" "$M" || uf_finish

# ---------------------------------------------------------------- sparse 1 GiB
uf_log "1 GiB sparse file, 1-byte write"
wr_check_py "write 1 byte at offset 100 of the 1 GiB sparse lower file" OK \
	'fd = os.open(A[0], os.O_WRONLY); os.pwrite(fd, b"!", 100); os.close(fd); print("OK")' "$M/sparse1g"
uf_check_out "view: size, the new byte, the old middle data" "1073741824 ! MIDDLE" \
	bash -c 'echo $(stat -c %s "$1") $(dd if="$1" bs=1 skip=100 count=1 status=none) $(dd if="$1" iflag=skip_bytes,count_bytes skip=$((512 << 20)) count=6 bs=4K status=none)' _ "$M/sparse1g"
kb=$(du -k "$U/sparse1g" | cut -f1)
if [ -n "$kb" ] && [ "$kb" -le 64 ]; then
	uf_pass "upper copy of the 1 GiB sparse file stays sparse (du -k = $kb)"
else
	uf_fail "upper copy of the 1 GiB sparse file stays sparse" "command: du -k $U/sparse1g" \
		"expected: <= 64 KiB (lower: $(du -k "$B1/sparse1g" | cut -f1))" "actual:   ${kb:-missing}"
fi
uf_check_out "upper copy: size and data" "1073741824 ! MIDDLE" \
	bash -c 'echo $(stat -c %s "$1") $(dd if="$1" bs=1 skip=100 count=1 status=none) $(dd if="$1" iflag=skip_bytes,count_bytes skip=$((512 << 20)) count=6 bs=4K status=none)' _ "$U/sparse1g"

# ---------------------------------------------------------------- metadata per trigger
uf_log "copy-up triggers keep the metadata"
want_x='trusted.t=0x54
user.a=0x31
user.bin=0x00ff'
xattrs_of() {
	# the format's own xattrs the daemon may add (as the kernel does) are not data
	getfattr -h -d -m - -e hex --absolute-names "$1" 2>/dev/null | grep -v '^#' | grep -v '^$' |
		grep -v -E '^trusted\.overlay\.(origin|impure|nlink|uuid|metacopy)=' | sort
}
uf_check_errno "trigger write" OK write "$M/m_write"
uf_check_errno "trigger truncate" OK truncate "$M/m_trunc" 4
uf_check_errno "trigger chmod" OK chmod "$M/m_chmod" 600
uf_check_errno "trigger chown" OK chown "$M/m_chown" 11 22
wr_check_py "trigger utimensat (ns)" OK 'os.utime(A[0], ns=(1000000001, 2000000002)); print("OK")' "$M/m_utime"
uf_check_errno "trigger setxattr" OK setxattr "$M/m_setx" user.new v
uf_check_errno "trigger link" OK link "$M/m_link.2" "$M/m_link"
uf_check_errno "trigger rename" OK rename "$M/m_rename" "$M/m_renamed"
declare -A want_mode=([write]=640 [trunc]=640 [chmod]=600 [chown]=640 [utime]=640 [setx]=640 [link]=640 [rename]=640)
declare -A want_own=([chown]=11:22)
declare -A want_data=([write]='xeta data' [trunc]='meta')
for t in $TRIGGERS; do
	u=$U/m_$t
	[ "$t" = rename ] && u=$U/m_renamed
	# times first: reading the upper file below updates its atime
	case $t in
	write | trunc) ;;
	utime) uf_check_out "$t: atime/mtime set to the ns" "1000000001 2000000002" \
		"$UF_PYTHON" -c 'import os,sys; s=os.lstat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns)' "$u" ;;
	*) uf_check_out "$t: atime and mtime copied to the ns" \
		"$(date -d "$ATIME" +%s)123456789 $(date -d "$MTIME" +%s)987654321" \
		"$UF_PYTHON" -c 'import os,sys; s=os.lstat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns)' "$u" ;;
	esac
	uf_check_out "$t: upper copy has mode and owner" "${want_mode[$t]} ${want_own[$t]:-1234:5678}" stat -c '%a %u:%g' "$u"
	uf_check_out "$t: upper copy has the data" "${want_data[$t]:-meta data}" cat "$u"
	exp_x=$want_x
	[ "$t" = setx ] && exp_x=$(printf '%s\nuser.new=0x76' "$want_x" | sort)
	uf_check_out "$t: xattrs copied, trusted.overlay.foo not" "$exp_x" xattrs_of "$u"
done
uf_check_out "view of m_setx: times and xattrs" \
	"$(date -d "$MTIME" +%s)987654321 $(printf '%s\nuser.new=0x76' "$want_x" | sort | tr '\n' ' ' | sed 's/ $//')" \
	bash -c 'echo $('"$UF_PYTHON"' -c "import os,sys; print(os.lstat(sys.argv[1]).st_mtime_ns)" "$1") $(getfattr -h -d -m - -e hex --absolute-names "$1" | grep -v "^#" | grep -v "^$" | sort)' _ "$M/m_setx"
uf_check_out "link trigger: both names in the upper, one inode" "2 2 same" \
	bash -c 'echo $(stat -c %h "$1" "$2") $([ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ] && echo same || echo differ)' _ "$U/m_link" "$U/m_link.2"

# ---------------------------------------------------------------- special files
uf_log "symlinks, fifos, devices, setuid"
uf_check "lchown-free trigger on a symlink: trusted xattr with -h" setfattr -h -n trusted.s -v 1 "$M/sym"
uf_check_out "symlink copy-up: target and owner kept" "symbolic link target/path 7:8" \
	bash -c 'echo $(stat -c %F "$1") $(readlink "$1") $(stat -c %u:%g "$1")' _ "$U/sym"
uf_check "touch -h on a lower symlink" env TZ=UTC touch -h -d '2005-01-01 00:00:00.5' "$M/sym2"
uf_check_out "symlink copy-up by utimes: target, owner, new mtime" "other/target 7:8 1104537600500000000" \
	bash -c 'echo $(readlink "$1") $(stat -c %u:%g "$1") $('"$UF_PYTHON"' -c "import os,sys; print(os.lstat(sys.argv[1]).st_mtime_ns)" "$1")' _ "$U/sym2"
uf_check_errno "chmod a lower fifo" OK chmod "$M/ff" 660
uf_check_out "fifo copy-up: still a fifo, owner kept" "fifo 660 3:4" stat -c '%F %a %u:%g' "$U/ff"
uf_check_errno "chown a lower char device" OK chown "$M/cdev" 9 9
uf_check_out "device copy-up: still c 1:3" "character special file 1:3 600 9:9" stat -c '%F %t:%T %a %u:%g' "$U/cdev"
uf_check_errno "setxattr on a setuid lower file" OK setxattr "$M/suid" user.x 1
uf_check_out "setuid kept by copy-up" "4755" stat -c %a "$U/suid"
uf_check_errno "setxattr on a setgid lower file" OK setxattr "$M/sgid" user.x 1
uf_check_out "setgid kept by copy-up" "2755" stat -c %a "$U/sgid"
uf_check_out "write as root to a 6755 lower file" "6755 6755" \
	bash -c 'printf X | dd of="$1" conv=notrunc status=none && echo $(stat -c %a "$1") $(stat -c %a "$2")' _ "$M/suidx" "$U/suidx"

# ---------------------------------------------------------------- hard links
uf_log "lower hard links"
uf_check_out "write through one name of a lower hard link" "HARD|hard" \
	bash -c 'printf HARD >"$1" && echo "$(cat "$1")|$(cat "$2")"' _ "$M/h1" "$M/h2"
wr_check_kind "only the written name is copied up" "file:HARD" "$U/h1"
wr_check_kind "the other name stays in the lower" absent "$U/h2"

# ---------------------------------------------------------------- data, st_ino
uf_log "data integrity, st_ino"
uf_check "append 1 byte to a 5 MiB random lower file" bash -c 'printf Z >>"$1"' _ "$M/rand"
uf_check_out "5 MiB copy: upper size and head checksum" "$(((5 << 20) + 1)) $(sha256sum <"$B1/rand" | cut -c1-64) Z" \
	bash -c 'echo $(stat -c %s "$1") $(head -c $((5 << 20)) "$1" | sha256sum | cut -c1-64) $(tail -c 1 "$1")' _ "$U/rand"
i1=$(stat -c %i "$M/inof")
uf_check_out "st_ino unchanged by copy-up" "$i1" bash -c 'printf x >>"$1" && stat -c %i "$1"' _ "$M/inof"
i2=$(stat -c %i "$M/inof2")
id=$(stat -c %i "$M/ld")
uf_check_errno "copy up inof2 (chmod)" OK chmod "$M/inof2" 600
uf_check_out "dir st_ino unchanged by copying the dir up" "$id" bash -c 'printf x >"$1/new" && stat -c %i "$1"' _ "$M/ld"
sync
if echo 2 2>/dev/null >/proc/sys/vm/drop_caches; then
	uf_check_out "st_ino of copied-up file, file and dir unchanged after drop_caches (forget + lookup)" \
		"$i1 $i2 $id" bash -c 'echo $(stat -c %i "$1" "$2" "$3")' _ "$M/inof" "$M/inof2" "$M/ld"
else
	uf_log "cannot write /proc/sys/vm/drop_caches: st_ino across forget not checked"
fi

# ---------------------------------------------------------------- concurrency, old fds
uf_log "concurrent copy-up, fd opened before copy-up"
uf_check_out "16 processes write one lower file at once: all writes land" "0123456789abcdef" \
	"$UF_PYTHON" -c '
import os, sys
p = sys.argv[1]
pids = []
for i in range(16):
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_WRONLY)
        os.pwrite(fd, b"%x" % i, i * 4096)
        os.close(fd)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
d = open(p, "rb").read()
print("".join(chr(d[i * 4096]) for i in range(16)))' "$M/race"
uf_check_out "race: the upper copy has all 16 writes" "0123456789abcdef 65536" \
	bash -c 'for i in $(seq 0 15); do dd if="$1" bs=1 skip=$((i * 4096)) count=1 status=none; done; echo " $(stat -c %s "$1")"' _ "$U/race"
wr_check_py "fd opened O_RDONLY before the copy-up reads the new data (as overlayfs)" "b'old data' b'NEW data'" \
	'r = os.open(A[0], os.O_RDONLY); a = os.pread(r, 100, 0)
w = os.open(A[0], os.O_WRONLY); os.pwrite(w, b"NEW", 0); os.close(w)
print(a, os.pread(r, 100, 0)); os.close(r)' "$M/rofd"

# ---------------------------------------------------------------- upper contents
uf_check_out "upper holds exactly the copied-up names (no temp files)" \
	"$(printf '%s\n' cdev ff h1 inof inof2 ld ld/new m_chmod m_chown m_link m_link.2 m_rename m_renamed m_setx \
		m_trunc m_utime m_write race rand rofd sgid sparse1g suid suidx sym sym2 | sort)" \
	bash -c 'cd "$1" && find . -mindepth 1 | sed "s|^\./||" | sort' _ "$U"

uf_umount "$M"
wr_check_lowers
uf_finish
