#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The sandbox farm serving real users: one root daemon (allow_other,
# default_permissions) with a sandbox per user, each upper owned by its
# user, 0700; "shared" is bob's too but 0755 with a 0600 file; "pub" is
# root's. Alice attacks:
#  - bob's sandbox: list, read, create, stat inside: EACCES (its root shows
#    bob's 0700 upper); bob's shared sandbox: the 0600 file stays closed,
#    the readable base files read;
#  - root's 04777 file and a 0777 file with a capability: her writes drop
#    S_ISUID and the capability (the kernel leaves that to the daemon);
#  - her own sandbox: files keep owners and modes (hers in the upper, root's
#    0600 base file stays unreadable after she cannot copy it up);
#  - names: "..", ".", "a/b", "%n", ".wh.x", a newline, 300 bytes, bob's
#    name with a trailing slash;
#  - the farm root: mkdir, rename of her sandbox, symlink: EACCES (the
#    kernel's, by the root's mode); rename into bob's: EACCES; rename and
#    link between two sandboxes of hers: EXDEV;
#  - her own upper, written directly: a symlink to a root secret shows as a
#    symlink, reading through it is EACCES.
# After each: no marker leaked, the secrets and the base unchanged, the
# daemon alive (sec_after).
# Usage: sec-farm.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
B=$UF_TMP/base
U=$UF_TMP/uppers
mkdir -p "$B/etc" "$B/pubdir" "$U/pub"
printf 'canary\n' >"$B/canary"
printf 'hello\n' >"$B/etc/motd"
printf '%s\n' "$SEC_ROOT_MARK" >"$B/etc/shadowish"
chmod 0600 "$B/etc/shadowish"
# shellcheck disable=SC2034 # read by sec_alive
SEC_CANARY=pub/canary
mkdir -m 0700 "$U/alice" "$U/alice2" "$U/bob"
mkdir -m 0755 "$U/shared"
chown "$SEC_ALICE" "$U/alice" "$U/alice2"
chown "$SEC_BOB" "$U/bob" "$U/shared"
printf '%s\n' "$SEC_BOB_MARK" >"$U/bob/diary"
printf '%s\n' "$SEC_BOB_MARK" >"$U/shared/private"
chown "$SEC_BOB" "$U/bob/diary" "$U/shared/private"
chmod 0600 "$U/bob/diary" "$U/shared/private"
# root's setuid and capability-bearing files anyone may write: a write by
# alice drops the privilege, as the kernel's (in the upper, and copied up)
install -m 4777 /dev/null "$U/pub/suidw"
install -m 0777 /dev/null "$B/capw"
setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$B/capw"
wr_save_lowers "$B"
sec_mount "$B:$U/%n" || uf_finish
M=$SEC_MNT

# --- owners and modes
uf_check_out "alice's sandbox shows her 0700 upper" "700 $SEC_ALICE" stat -c '%a %u:%g' "$M/alice"
uf_check_out "bob's shows his" "700 $SEC_BOB" stat -c '%a %u:%g' "$M/bob"
sec_run "alice writes in her sandbox" alice 10 sh -c "echo mine >$M/alice/mine && chmod 640 $M/alice/mine && stat -c '%a %u:%g' $M/alice/mine"
uf_check_eq "her file is hers, 0640, in the union" "640 $SEC_ALICE" "$SEC_OUT"
uf_check_out "and in her upper" "640 $SEC_ALICE" stat -c '%a %u:%g' "$U/alice/mine"
sec_run "alice writes root's 04777 file in the pub sandbox" alice 10 sh -c "echo x >>$M/pub/suidw"
uf_check_out "its S_ISUID is gone, as on the kernel" "777 0:0" stat -c '%a %u:%g' "$U/pub/suidw"
sec_run "alice writes root's 0777 base file with a capability" alice 10 sh -c "echo x >>$M/pub/capw"
uf_check_eq "...she may" "0" "$SEC_RC"
uf_check_eq "its copy has no capability" "none" \
	"$(getfattr --absolute-names -n security.capability "$U/pub/capw" >/dev/null 2>&1 && echo kept || echo none)"
sec_run "alice reads root's 0600 base file" alice 10 cat "$M/alice/etc/shadowish"
uf_check_eq "root's 0600 base file: EACCES in her own sandbox" "1" "$SEC_RC"
sec_run "alice chmods root's base file" alice 10 chmod 644 "$M/alice/etc/shadowish"
uf_check_eq "she cannot chmod it (EPERM)" "1" "$SEC_RC"
wr_check_kind "nothing copied up for her" "absent" "$U/alice/etc/shadowish"
sec_after "own sandbox"

