#!/bin/bash
# Run the independent suites of docs/conformance.md against unionfuse or the
# kernel overlayfs, each in a private mount namespace (root; nothing is
# left mounted):
#
#   conformance.sh umt SUITE BIN|kernel OUTDIR RUN-ARGS...
#       amir73il/unionmount-testsuite checked out in SUITE, each of its
#       tests on its own (./run stops at the first failure): OUTDIR/TEST.log
#       and OUTDIR/summary with pass/fail counts. RUN-ARGS are ./run's,
#       e.g. --ov=10 --fuse=unionfuse --verify ("--fuse=unionfuse" only for
#       BIN). UMT_TESTS="a b" runs those tests; the default is ./run's own
#       list with redirect_dir (rename-dir ... instead of rename-exdev).
#       UNIONMOUNT_MNTOPTIONS passes options to the mount, as for the suite.
#   conformance.sh pjdfstest PJD BIN|kernel LOG [TESTS]
#       pjd/pjdfstest built in PJD (autoreconf -ifs && ./configure && make
#       pjdfstest), run by prove(1) in a union of a tmpfs lower and upper.
#
# BIN is shown to mount(8)'s helper as /usr/local/sbin/unionfuse (mount
# clears PATH), so the suite's "mount -t fuse.unionfuse" finds it.
set -u
what=${1:?usage: see the head of $0}
src=$(realpath "${2:?suite directory}")
bin=${3:?BIN or kernel}
[ "$bin" = kernel ] || bin=$(realpath "$bin")
out=$(realpath -m "${4:?output}")
shift 4
if [ -z "${UF_CONF_IN_NS:-}" ]; then
	exec unshare -m --propagation private env UF_CONF_IN_NS=1 "$0" "$what" "$src" "$bin" "$out" "$@"
fi
if [ "$bin" != kernel ]; then
	d=$(mktemp -d /tmp/uf-conf-bin.XXXXXX)
	ln -s "$bin" "$d/unionfuse"
	mount --bind "$d" /usr/local/sbin
fi

case $what in
umt)
	# The suite mounts tmpfs on /lower, /upper (/base with --samefs) and
	# the union on /mnt: in this namespace only.
	mkdir -p /lower /upper /base /mnt "$out"
	tests=${UMT_TESTS:-$(sed -n '/^tests = \[/,/^    \]/p' "$src/run" | tr -d ' ",' | grep -v -e '[][]' -e =)
		rename-dir rename-empty-dir rename-pop-dir rename-move-dir}
	cd "$src" || exit 1
	pass=0 fail=0 failed=
	for t in $tests; do
		if timeout 300 ./run "$@" "$t" >"$out/$t.log" 2>&1; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1)) failed="$failed $t"
		fi
		./run -c >/dev/null 2>&1
	done
	printf 'run %s (%s)\npass=%d fail=%d\nfailed:%s\n' "$*" "$bin" "$pass" "$fail" "$failed" |
		tee "$out/summary"
	[ "$fail" = 0 ]
	;;
pjdfstest)
	r=$(mktemp -d /tmp/uf-conf-pjd.XXXXXX)
	mount -t tmpfs pjd "$r"
	mkdir -p "$r/l/t" "$r/u" "$r/w" "$r/m"
	if [ "$bin" = kernel ]; then
		mount -t overlay overlay -o "lowerdir=$r/l,upperdir=$r/u,workdir=$r/w" "$r/m"
	else
		"$bin" -o "allow_other,lowerdir=$r/l,upperdir=$r/u,workdir=$r/w" "$r/m"
	fi
	(cd "$r/m/t" && prove -rv "${1:-$src/tests}") >"$out" 2>&1
	rc=$?
	tail -n 3 "$out"
	if [ "$bin" = kernel ]; then umount "$r/m"; else fusermount3 -u "$r/m"; fi
	umount "$r"
	rmdir "$r"
	exit "$rc"
	;;
*)
	echo "$0: umt or pjdfstest, not '$what'" >&2
	exit 2
	;;
esac
