#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SIGKILL of the daemon in the middle of namespace operations (crash-ops.sh).

Each operation type T has a union of its own (a daemon each, so that each
is busy with its own call when it is killed): its branches are L0/T, L1/T
and UPPER/T, mounted on MNT/T.

  types
        print the types
  build L0 L1 UPPER ROUNDS N
        for each round R and each operation type T, N targets under
        T/rR/ in the two lowers (L0 bottom) and the upper
  prep MNT R
        what round R's operations start from, done through the union:
        metadata-only copies of the "metacopy" targets (chmod)
  kill MNT PIDS R N SEED STATE
        one process per type loops over its N targets, one operation each
        (in order), all started at once; each type's daemon (PIDS:
        "TYPE=PID,...") gets SIGKILL at a random moment within the time
        its loop takes (kept in the file STATE from round to round).
        Prints per type the number of calls that returned success, and
        the errno of the first that did not.
  check MNT UPPER L0 L1 R N RESULTS
        after a remount: each target is in the state before its operation
        or in the state after it (and after it when the call returned
        success); nothing else is in the union or the upper (temporary
        names are counted, not failed).  Prints "ok - ..." / "FAIL: ..."
        lines, "# ..." notes, and "KILLPOINTS n" (the calls in flight at
        the kill: neither returned nor unstarted).

