#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The example unit contrib/systemd/srv-union.mount under a real systemd:
# systemd-nspawn boots the host's /usr with a fresh /etc on tmpfs
# (--volatile=yes), systemd as its PID 1, our binary as
# /usr/local/sbin/unionfuse, /dev/fuse bound in, /srv from a scratch
# directory. In it a oneshot service that requires the mount checks what
# systemd made of the unit (active, mounted by mount.fuse3 with the unit's
# source and type, the base seen, writes landing in the ephemeral upper and
# not in the base), stops the unit (unmounted, the daemon gone) and powers
# the container off. Here the results are checked and the base compared.
# Usage: systemd-unit.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
BIN=$(realpath "$BIN")
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd systemd-nspawn
[ -x /lib/systemd/systemd ] || uf_skip "systemd is not installed"
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] || uf_skip "mount.fuse3 is not installed"
uf_tmp
[ -n "${UF_KEEP_CONSOLE:-}" ] && trap 'cp "$UF_TMP/console.log" "$UF_KEEP_CONSOLE"' EXIT
UNIT=$(realpath "$(dirname "$0")/../../contrib/systemd/srv-union.mount")
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# /srv of the container: the unit's /srv/base, and its mount point.
SRV=$UF_TMP/srv
mkdir -p "$SRV/base/etc" "$SRV/union"
printf 'from the base\n' >"$SRV/base/etc/motd"
printf 'keep\n' >"$SRV/base/keep"
base_sum=$(cd "$SRV/base" && find . -print0 | sort -z | xargs -0 stat -c '%n %a %s %Y' && cat etc/motd keep)
# The binary under the name mount.fuse3 runs (PATH of a mount unit): its
# build directory stays at its path, for the bundled libfuse's RUNPATH.
mkdir -p "$UF_TMP/bin" "$UF_TMP/io"
ln -s "$BIN" "$UF_TMP/bin/unionfuse"

cat >"$UF_TMP/uftest.service" <<'EOS'
[Unit]
Description=unionfuse: check srv-union.mount, then power off
Wants=srv-union.mount
After=srv-union.mount

[Service]
Type=oneshot
ExecStart=/bin/sh /io/check.sh
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=journal+console
EOS
cat >"$UF_TMP/io/check.sh" <<'EOS'
#!/bin/sh
# Runs as a service under the container's systemd; writes KEY=VALUE lines.
out=/io/result
: >$out.tmp
say() { printf '%s=%s\n' "$1" "$2" >>$out.tmp; }
say pid1 "$(cat /proc/1/comm)"
say active "$(systemctl is-active srv-union.mount)"
say mount "$(findmnt -n -o SOURCE,FSTYPE /srv/union)"
say motd "$(cat /srv/union/etc/motd)"
echo written >/srv/union/new && echo changed >>/srv/union/keep
say new "$(cat /srv/union/new)"
say keep "$(cat /srv/union/keep | tr '\n' ' ')"
pid=$(pgrep -x unionfuse)
say daemon "${pid:+running}"
systemctl stop srv-union.mount
say stopped "$(systemctl is-active srv-union.mount)"
say unmounted "$(findmnt -n /srv/union >/dev/null && echo no || echo yes)"
for i in $(seq 100); do [ -d /proc/$pid ] || break; sleep 0.1; done
say daemon_after "$([ -n "$pid" ] && [ -d /proc/$pid ] && echo running || echo gone)"
say journal "$(journalctl -b -u srv-union.mount -o cat | grep -ci 'error\|fail')"
mv $out.tmp $out
EOS

uf_log "booting systemd in a container (systemd-nspawn --volatile=yes)"
t0=$SECONDS
timeout 60 systemd-nspawn -q --volatile=yes -D / --register=no --keep-unit \
	--bind=/dev/fuse --bind="$SRV:/srv" --bind="$UF_TMP/io:/io" \
	--bind-ro="$TOP" --bind-ro="$UF_TMP/bin:/usr/local/sbin" \
	--bind-ro="$UNIT:/etc/systemd/system/srv-union.mount" \
	--bind-ro="$UF_TMP/uftest.service:/etc/systemd/system/uftest.service" \
	-b -- systemd.unit=uftest.service systemd.firstboot=off >"$UF_TMP/console.log" 2>&1
rc=$?
uf_log "the container ran $((SECONDS - t0)) s, exit $rc"
if [ ! -s "$UF_TMP/io/result" ]; then
	uf_fail "the check service ran under systemd" "exit $rc; console:" "$(tail -n 30 "$UF_TMP/console.log")"
	uf_finish
fi
get() { sed -n "s/^$1=//p" "$UF_TMP/io/result"; }
uf_check_eq "PID 1 of the container is systemd" "systemd" "$(get pid1)"
uf_check_eq "systemd started srv-union.mount" "active" "$(get active)"
uf_check_eq "mounted with the unit's What= and Type=" "/srv/base fuse.unionfuse" "$(get mount | tr -s ' ')"
uf_check_eq "the union shows the base" "from the base" "$(get motd)"
uf_check_eq "a new file reads back" "written" "$(get new)"
uf_check_eq "an appended base file reads back" "keep changed " "$(get keep)"
uf_check_eq "the daemon ran" "running" "$(get daemon)"
uf_check_eq "systemctl stop: the unit is inactive" "inactive" "$(get stopped)"
uf_check_eq "...unmounted" "yes" "$(get unmounted)"
uf_check_eq "...and the daemon gone" "gone" "$(get daemon_after)"
uf_check_eq "no error in the unit's journal" "0" "$(get journal)"
uf_check_eq "the base is unchanged" "$base_sum" \
	"$(cd "$SRV/base" && find . -print0 | sort -z | xargs -0 stat -c '%n %a %s %Y' && cat etc/motd keep)"
uf_check_eq "nothing was left in /srv" "base union" "$(ls "$SRV" | paste -sd' ')"
uf_check_eq "the container powered off cleanly" "0" "$rc"
uf_finish
