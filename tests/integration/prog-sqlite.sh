#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sqlite3 databases that live in the lower branch, written through the
# union by one sqlite3 process reading a script of 3000 small transactions
# (inserts and updates, each BEGIN ... COMMIT):
#  - journal_mode=WAL, synchronous=FULL (-wal and -shm made in the upper,
#    the -shm mmap'ed shared, an fsync per commit, a checkpoint at close);
#  - journal_mode=DELETE (a -journal created and unlinked per transaction),
#    synchronous=OFF for the 3000, then 50 more with synchronous=FULL;
#  - two writers and a reader at once on one WAL database (fcntl locks and
#    the shared -shm between processes).
# Each result must pass PRAGMA integrity_check and dump exactly like the
# same script run on a plain copy; no -wal/-journal is left; the lower is
# unchanged; the upper's copies are the complete databases and a fresh
# mount shows the same.
# Usage: prog-sqlite.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_cmd sqlite3 sha256sum awk
uf_tmp

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
P=$UF_TMP/plain
mkdir -p "$L/db" "$U" "$M" "$P"
N=3000

sqlite3 "$L/db/wal.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT, b BLOB);
	CREATE INDEX tk ON t(k);
	WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<2000)
	INSERT INTO t SELECT i, i*7%1000, printf('row %d', i), zeroblob(100+i%300) FROM c;" ||
	{ uf_fail "create the lower database"; uf_finish; }
for d in del.db multi.db; do cp "$L/db/wal.db" "$L/db/$d"; done
lower_sum=$(cd "$L" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

# script MODE SYNC N FIRST: N transactions; a third are updates.
script() {
	awk -v mode="$1" -v sync="$2" -v n="$3" -v first="$4" 'BEGIN {
		printf "PRAGMA journal_mode=%s;\nPRAGMA synchronous=%s;\n", mode, sync
		for (i = first; i < first + n; i++) {
			if (i % 3 == 0)
				printf "BEGIN; UPDATE t SET v=v||\x27,%d\x27, k=k+1 WHERE id=%d; COMMIT;\n", i, (i * 37) % 2000 + 1
			else
				printf "BEGIN; INSERT INTO t(k,v,b) VALUES(%d, \x27ins %d\x27, zeroblob(%d)); COMMIT;\n", i % 500, i, i % 700
		}
	}'
}
dump() { sqlite3 "$1" .dump | sha256sum | cut -d' ' -f1; }
counts() { sqlite3 "$1" "PRAGMA integrity_check; SELECT count(*), sum(k), sum(length(v)), sum(length(b)) FROM t;"; }

# --- the reference: the same scripts on a plain copy
cp "$L/db/"*.db "$P/"
script WAL OFF $N 1 | sqlite3 "$P/wal.db" >/dev/null
{ script DELETE OFF $N 1; script DELETE FULL 50 $((N + 1)); } | sqlite3 "$P/del.db" >/dev/null
uf_check_eq "sanity: reference databases pass integrity_check" "ok ok" \
	"$(sqlite3 "$P/wal.db" 'PRAGMA integrity_check') $(sqlite3 "$P/del.db" 'PRAGMA integrity_check')"

uf_mount "$BIN" "$L:$U" "$M" || uf_finish

# --- WAL
t0=$SECONDS
uf_check_out "WAL: $N transactions through the union" "wal" \
	bash -c "$(declare -f script); script WAL FULL $N 1 | sqlite3 '$M/db/wal.db'"
uf_log "WAL run: $((SECONDS - t0)) s"
uf_check_out "WAL: integrity_check and totals" "$(counts "$P/wal.db")" counts "$M/db/wal.db"
uf_check_out "WAL: .dump equals the reference's" "$(dump "$P/wal.db")" dump "$M/db/wal.db"
uf_check_out "WAL: journal_mode is persistent" "wal" sqlite3 "$M/db/wal.db" "PRAGMA journal_mode;"
uf_check_out "WAL: no -wal left after the last close" "" find "$M/db" -name 'wal.db-wal' -size +0

# --- DELETE (rollback journal)
t0=$SECONDS
uf_check_out "DELETE: $N + 50 transactions through the union" "delete
delete" bash -c "$(declare -f script); { script DELETE OFF $N 1; script DELETE FULL 50 $((N + 1)); } | sqlite3 '$M/db/del.db'"
uf_log "DELETE run: $((SECONDS - t0)) s"
uf_check_out "DELETE: integrity_check and totals" "$(counts "$P/del.db")" counts "$M/db/del.db"
uf_check_out "DELETE: .dump equals the reference's" "$(dump "$P/del.db")" dump "$M/db/del.db"
uf_check_out "DELETE: no -journal left" "" find "$M/db" -name 'del.db-journal'

# --- two writers and a reader on one WAL database
t0=$SECONDS
sqlite3 "$M/db/multi.db" "PRAGMA journal_mode=WAL;" >/dev/null
writer() {
	awk -v base="$1" 'BEGIN { print ".timeout 30000"
		for (i = 0; i < 500; i++)
			printf "BEGIN IMMEDIATE; INSERT INTO t(id,k,v) VALUES(%d, %d, \x27w\x27); UPDATE t SET k=k+1 WHERE id=%d; COMMIT;\n", base + i, i, i % 2000 + 1
	}' | sqlite3 "$M/db/multi.db" 2>&1
}
reader() {
	local last=0 c _
	for _ in $(seq 1 200); do
		c=$(sqlite3 -cmd '.timeout 30000' "$M/db/multi.db" "SELECT count(*) FROM t;" 2>&1) || { echo "reader: $c"; return; }
		[ "$c" -ge "$last" ] 2>/dev/null || { echo "reader: count went from $last to $c"; return; }
		last=$c
	done
}
writer 100000 >"$UF_TMP/w1.out" &
w1=$!
writer 200000 >"$UF_TMP/w2.out" &
w2=$!
reader >"$UF_TMP/r.out" &
r=$!
wait $w1 $w2 $r
uf_log "two writers and a reader: $((SECONDS - t0)) s"
uf_check_eq "two writers + reader: no errors" "" "$(cat "$UF_TMP/w1.out" "$UF_TMP/w2.out" "$UF_TMP/r.out")"
uf_check_out "two writers: integrity_check, rows, sum of k" "ok
3000|1000" sqlite3 "$M/db/multi.db" "PRAGMA integrity_check; SELECT count(*), (SELECT sum(k) FROM t WHERE id <= 2000) - $(sqlite3 "$L/db/multi.db" 'SELECT sum(k) FROM t') FROM t;"
final=$(dump "$M/db/wal.db") 
uf_umount "$M"

# --- branches
uf_check_eq "lower unchanged (sha256 of every file)" "$lower_sum" \
	"$(cd "$L" && find . -type f -print0 | sort -z | xargs -0 sha256sum)"
uf_check_out "upper: the databases, nothing else left over" "$(printf '%s\n' del.db multi.db wal.db)" \
	bash -c 'ls "$1/db" | grep -v -- "-shm$"' _ "$U"
uf_check_out "upper wal.db read directly: dump equals the reference's" "$(dump "$P/wal.db")" dump "$U/db/wal.db"
uf_check_out "upper del.db read directly: integrity_check and totals" "$(counts "$P/del.db")" counts "$U/db/del.db"
uf_mount "$BIN" "$L:$U" "$M" || uf_finish
uf_check_out "after remount: wal.db dump unchanged" "$final" dump "$M/db/wal.db"
uf_check_out "after remount: del.db dump equals the reference's" "$(dump "$P/del.db")" dump "$M/db/del.db"
uf_umount "$M"
uf_finish
