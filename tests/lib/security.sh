# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for tests/security/*.sh; source after common.sh and write.sh.
#
# The setting of every security test: the daemon runs as root in the
# foreground (-f, its stderr in $UF_TMP/daemon.log so UBSan's reports are
# kept) with -o allow_other; default_permissions is always on. The attackers
# are the real users ufsec-alice and ufsec-bob (created here if missing),
# run with setpriv. Secrets outside every branch: a 0600 root file and a
# 0600 bob file, each with a unique marker in its content and xattrs, and a
# 0700 root dir. After each attack a test calls sec_after, which checks that
# no attacker output contains a marker, that the secrets' content, mode,
# owner, times and xattrs are unchanged (and restores them), that the lowers
# are unchanged (wr_save_lowers), and that the daemon is alive and answering.
#
# Every operation through the mount runs under timeout(1): a hang is a
# FAIL, after which the FUSE connection is aborted
# (/sys/fs/fuse/connections/N/abort) so that nothing waits on it any more.
#
#   sec_init BIN              prerequisites, tmpdir, users, secrets, trap
#   sec_mount BRANCHES [OPT..] start the daemon on $SEC_MNT (default $UF_TMP/mnt)
#   sec_umount                unmount, wait for the daemon, check its reports
#   sec_run DESC WHO TMO CMD..  run CMD as WHO (alice, bob, root) under
#                             timeout TMO; sets SEC_OUT and SEC_RC; a
#                             timeout is a FAIL and aborts the connection
#   sec_py WHO TMO CODE ARGS.. sec_run of secprobe.py's prelude + CODE
#   sec_bg WHO LOG CMD..       start CMD as WHO in the background, output to
#                             LOG (killed by the cleanup); PID in $SEC_BG_PID
#   sec_wait PID TMO DESC     wait for it; not done within TMO s is a hang
#   sec_after DESC            the checks listed above
#   sec_alive DESC            the daemon answers (and has not died)
#   sec_hung                  true once anything has hung

SEC_TMO=${SEC_TMO:-10}
SEC_BIN=
SEC_MNT=
SEC_PID=
SEC_BGPIDS=()
SEC_OUT=
SEC_RC=0
SEC_SECRETS=()
SEC_BG_LOGS=()
SEC_CMD=()

sec_init() {
	SEC_BIN=$(realpath "$1")
	uf_require_fuse "$SEC_BIN"
	uf_require_root
	uf_require_cmd setpriv timeout getfattr setfattr useradd sha256sum
	uf_tmp
	trap sec_cleanup EXIT
	cd "$UF_TMP" || exit 1
	sec_user ufsec-alice
	sec_user ufsec-bob
	SEC_ALICE=$(id -u ufsec-alice):$(id -g ufsec-alice)
	SEC_BOB=$(id -u ufsec-bob):$(id -g ufsec-bob)
	SEC_MNT=$UF_TMP/mnt
	mkdir -p "$SEC_MNT"
	install -m 0644 "$UF_LIB/secprobe.py" "$UF_TMP/secprobe.py"
	: >"$UF_TMP/attacker.log"
	chmod 0666 "$UF_TMP/attacker.log"
	sec_make_secrets
}

# sec_user NAME: create a system user without a home (idempotent; left in place).
sec_user() {
	local _
	for _ in 1 2 3 4 5; do
		id -u "$1" >/dev/null 2>&1 && return 0
		useradd -M -s /usr/sbin/nologin "$1" >/dev/null 2>&1 && return 0
		sleep 0.5 # another test's useradd holds /etc/passwd.lock
	done
	id -u "$1" >/dev/null 2>&1 || uf_skip "cannot create user $1"
}

# ------------------------------------------------------------------ secrets

sec_make_secrets() {
	local s=$UF_TMP/secret
	SEC_ROOT_MARK="SECRET-ROOT-$RANDOM$RANDOM$RANDOM"
	SEC_BOB_MARK="SECRET-BOB-$RANDOM$RANDOM$RANDOM"
	SEC_DIR_MARK="SECRET-DIR-$RANDOM$RANDOM$RANDOM"
	mkdir -p "$s"
	chmod 0755 "$s"
	SEC_ROOT_FILE=$s/root.secret
	SEC_BOB_FILE=$s/bob.secret
	SEC_ROOT_DIR=$s/rootdir
	sec_restore_secrets
	SEC_SECRETS=("$SEC_ROOT_FILE" "$SEC_BOB_FILE" "$SEC_ROOT_DIR" "$SEC_ROOT_DIR/inner")
	SEC_SECRETS_STATE=$(sec_secret_state)
}

