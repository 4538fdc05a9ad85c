#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Resource faults under every namespace operation (fault-*.sh).

  build L0 L1 L2 UPPER N
        make N copies ("S.0" .. "S.{N-1}", and "S.ref") of every scenario's
        tree in the three lowers (L0 bottom) and the upper
  run RESOURCE MNT L0 L1 L2 UPPER PID [K...]
        RESOURCE is "inodes" (the upper tmpfs's nr_inodes), "space" (its
        size, in pages) or "fds" (the daemon PID's RLIMIT_NOFILE).  For
        each scenario: run its operation once without a limit on "S.ref"
        (the reference), then once on "S.i" with the resource limited to
        K[i] more inodes / pages / free fd slots than in use.  After each,
        with the limit lifted, the union's view of S.i, the upper's S.i and
        the lowers' S.i must be exactly as before the call (it failed) or
        exactly as after the reference call (it succeeded); a failure must
        be a resource errno (ENOSPC, EMFILE, ENFILE, ENOMEM) or the
        reference's own errno.  Prints "ok - ..." / "FAIL: ..." lines and
        a last line "N passed, N failed".

Snapshots ignore times and st_ino; the upper's show trusted.overlay.*
xattrs (an origin's value as <handle>, impure left out) and whiteouts.  Temporary names (.wh..wh.uf-tmp.*) are left out
and counted: they are hidden, and reaped by the next mount.
"""

import ctypes
import errno
import hashlib
import os
import resource
import stat
import subprocess
import sys

TMP_PREFIX = b".wh..wh.uf-tmp."
OVL = "trusted.overlay."
RESOURCE_ERRNOS = {errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM}
SMALL = 40 << 10  # a copy-up of 10 pages
BIG = 256 << 10  # metadata-only copy-up for chmod/setxattr (>= 64 KiB)

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(a, b, flags):
    if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), flags) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def data(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


# ------------------------------------------------------------ tree building

def mk(root, rel, kind="f", content=b"", xattrs=None):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if kind == "f":
        with open(p, "wb") as f:
            f.write(content)
    elif kind == "d":
        os.makedirs(p, exist_ok=True)
    elif kind == "wh":
        os.mknod(p, stat.S_IFCHR | 0, os.makedev(0, 0))
    elif kind == "l":
        os.symlink(content, p)
    for k, v in (xattrs or {}).items():
        os.setxattr(p, k, v, follow_symlinks=False)


def lower_files(L, S):
    """The common lower tree: S/d with a small and a big file, S/d2."""
    mk(L[0], S + "/d/f", content=data(SMALL, 1))
    mk(L[0], S + "/d/big", content=data(BIG, 2))
    mk(L[0], S + "/d/a", content=b"lower a\n")
    mk(L[0], S + "/d/b", content=b"lower b\n")
    mk(L[0], S + "/d2/keep", content=b"keep\n")


# Each scenario: (build(L, U, S), op(path_of) -> result or raise OSError).
# path_of(rel) is the path of rel in the union copy of the scenario.

def b_plain(L, U, S):
    lower_files(L, S)


def b_whiteout(L, U, S):
    lower_files(L, S)
    mk(L[0], S + "/d/gone", content=b"deleted lower file\n")
    mk(L[1], S + "/d/gonedir/x", content=b"deleted lower dir's file\n")
    mk(U, S + "/d", "d")
    mk(U, S + "/d/gone", "wh")
    mk(U, S + "/d/gonedir", "wh")


def b_upper_over(L, U, S):
    lower_files(L, S)
    mk(U, S + "/d/f", content=b"the user's upper copy\n")
    mk(U, S + "/d/u", content=b"upper only\n")


def b_merged(L, U, S):
    lower_files(L, S)
    mk(L[0], S + "/m/a", content=b"a\n")
    mk(L[1], S + "/m/b", content=b"b\n")
    mk(L[2], S + "/m/sub/c", content=b"c\n")
    mk(U, S + "/m/a", "wh")
    mk(U, S + "/m/b", "wh")
    mk(U, S + "/m/sub", "wh")
    mk(L[0], S + "/e", "d")
    # non-empty merged dir, three lowers deep
    mk(L[0], S + "/n/x/p/f0", content=b"f0\n")
    mk(L[1], S + "/n/x/p/f1", content=b"f1\n")
    mk(L[2], S + "/n/x/p/f2", content=b"f2\n")
    mk(L[2], S + "/n/x/q", content=b"q\n")
    mk(U, S + "/n/x/p/f0", "wh")


def b_rename(L, U, S):
    lower_files(L, S)
    mk(L[0], S + "/src/x", content=b"src x\n")
    mk(L[1], S + "/src/sub/y", content=b"src y\n")
    mk(L[0], S + "/dst/y", content=b"dst y\n")
    mk(U, S + "/dst/y", "wh")
    mk(L[0], S + "/e/in", content=b"in e\n")
    mk(U, S + "/d/a", content=b"upper a over lower a\n")
    mk(U, S + "/pure/z", content=b"pure upper dir\n")
    mk(L[2], S + "/d2/pure/old", content=b"lower pure\n")
    mk(U, S + "/d2/pure", "wh")
    # merged in the upper already: a rename's redirect goes on an old dir
    mk(L[0], S + "/mg/x", content=b"mg x\n")
    mk(U, S + "/mg/u", content=b"mg u\n")


def o_create(rel):
    """One call: creat(2); the "write" scenarios write."""
    def op(p):
        os.close(os.open(p(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
    return op


def o_write(rel, off, buf):
    def op(p):
        fd = os.open(p(rel), os.O_WRONLY)
        try:
            os.pwrite(fd, buf, off)
        finally:
            os.close(fd)
    return op


def o_lookup(p):
    st = os.lstat(p("n/x/p/f2"))
    return "size=%d" % st.st_size


def o_listdir(p):
    return ",".join(sorted(os.listdir(p("n/x/p"))))


def o_walk(p):
    out = []
    def fail(e):
        raise e
    for top, dirs, files in os.walk(p("n"), onerror=fail):
        dirs.sort()
        out.append(os.path.relpath(top, p("n")) + ":" + ",".join(sorted(dirs + files)))
    return ";".join(out)


SCENARIOS = [
    ("create", b_plain, o_create("d/new")),
    ("create-over-whiteout", b_whiteout, o_create("d/gone")),
    ("mkdir", b_plain, lambda p: os.mkdir(p("d/newdir"), 0o750)),
    ("mkdir-over-whiteout", b_whiteout, lambda p: os.mkdir(p("d/gonedir"), 0o750)),
    ("mknod-fifo", b_plain, lambda p: os.mkfifo(p("d/fifo"), 0o600)),
    ("mknod-over-whiteout", b_whiteout,
     lambda p: os.mknod(p("d/gone"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))),
    ("symlink", b_plain, lambda p: os.symlink("some/target", p("d/sym"))),
    ("symlink-over-whiteout", b_whiteout, lambda p: os.symlink("target", p("d/gone"))),
    ("link-lower", b_plain, lambda p: os.link(p("d/f"), p("d/f2"))),
    ("link-over-whiteout", b_whiteout, lambda p: os.link(p("d/a"), p("d/gone"))),
    ("unlink-upper-over-lower", b_upper_over, lambda p: os.unlink(p("d/f"))),
    ("unlink-lower", b_plain, lambda p: os.unlink(p("d/f"))),
    ("unlink-upper-only", b_upper_over, lambda p: os.unlink(p("d/u"))),
    ("rmdir-merged", b_merged, lambda p: os.rmdir(p("m"))),
    ("rmdir-lower", b_merged, lambda p: os.rmdir(p("e"))),
    ("rmdir-nonempty-merged", b_merged, lambda p: os.rmdir(p("n/x/p"))),
    ("rename-file-over-existing", b_rename, lambda p: os.rename(p("d/f"), p("d/b"))),
    ("rename-upper-over-lower", b_rename, lambda p: os.rename(p("d/a"), p("d/c"))),
    ("rename-dir-over-empty-merged", b_rename, lambda p: os.rename(p("src"), p("dst"))),
    ("rename-dir-redirect", b_rename, lambda p: os.rename(p("src"), p("d2/moved"))),
    ("rename-merged-dir-redirect", b_rename, lambda p: os.rename(p("mg"), p("d2/mg"))),
    ("rename-pure-upper-into-merged", b_rename, lambda p: os.rename(p("pure"), p("d2/pure"))),
    ("rename-exchange", b_rename,
     lambda p: renameat2(p("d/f"), p("e"), RENAME_EXCHANGE)),
    ("rename-noreplace", b_rename,
     lambda p: renameat2(p("d/big"), p("d/new"), RENAME_NOREPLACE)),
    ("rename-noreplace-exists", b_rename,
     lambda p: renameat2(p("d/f"), p("d/b"), RENAME_NOREPLACE)),
    ("chmod", b_plain, lambda p: os.chmod(p("d/f"), 0o600)),
    ("chmod-big-metacopy", b_plain, lambda p: os.chmod(p("d/big"), 0o600)),
    ("chown", b_plain, lambda p: os.chown(p("d/f"), 1234, 5678)),
    ("truncate", b_plain, lambda p: os.truncate(p("d/f"), 100)),
    ("utime", b_plain, lambda p: os.utime(p("d/f"), (1, 1))),
    ("setxattr", b_plain, lambda p: os.setxattr(p("d/f"), "user.k", b"v")),
    ("setxattr-big-metacopy", b_plain, lambda p: os.setxattr(p("d/big"), "user.k", b"v")),
    ("write", b_plain, o_write("d/f", 100, b"written")),
    ("write-big", b_plain, o_write("d/big", BIG - 3, b"end")),
    ("lookup-merged", b_merged, o_lookup),
    ("readdir-merged", b_merged, o_listdir),
    ("walk-merged", b_merged, o_walk),
    # the same with the dirs looked up (their fds open) before the fault
    ("readdir-merged-warm", b_merged, o_listdir),
    ("rmdir-nonempty-merged-warm", b_merged, lambda p: os.rmdir(p("n/x/p"))),
    ("rmdir-merged-warm", b_merged, lambda p: os.rmdir(p("m"))),
]
# Done through the union before the fault: the state the call starts from.
PREP = {
    "write-big": lambda p: os.chmod(p("d/big"), 0o600),  # metadata-only copy
    "readdir-merged-warm": lambda p: os.stat(p("n/x/p")),
    "rmdir-nonempty-merged-warm": lambda p: os.stat(p("n/x/p")),
    "rmdir-merged-warm": lambda p: os.stat(p("m")),
}


def cmd_build(l0, l1, l2, upper, n):
    L = [l0, l1, l2]
    for name, build, _ in SCENARIOS:
        for i in list(range(int(n))) + ["ref"]:
            build(L, upper, "%s.%s" % (name, i))
    return 0


# ---------------------------------------------------------------- snapshots

def snapshot(top, private, temps):
    """Sorted lines describing TOP (absent: []); temp names go to temps."""
    top = os.fsencode(top)
    if not os.path.lexists(top):
        return []
    lines = []
    stack = [b""]
    while stack:
        rel = stack.pop()
        path = os.path.join(top, rel) if rel else top
        try:
            st = os.lstat(path)
        except OSError as e:
            lines.append("%r lstat=%s" % (rel, errno.errorcode.get(e.errno)))
            continue
        t = stat.S_IFMT(st.st_mode)
        f = ["%s" % rel.decode(errors="replace") or ".", "mode=%o" % st.st_mode,
             "uid=%d" % st.st_uid, "gid=%d" % st.st_gid]
        if stat.S_ISDIR(st.st_mode):
            try:
                names = sorted(os.listdir(path))
            except OSError as e:
                names = []
                f.append("listdir=%s" % errno.errorcode.get(e.errno))
            for n in names:
                if n.startswith(TMP_PREFIX):
                    temps.append(os.path.join(path, n))
                    continue
                stack.append(os.path.join(rel, n) if rel else n)
        else:
            f.append("nlink=%d" % st.st_nlink)
        if stat.S_ISREG(st.st_mode):
            f.append("size=%d" % st.st_size)
            try:
                with open(path, "rb") as fh:
                    f.append("sha=" + hashlib.sha256(fh.read()).hexdigest()[:16])
            except OSError as e:
                f.append("read=%s" % errno.errorcode.get(e.errno))
        elif stat.S_ISLNK(st.st_mode):
            f.append("target=%s" % os.readlink(path))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            f.append("rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        try:
            xs = sorted(os.listxattr(path, follow_symlinks=False))
        except OSError as e:
            xs = []
            f.append("listxattr=%s" % errno.errorcode.get(e.errno))
        for x in xs:
            if not x.startswith(("user.", "trusted.")):
                continue
            if x.startswith(OVL) and not private:
                continue
            # A copy's origin is a file handle of its lower object, which
            # differs between the runs' trees; impure marks its parent.
            if x == OVL + "impure":
                continue
            if x == OVL + "origin":
                f.append("%s=<handle>" % x)
                continue
            try:
                f.append("%s=%r" % (x, os.getxattr(path, x, follow_symlinks=False)))
            except OSError as e:
                f.append("%s=<%s>" % (x, errno.errorcode.get(e.errno)))
        lines.append(" ".join(f))
    return sorted(lines)


def strip_private(line):
    return " ".join(w for w in line.split(" ") if not w.startswith(OVL))


def copyup_only(before, after, view):
    """The upper changed by copy-ups only: nothing there before changed or
    went, and each added entry is an object the union showed (a dir or a
    whole copy, or a metadata-only copy: then all but its data)."""
    bset, shown = set(before), {}
    for v in view:
        shown[v.split(" ")[0]] = v
    gone = [b for b in before if b not in set(after)]
    bad = ["changed or gone: " + b for b in gone]
    for a in after:
        if a in bset:
            continue
        path = a.split(" ")[0]
        if any(b.split(" ")[0] == path for b in before):
            continue  # reported as changed above
        want = shown.get(path)
        got = strip_private(a)
        if want is not None and OVL + "metacopy=" in a:
            got = " ".join(w for w in got.split(" ") if not w.startswith("sha="))
            want = " ".join(w for w in want.split(" ") if not w.startswith("sha="))
        if want != got:
            bad.append("added, not a copy-up: " + a)
    return bad


def diff(a, b):
    sa, sb = set(a), set(b)
    return ["-" + x for x in a if x not in sb] + ["+" + x for x in b if x not in sa]


# ------------------------------------------------------------------ limits

class Limits:
    def __init__(self, res, upper, pid):
        self.res, self.pid = res, pid
        self.tmpfs = os.path.dirname(upper.rstrip("/"))
        # The soft limit only: raising a hard one needs CAP_SYS_RESOURCE.
        self.hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount," + opts, self.tmpfs], check=True)

    def set(self, k):
        if self.res == "inodes":
            s = os.statvfs(self.tmpfs)
            self.remount("nr_inodes=%d" % (s.f_files - s.f_ffree + k))
        elif self.res == "space":
            s = os.statvfs(self.tmpfs)
            self.remount("size=%dk" % ((s.f_blocks - s.f_bfree + k) * s.f_bsize // 1024))
        else:
            used = sorted(int(x) for x in os.listdir("/proc/%d/fd" % self.pid))
            # the lowest limit with k free slots below it
            lim, free, used_set = 0, 0, set(used)
            while free < k or lim in used_set:
                if lim not in used_set:
                    free += 1
                lim += 1
            resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (lim, self.hard))

    def lift(self):
        if self.res == "inodes":
            self.remount("nr_inodes=1000000")
        elif self.res == "space":
            self.remount("size=1g")
        else:
            resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (self.hard, self.hard))


# --------------------------------------------------------------------- run

def call(op, p):
    try:
        return "OK " + str(op(p))
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def cmd_run(res, mnt, l0, l1, l2, upper, pid, *ks):
    L = [l0, l1, l2]
    pid = int(pid)
    ks = [int(k) for k in ks]
    lim = Limits(res, upper, pid)
    npass = nfail = 0
    temps_total = []
    errnos = {}
    nsucc = nfailed = 0

    def alive():
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    for name, _, op in SCENARIOS:
        S = lambda i: "%s.%s" % (name, i)
        pathof = lambda i: (lambda rel: os.path.join(mnt, S(i), rel))
        lim.lift()
        prep = PREP.get(name)
        for i in ["ref"] + list(range(len(ks))):
            if prep:
                prep(pathof(i))
        temps = []
        ref_lower = [snapshot(os.path.join(l, S("ref")), True, temps) for l in L]
        ref_before_view = snapshot(os.path.join(mnt, S("ref")), False, temps)
        ref = call(op, pathof("ref"))
        ref_after_view = snapshot(os.path.join(mnt, S("ref")), False, temps)
        ref_after_upper = snapshot(os.path.join(upper, S("ref")), True, temps)
        bad = []
        outcomes = []
        for i, k in enumerate(ks):
            t = []
            up_before = [x.replace(S(i), S("ref"))
                         for x in snapshot(os.path.join(upper, S(i)), True, t)]
            lim.set(k)
            try:
                got = call(op, pathof(i))
            finally:
                lim.lift()
            if not alive():
                print("FAIL: %s: the daemon died (limit %s+%d)" % (name, res, k))
                print("%d passed, %d failed" % (npass, nfail + 1))
                return 1
            outcomes.append("%d:%s" % (k, got.split(" ")[0]))
            view = snapshot(os.path.join(mnt, S(i)), False, t)
            # A redirect names the scenario copy's path.
            up = [x.replace(S(i), S("ref")) for x in snapshot(os.path.join(upper, S(i)), True, t)]
            lows = [snapshot(os.path.join(l, S(i)), True, t) for l in L]
            temps_total += t
            why = []
            if got.startswith("OK"):
                nsucc += 1
                if not ref.startswith("OK"):
                    why.append("succeeded (%s) where the unlimited call fails with %s" % (got, ref))
                elif got != ref:
                    why.append("result %r, the unlimited call's %r" % (got, ref))
                if view != ref_after_view:
                    why.append("view after success differs from the reference:")
                    why += ["  " + d for d in diff(ref_after_view, view)]
                if up != ref_after_upper:
                    why.append("upper after success differs from the reference:")
                    why += ["  " + d for d in diff(ref_after_upper, up)]
            else:
                nfailed += 1
                errnos[got] = errnos.get(got, 0) + 1
                if got != ref and errno.__dict__.get(got) not in RESOURCE_ERRNOS:
                    why.append("failed with %s (unlimited: %s)" % (got, ref))
                if view != ref_before_view:
                    why.append("view after the failure is not the one before:")
                    why += ["  " + d for d in diff(ref_before_view, view)]
                cu = copyup_only(up_before, up, ref_before_view)
                if cu:
                    why.append("upper after the failure (%s) changed beyond copy-ups:" % got)
                    why += ["  " + d for d in cu]
            for j, l in enumerate(lows):
                if l != ref_lower[j]:
                    why.append("lower %d changed:" % j)
                    why += ["  " + d for d in diff(ref_lower[j], l)]
            if why:
                bad.append("limit %s+%d: %s" % (res, k, got))
                bad += ["  " + w for w in why]
        desc = "%s under %s limits (reference %s; %s)" % (name, res, ref.split(" ")[0],
                                                          " ".join(outcomes))
        if bad:
            nfail += 1
            print("FAIL: " + desc)
            for b in bad[:60]:
                print("    " + b)
        else:
            npass += 1
            print("ok - " + desc)
    print("# %d calls succeeded, %d failed: %s" % (
        nsucc, nfailed, " ".join("%s=%d" % kv for kv in sorted(errnos.items()))))
    if temps_total:
        print("# %d temporary names left in the upper (hidden), e.g. %s" % (
            len(temps_total), temps_total[0]))
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


def main(argv):
    if len(argv) >= 7 and argv[1] == "build":
        return cmd_build(*argv[2:7])
    if len(argv) >= 9 and argv[1] == "run":
        return cmd_run(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