The types: copyup (first write to a lower file), metacopy (first write to
a metadata-only copy: the data copy), rename-dir (a lower dir merged from
two lowers: copy-up and redirect), rename-file (a lower file over another),
rmdir (a merged dir empty in the union, its upper holding whiteouts),
unlink-upper (an upper file over a lower one: removed and whited out),
unlink-lower (a whiteout made), create-wh and mkdir-wh (a name made over a
whiteout).
"""

import errno
import hashlib
import os
import random
import signal
import stat
import sys
import time

TMP_PREFIX = ".wh..wh.uf-tmp."
FSIZE = 16 << 10
MSIZE = 64 << 10  # a metadata-only copy needs >= 64 KiB
PATCH_OFF, PATCH = 1000, b"PATCH"
TYPES = ["copyup", "metacopy", "rename-dir", "rename-file", "rmdir", "unlink-upper",
         "unlink-lower", "create-wh", "mkdir-wh"]


def data(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest()
        i += 1
    return bytes(out[:n])


def patched(b):
    return b[:PATCH_OFF] + PATCH + b[PATCH_OFF + len(PATCH):]


def put(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)


def whiteout(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0, os.makedev(0, 0))


def cmd_build(l0, l1, upper, rounds, n):
    for r in range(int(rounds)):
        for k in range(int(n)):
            b = lambda root, t, name: os.path.join(root, t, "r%d" % r, name)
            s = "%d.%d" % (r, k)
            put(b(l0, "copyup", "f%d" % k), data(FSIZE, "c" + s))
            # sparse: a data region around the patch, a hole, a data tail
            p = b(l0, "metacopy", "b%d" % k)
            put(p, data(8192, "m" + s))
            with open(p, "r+b") as f:
                f.seek(MSIZE - 4096)
                f.write(data(4096, "t" + s))
            put(b(l0, "rename-dir", "d%d/a" % k), b"a " + s.encode())
            put(b(l1, "rename-dir", "d%d/b" % k), b"b " + s.encode())
            put(b(l0, "rename-file", "f%d" % k), b"F " + s.encode())
            put(b(l0, "rename-file", "g%d" % k), b"G " + s.encode())
            put(b(l0, "rmdir", "m%d/a" % k), b"a")
            put(b(l1, "rmdir", "m%d/b" % k), b"b")
            for w in ["a", "b"] + ["w%d" % i for i in range(8)]:
                whiteout(b(upper, "rmdir", "m%d/%s" % (k, w)))
            put(b(l0, "unlink-upper", "u%d" % k), b"lower " + s.encode())
            put(b(upper, "unlink-upper", "u%d" % k), b"upper " + s.encode())
            put(b(l0, "unlink-lower", "l%d" % k), b"lower " + s.encode())
            put(b(l0, "create-wh", "c%d" % k), b"deleted lower " + s.encode())
            whiteout(b(upper, "create-wh", "c%d" % k))
            put(b(l1, "mkdir-wh", "e%d/x" % k), b"deleted lower dir's file")
            whiteout(b(upper, "mkdir-wh", "e%d" % k))
    return 0


def cmd_prep(mnt, r):
    d = os.path.join(mnt, "metacopy", "r%s" % r)
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o600)
    return 0


def write_patch(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, PATCH, PATCH_OFF)
    finally:
        os.close(fd)


def create_new(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, b"new")
    finally:
        os.close(fd)


OPS = {
    "copyup": lambda d, k: write_patch(os.path.join(d, "f%d" % k)),
    "metacopy": lambda d, k: write_patch(os.path.join(d, "b%d" % k)),
    "rename-dir": lambda d, k: os.rename(os.path.join(d, "d%d" % k), os.path.join(d, "d%d.mv" % k)),
    "rename-file": lambda d, k: os.rename(os.path.join(d, "f%d" % k), os.path.join(d, "g%d" % k)),
    "rmdir": lambda d, k: os.rmdir(os.path.join(d, "m%d" % k)),
    "unlink-upper": lambda d, k: os.unlink(os.path.join(d, "u%d" % k)),
    "unlink-lower": lambda d, k: os.unlink(os.path.join(d, "l%d" % k)),
    "create-wh": lambda d, k: create_new(os.path.join(d, "c%d" % k)),
    "mkdir-wh": lambda d, k: os.mkdir(os.path.join(d, "e%d" % k)),
}


def cmd_kill(mnt, pids, r, n, seed, state):
    """pids: "TYPE=PID,..."; state: a file of "TYPE SECONDS" lines, the
    time each loop is expected to take, updated here from this round."""
    r, n = int(r), int(n)
    rnd = random.Random(int(seed))
    pid = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in pids.split(","))
    est = {t: 0.15 for t in TYPES}
    if os.path.exists(state):
        for line in open(state):
            t, v = line.split()[:2]
            est[t] = float(v)
    rfd, wfd = os.pipe()
    children = {}
    for t in TYPES:
        d = os.path.join(mnt, t, "r%d" % r)
        rp, wp = os.pipe()
        c = os.fork()
        if c == 0:
            os.close(wfd)
            os.close(rp)
            os.read(rfd, 1)  # the barrier
            start = time.monotonic()
            done, err = 0, "-"
            for k in range(n):
                try:
                    OPS[t](d, k)
                except OSError as e:
                    err = errno.errorcode.get(e.errno, str(e.errno))
                    break
                done += 1
            os.write(wp, ("%s %d %s %f\n" % (t, done, err, time.monotonic() - start)).encode())
            os._exit(0)
        os.close(wp)
        children[t] = (c, rp)
    os.close(rfd)
    # Each daemon is killed at its own random moment within the time its
    # loop takes (as measured in the rounds before).
    at = sorted((rnd.uniform(0.002, 0.4 * est[t]), t) for t in TYPES)
    t0 = time.monotonic()
    os.close(wfd)  # go
    for when, t in at:
        time.sleep(max(0, when - (time.monotonic() - t0)))
        os.kill(pid[t], signal.SIGKILL)
    for when, t in at:
        c, rp = children[t]
        out = b""
        while True:
            b = os.read(rp, 4096)
            if not b:
                break
            out += b
        os.close(rp)
        os.waitpid(c, 0)
        sys.stdout.write(out.decode())
        done, took = int(out.split()[1]), float(out.split()[3])
        # the loop's pace: time for n calls
        if done == n:
            est[t] = took
        else:
            est[t] = when * n / done if done else est[t] * 2
        est[t] = min(max(est[t], 0.01), 5.0)
    with open(state, "w") as f:
        for t in TYPES:
            f.write("%s %f\n" % (t, est[t]))
    print("# kills after %s ms" % " ".join("%s=%.0f" % (t, w * 1000) for w, t in at))
    return 0


def read(path):
    with open(path, "rb") as f:
        return f.read()


def kind(path):
    try:
        return stat.S_IFMT(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def check_one(t, v, u, l0, l1, k, s):
    """State of target k of type t: ("before"|"after", problems). v, u, l0,
    l1: the type's dir in the union, the upper and the lowers."""
    j = lambda d, name: os.path.join(d, name)
    bad = []
    if t in ("copyup", "metacopy"):
        name = ("f%d" if t == "copyup" else "b%d") % k
        low = read(j(l0, name))
        got = read(j(v, name))
        st = os.lstat(j(v, name))
        mode = 0o600 if t == "metacopy" else 0o644
        if stat.S_IMODE(st.st_mode) != mode:
            bad.append("%s: mode %o, want %o" % (name, stat.S_IMODE(st.st_mode), mode))
        if kind(j(u, name)) is not None:
            up = read(j(u, name))
            meta = "trusted.overlay.metacopy" in os.listxattr(j(u, name))
            if len(up) != len(low):
                bad.append("%s: upper copy of %d bytes, the lower %d" % (name, len(up), len(low)))
            elif not meta and up not in (low, patched(low)):
                bad.append("%s: upper copy (no metacopy mark) is neither the lower "
                           "nor the lower written" % name)
        if got == low:
            return "before", bad
        if got == patched(low):
            return "after", bad
        return "mixed", bad + ["%s: union shows neither the lower nor the lower written" % name]
    if t == "rename-dir":
        a, b = kind(j(v, "d%d" % k)), kind(j(v, "d%d.mv" % k))
        if (a is None) == (b is None):
            return "mixed", ["d%d: %s, d%d.mv: %s" % (k, a, k, b)]
        d = j(v, "d%d" % k if a else "d%d.mv" % k)
        names = sorted(os.listdir(d))
        if names != ["a", "b"] or read(j(d, "a")) != b"a " + s or read(j(d, "b")) != b"b " + s:
            bad.append("%s lists %s" % (os.path.basename(d), names))
        return ("before" if a else "after"), bad
    if t == "rename-file":
        f, g = kind(j(v, "f%d" % k)), kind(j(v, "g%d" % k))
        if g is None:
            return "mixed", ["g%d is gone" % k]
        gc = read(j(v, "g%d" % k))
        if f is not None and gc == b"G " + s and read(j(v, "f%d" % k)) == b"F " + s:
            return "before", bad
        if f is None and gc == b"F " + s:
            return "after", bad
        return "mixed", ["f%d %s, g%d holds %r" % (k, "present" if f else "absent", k, gc)]
    if t == "rmdir":
        m = kind(j(v, "m%d" % k))
        if m is None:
            return "after", bad
        names = os.listdir(j(v, "m%d" % k))
        if names:
            return "mixed", ["m%d shows %s (deleted files back)" % (k, sorted(names))]
        return "before", bad
    if t in ("unlink-upper", "unlink-lower"):
        name = ("u%d" if t == "unlink-upper" else "l%d") % k
        if kind(j(v, name)) is None:
            return "after", bad
        c = read(j(v, name))
        want = (b"upper " if t == "unlink-upper" else b"lower ") + s
        if c != want:
            return "mixed", ["%s holds %r, want %r or gone" % (name, c, want)]
        return "before", bad
    if t == "create-wh":
        name = "c%d" % k
        if kind(j(v, name)) is None:
            return "before", bad
        c = read(j(v, name))
        if c == b"new":
            return "after", bad
        if c == b"":
            return "created", bad  # killed between creat() and write()
        return "mixed", ["%s holds %r (the deleted lower file back?)" % (name, c)]
    if t == "mkdir-wh":
        name = "e%d" % k
        m = kind(j(v, name))
        if m is None:
            return "before", bad
        if m != stat.S_IFDIR:
            return "mixed", ["%s is of type %o" % (name, m)]
        names = os.listdir(j(v, name))
        if names:
            return "mixed", ["%s shows %s (deleted files back)" % (name, names)]
        return "after", bad
    raise ValueError(t)