# (Re)create the secrets exactly: after a failed check the next attack
# starts from the same state.
sec_restore_secrets() {
	rm -rf "$SEC_ROOT_FILE" "$SEC_BOB_FILE" "$SEC_ROOT_DIR"
	printf '%s\n' "$SEC_ROOT_MARK" >"$SEC_ROOT_FILE"
	chmod 0600 "$SEC_ROOT_FILE"
	setfattr -n user.tag -v "$SEC_ROOT_MARK" "$SEC_ROOT_FILE"
	setfattr -n trusted.tag -v "$SEC_ROOT_MARK" "$SEC_ROOT_FILE"
	printf '%s\n' "$SEC_BOB_MARK" >"$SEC_BOB_FILE"
	chown "$SEC_BOB" "$SEC_BOB_FILE"
	chmod 0600 "$SEC_BOB_FILE"
	mkdir "$SEC_ROOT_DIR"
	printf '%s\n' "$SEC_DIR_MARK" >"$SEC_ROOT_DIR/inner"
	chmod 0644 "$SEC_ROOT_DIR/inner"
	chmod 0700 "$SEC_ROOT_DIR"
	touch -h -d '2001-02-03 04:05:06' "$SEC_ROOT_FILE" "$SEC_BOB_FILE" "$SEC_ROOT_DIR/inner" "$SEC_ROOT_DIR"
}

# Type, mode, owner, size, mtime, ctime, content hash and every xattr of
# each secret (and of any file a test appends to SEC_SECRETS).
sec_secret_state() {
	local f
	for f in "${SEC_SECRETS[@]}"; do
		if [ ! -e "$f" ] && [ ! -L "$f" ]; then
			echo "$f: missing"
			continue
		fi
		stat -c '%n %F %a %u:%g size=%s mtime=%y ctime=%z' "$f"
		[ -f "$f" ] && sha256sum <"$f"
		getfattr -h -d -m - -e hex --absolute-names "$f" 2>/dev/null | grep -v '^#' | grep -v '^$'
	done
}

# sec_add_secret FILE: also watch FILE (a test's own secret, e.g. in a lower).
sec_add_secret() {
	SEC_SECRETS+=("$1")
	SEC_SECRETS_STATE=$(sec_secret_state)
}

sec_check_secrets() {
	local now
	now=$(sec_secret_state)
	if [ "$now" == "$SEC_SECRETS_STATE" ]; then
		uf_pass "$1: the secrets are unchanged"
		return 0
	fi
	uf_fail "$1: the secrets were changed (-before +after)" \
		"$(diff -u <(printf '%s\n' "$SEC_SECRETS_STATE") <(printf '%s\n' "$now") | tail -n +3 | grep '^[-+]')"
	sec_restore_secrets
	SEC_SECRETS_STATE=$(sec_secret_state)
	return 1
}

# sec_marks: the markers no attacker output may contain, and their first 10
# bytes: a read through a stale cached size may return only a prefix.
# (Attackers' own files are longer than that: see SEC_ALICE_DATA.)
sec_marks() {
	local m
	for m in "$SEC_ROOT_MARK" "$SEC_BOB_MARK" "$SEC_DIR_MARK" ${SEC_EXTRA_MARKS:-}; do
		printf '%s\n%s\n' "$m" "${m:0:10}"
	done
}
# shellcheck disable=SC2034 # used by the tests
SEC_ALICE_DATA="ALICE-OWN-DATA, longer than any secret marker, so a read of it would show one"

sec_check_no_leak() {
	local hits l
	hits=$(grep -a -H -n -F -f <(sec_marks) "$UF_TMP/attacker.log" "${SEC_BG_LOGS[@]}" | head -n 5)
	if [ -z "$hits" ]; then
		uf_pass "$1: no secret in the attackers' output"
		return 0
	fi
	uf_fail "$1: an attacker read a secret" "$hits"
	for l in "$UF_TMP/attacker.log" "${SEC_BG_LOGS[@]}"; do
		: >"$l" # report each leak once
	done
	return 1
}