# --- bob's sandboxes
sec_run "alice lists bob's sandbox" alice 10 ls "$M/bob"
uf_check "alice cannot list bob's sandbox" [ "$SEC_RC" -ne 0 ]
sec_run "alice reads bob's diary" alice 10 cat "$M/bob/diary"
uf_check_eq "nor read in it" "1" "$SEC_RC"
sec_py alice 10 'os.stat(A[0]); print("OK")' "$M/bob/diary"
uf_check_eq "nor stat in it (EACCES)" "EACCES" "$SEC_OUT"
sec_run "alice creates in bob's sandbox" alice 10 touch "$M/bob/planted"
uf_check_eq "nor create in it" "1" "$SEC_RC"
wr_check_kind "nothing planted in bob's upper" "absent" "$U/bob/planted"
sec_run "alice reads bob's shared sandbox" alice 10 cat "$M/shared/etc/motd"
uf_check_eq "bob's 0755 sandbox: the base reads" "hello" "$SEC_OUT"
sec_run "alice reads bob's 0600 file there" alice 10 cat "$M/shared/private"
uf_check_eq "its 0600 file does not" "1" "$SEC_RC"
sec_run "alice writes in bob's shared sandbox" alice 10 sh -c "echo x >$M/shared/etc/motd"
uf_check "nor is its base file writable to her" [ "$SEC_RC" -ne 0 ]
wr_check_kind "no copy-up in bob's upper" "absent" "$U/shared/etc"
sec_after "bob's sandboxes"

# --- hostile names
for n in .. . %n .wh.x '.wh..wh..opq' $'a\nb' "$(printf 'n%.0s' $(seq 300))" 'bob/'; do
	sec_py alice 10 'os.lstat(A[0]); print("OK")' "$M/$n"
	case $n in
	.. | .) exp=OK ;;     # the kernel's own: the farm root and its parent
	bob/) exp=OK ;;       # bob's sandbox itself; its content stays closed
	n*) exp=ENAMETOOLONG ;;
	*) exp=ENOENT ;;
	esac
	uf_check_eq "name '$(printf '%q' "$n" | head -c 40)': $exp" "$exp" "$SEC_OUT"
done
sec_py alice 10 'os.listdir(A[0]); print("OK")' "$M/alice/../bob"
uf_check_eq "alice/../bob is bob's, still closed" "EACCES" "$SEC_OUT"
sec_after "names"

# --- the farm root and across sandboxes
sec_py alice 10 'os.mkdir(A[0]); print("OK")' "$M/carol"
# The kernel refuses first: the farm root is root's 0755 uppers' dir.
uf_check_eq "mkdir in the farm root: EACCES" "EACCES" "$SEC_OUT"
sec_py alice 10 'os.rename(A[0], A[1]); print("OK")' "$M/alice" "$M/bob2"
uf_check_eq "rename of her sandbox: EACCES" "EACCES" "$SEC_OUT"
sec_py alice 10 'os.symlink("/", A[0]); print("OK")' "$M/root"
uf_check_eq "symlink in the farm root: EACCES" "EACCES" "$SEC_OUT"
sec_py alice 10 'os.rename(A[0], A[1]); print("OK")' "$M/alice/mine" "$M/shared/mine"
uf_check_eq "rename of hers into bob's: EACCES" "EACCES" "$SEC_OUT"
wr_check_kind "bob's upper untouched" "absent" "$U/shared/mine"
# Between two sandboxes of hers the kernel lets the calls through: EXDEV.
sec_py alice 10 'os.rename(A[0], A[1]); print("OK")' "$M/alice/mine" "$M/alice2/mine"
uf_check_eq "rename between her sandboxes: EXDEV" "EXDEV" "$SEC_OUT"
sec_py alice 10 'os.link(A[0], A[1]); print("OK")' "$M/alice/mine" "$M/alice2/mine"
uf_check_eq "link between her sandboxes: EXDEV" "EXDEV" "$SEC_OUT"
wr_check_kind "her file stays in her first upper" "file:mine" "$U/alice/mine"
sec_after "farm root"

# --- her own upper, written directly
sec_run "alice plants a symlink in her upper" alice 10 ln -s "$SEC_ROOT_FILE" "$U/alice/escape"
uf_check_out "the union shows it as a symlink" "symbolic link" stat -c '%F' "$M/alice/escape"
sec_run "alice reads through it" alice 10 cat "$M/alice/escape"
uf_check_eq "reading through it is hers to do: EACCES" "1" "$SEC_RC"
sec_after "direct writes"

sec_umount
uf_finish