def cmd_check(mnt, upper, l0, l1, r, n, results):
    r, n = int(r), int(n)
    res = {}
    for line in open(results):
        p = line.split()
        if len(p) == 4 and p[0] in TYPES:
            res[p[0]] = (int(p[1]), p[2])
    npass = nfail = 0
    killpoints = 0
    temps = []
    for t in TYPES:
        rel = os.path.join(t, "r%d" % r)
        v, u = os.path.join(mnt, rel), os.path.join(upper, rel)
        done, err = res.get(t, (0, "none"))
        bad = []
        if err not in ("-", "ENOTCONN", "ECONNABORTED"):
            bad.append("call %d failed with %s before the kill (or not from it)" % (done, err))
        states = []
        for k in range(n):
            try:
                st, why = check_one(t, v, u, os.path.join(l0, rel), os.path.join(l1, rel),
                                    k, ("%d.%d" % (r, k)).encode())
            except OSError as e:
                st, why = "error", ["target %d: %s" % (k, e)]
            states.append(st)
            bad += ["target %d: %s" % (k, w) for w in why]
            if st == "mixed" or st == "error":
                continue
            if k < done and st not in ("after",):
                bad.append("target %d: the call returned success, the state is %s" % (k, st))
            if k > done and st != "before":
                bad.append("target %d: never called, the state is %s" % (k, st))
        if done < n and err != "-":
            killpoints += 1
        # nothing but the targets in the union and the upper
        allowed = set()
        for k in range(n):
            allowed |= {"f%d" % k, "g%d" % k, "b%d" % k, "d%d" % k, "d%d.mv" % k, "m%d" % k,
                        "u%d" % k, "l%d" % k, "c%d" % k, "e%d" % k}
        for where, d in (("union", v), ("upper", u)):
            if not os.path.isdir(d):
                continue
            try:
                listing = os.listdir(d)
            except OSError as e:
                bad.append("%s: listing fails: %s" % (where, e))
                continue
            for x in listing:
                if x.startswith(TMP_PREFIX):
                    if where == "union":
                        bad.append("temporary name %s shows in the union" % x)
                    else:
                        temps.append(os.path.join(d, x))
                elif x not in allowed:
                    bad.append("%s: unexpected name %s" % (where, x))
        inflight = states[done] if done < n else "-"
        desc = "round %d %s: %d calls returned, the one in flight (%s) left '%s'" % (
            r, t, done, err, inflight)
        if bad:
            nfail += 1
            print("FAIL: " + desc)
            for b in bad[:20]:
                print("    " + b)
        else:
            npass += 1
            print("ok - " + desc)
    if temps:
        print("# %d temporary names left in the upper, e.g. %s" % (len(temps), temps[0]))
    print("KILLPOINTS %d" % killpoints)
    print("%d passed, %d failed" % (npass, nfail))
    return 0


def main(argv):
    if argv[1:] == ["types"]:
        print(" ".join(TYPES))
        return 0
    cmds = {"build": (cmd_build, 5), "prep": (cmd_prep, 2), "kill": (cmd_kill, 6),
            "check": (cmd_check, 7)}
    if len(argv) >= 2 and argv[1] in cmds and len(argv) == 2 + cmds[argv[1]][1]:
        return cmds[argv[1]][0](*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