# ------------------------------------------------------------ daemon, mount

# sec_mount BRANCHES [OPTS...]: root daemon with -o allow_other in the
# foreground (stderr kept), mounted on $SEC_MNT.
sec_mount() {
	local branches=$1
	shift
	"$SEC_BIN" -f -o allow_other "$@" "$branches" "$SEC_MNT" >>"$UF_TMP/daemon.log" 2>&1 &
	SEC_PID=$!
	for _ in $(seq 200); do
		if uf_is_mounted "$SEC_MNT" && timeout 5 mountpoint -q "$SEC_MNT"; then
			return 0
		fi
		if ! kill -0 "$SEC_PID" 2>/dev/null; then
			uf_fail "mount: unionfuse -f -o allow_other $* $branches $SEC_MNT" \
				"the daemon exited before mounting: $(tail -n 20 "$UF_TMP/daemon.log")"
			SEC_PID=
			return 1
		fi
		sleep 0.05
	done
	uf_fail "mount: unionfuse -f -o allow_other $* $branches $SEC_MNT" "no mount after 10 s"
	return 1
}

# The FUSE connection number of mount point $1 (read from mountinfo, which
# works on a hung mount where stat(1) would block).
sec_conn() {
	uf_mounts_under "$1" | awk -v m="$1" '$2 == m && $1 ~ /^fuse/ { print $3; exit }'
}

sec_abort() {
	local c
	c=$(sec_conn "$SEC_MNT")
	[ -n "$c" ] && [ -w "/sys/fs/fuse/connections/$c/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/$c/abort" 2>/dev/null
	return 0
}

sec_hung() { [ -s "$UF_TMP/hangs" ]; }

# sec_note_hang DESC: record and report a hang, then abort the connection so
# that the rest of the test fails fast instead of hanging too.
sec_note_hang() {
	printf '%s\n' "$1" >>"$UF_TMP/hangs"
	uf_fail "$1: no answer within the timeout (a hang); aborting the FUSE connection"
	sec_abort
}

# sec_sanitizer_reports: print any ASan/LSan/UBSan report of our daemon.
sec_sanitizer_reports() {
	grep -a -E -A 30 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: (Address|Undefined|Leak)' \
		"$UF_TMP/daemon.log" 2>/dev/null | head -n 80
	uf_sanitizer_reports
}

# sec_umount: unmount, wait for the daemon to exit, check its reports.
sec_umount() {
	local rc=0 rep
	[ -n "$SEC_PID" ] || return 0
	if uf_is_mounted "$SEC_MNT"; then
		if sec_hung; then
			sec_abort
			timeout 10 fusermount3 -uz "$SEC_MNT" >/dev/null 2>&1
		else
			uf_umount "$SEC_MNT" || rc=1
		fi
	fi
	if ! timeout 20 tail --pid="$SEC_PID" -f /dev/null; then
		uf_fail "the daemon (pid $SEC_PID) exits after the unmount" "still running after 20 s"
		uf_dump_threads "$SEC_PID"
		kill -KILL "$SEC_PID" 2>/dev/null
	fi
	wait "$SEC_PID" 2>/dev/null
	SEC_PID=
	rep=$(sec_sanitizer_reports)
	if [ -n "$rep" ]; then
		uf_fail "sanitizer reports of the daemon" "$rep"
		rc=1
	fi
	# reported; a new mount starts afresh
	[ -f "$UF_TMP/hangs" ] && mv "$UF_TMP/hangs" "$UF_TMP/hangs.$(date +%s%N)"
	return "$rc"
}

sec_cleanup() {
	local rc=$? p
	for p in "${SEC_BGPIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$SEC_PID" ] && kill -0 "$SEC_PID" 2>/dev/null; then
		# a hung mount must not hold the unmount up
		sec_hung && sec_abort
	fi
	# the union may be bind-mounted below a branch: deepest first, by uf_cleanup
	(exit "$rc")
	uf_cleanup
}

# sec_alive DESC: the daemon runs and answers a stat and a read of a file.
# $SEC_CANARY (a path relative to the mount, content "canary") is read.
sec_alive() {
	local out rc=0
	if [ -z "$SEC_PID" ] || ! kill -0 "$SEC_PID" 2>/dev/null; then
		uf_fail "$1: the daemon is alive" "the daemon (pid ${SEC_PID:-?}) is gone; log:" \
			"$(tail -n 20 "$UF_TMP/daemon.log")"
		return 1
	fi
	if sec_hung; then
		uf_fail "$1: the daemon answers" "an operation hung earlier; the connection was aborted"
		return 1
	fi
	out=$(timeout -k 2 "$SEC_TMO" cat "$SEC_MNT/${SEC_CANARY:-canary}" 2>&1) || rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		sec_note_hang "$1: cat MNT/${SEC_CANARY:-canary}"
		return 1
	fi
	uf_check_eq "$1: the daemon is alive and answers" "canary" "$out" "cat $SEC_MNT/${SEC_CANARY:-canary}"
}

# sec_after DESC: the checks after every attack.
sec_after() {
	sec_check_no_leak "$1"
	sec_check_secrets "$1"
	[ ${#WR_LOWER_DIRS[@]} -gt 0 ] && wr_check_lowers "$1: lower branches unchanged"
	sec_alive "$1"
}

# ---------------------------------------------------------------- attackers

# sec_who_ids WHO: "UID:GID" of alice, bob, or root.
sec_who_ids() {
	case $1 in
	alice) echo "$SEC_ALICE" ;;
	bob) echo "$SEC_BOB" ;;
	root) echo 0:0 ;;
	*) echo "sec_who_ids: unknown user $1" >&2; return 1 ;;
	esac
}

# sec_cmd WHO CMD...: print nothing; set SEC_CMD to CMD run as WHO (no
# supplementary groups, HOME=/).
sec_cmd() {
	local ids
	ids=$(sec_who_ids "$1") || return 2
	shift
	if [ "$ids" = 0:0 ]; then
		SEC_CMD=("$@")
	else
		SEC_CMD=(setpriv --reuid="${ids%:*}" --regid="${ids#*:}" --clear-groups -- env HOME=/ "$@")
	fi
}

# sec_run DESC WHO TMO CMD...: sets SEC_OUT (stdout+stderr) and SEC_RC. The
# output of alice and bob goes to attacker.log, which must never hold a
# secret's marker. Runs in / (the source tree may be closed to them).
sec_run() {
	local desc=$1 who=$2 tmo=$3
	shift 3
	SEC_RC=0
	sec_cmd "$who" "$@" || return 1
	(cd / && exec timeout -k 3 "$tmo" "${SEC_CMD[@]}") >"$UF_TMP/run.out" 2>&1 || SEC_RC=$?
	# shellcheck disable=SC2034 # read by the caller
	SEC_OUT=$(cat "$UF_TMP/run.out")
	[ "$who" = root ] || cat "$UF_TMP/run.out" >>"$UF_TMP/attacker.log"
	if [ "$SEC_RC" -eq 124 ] || [ "$SEC_RC" -eq 137 ]; then
		sec_note_hang "$desc"
		return 1
	fi
	return 0
}

# sec_py WHO TMO CODE [ARGS...]: python with secprobe.py's helpers (A = args).
sec_py() {
	local who=$1 tmo=$2 code=$3
	shift 3
	sec_run "python as $who: $(printf '%s' "$code" | head -n 1 | head -c 80)" "$who" "$tmo" \
		"$UF_PYTHON" "$UF_TMP/secprobe.py" exec "$code" "$@"
}

# sec_bg WHO LOG CMD...: background job as WHO, output to LOG (checked for
# secrets with attacker.log unless WHO is root); the cleanup kills it. Its
# PID is $SEC_BG_PID.
sec_bg() {
	local who=$1 log=$2
	shift 2
	sec_cmd "$who" "$@" || return 1
	(cd / && exec "${SEC_CMD[@]}") >"$log" 2>&1 &
	SEC_BG_PID=$!
	SEC_BGPIDS+=("$SEC_BG_PID")
	[ "$who" = root ] || SEC_BG_LOGS+=("$log")
}

# sec_wait PID TMO DESC: wait for a background job; a timeout is a hang.
sec_wait() {
	local rc=0
	if ! timeout "$2" tail --pid="$1" -f /dev/null; then
		kill -KILL "$1" 2>/dev/null
		sec_note_hang "$3"
	fi
	wait "$1" 2>/dev/null || rc=$?
	return "$rc"
}
