#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Trees and checks for the prog-*, crash-* and concurrent-* mount tests.

  make DIR SEED NFILES [VARIANT]
        build a deterministic tree of about NFILES small files under DIR:
        nested dirs, varied sizes (empty included), modes (setuid/setgid,
        0444, 0600...), owners, user.* and trusted.* xattrs on files and
        dirs, relative/absolute/dangling symlinks, hard links across dirs,
        fifos, a char device, empty dirs, fixed mtimes (dirs set last).
        VARIANT "old" builds what an older copy of the same tree would look
        like: some entries missing, some with other content/mode/owner/
        xattrs, some of another type (a dir where the tree has a file and
        the other way round), and extra names.  VARIANT "overlap" is "old"
        without non-empty directories in the place of non-directories
        (which tar refuses to replace).
  times DIR
        "PATH MTIME_NS" for every entry (lstat), sorted
  acl PATH [DEFAULT]
        set an extended POSIX ACL (user 1234 rw-, group 5678 r--, mask)
        on PATH as system.posix_acl_access, and with DEFAULT also as
        system.posix_acl_default (PATH must be a directory)
  sparse FILE SIZE SEED NREGIONS REGIONSIZE
        make FILE of SIZE bytes: NREGIONS regions of REGIONSIZE random
        bytes at seeded offsets (multiples of REGIONSIZE), holes elsewhere;
        prints the regions' offsets
  dropcache FILE...
        posix_fadvise(DONTNEED) each FILE: its next read comes from disk
  patched-sha256 FILE OFF:HEXBYTES...
        sha256 of FILE's content with the given bytes overwritten
  cmp-patched LOWER FILE OFF:HEXBYTES...
        FILE must have LOWER's size and content except at the patches, where
        each patch must be either wholly the new bytes or wholly the old
        ones.  Prints "SAME" (no patch applied), "PATCHED i,j..." (which
        patches are there) or "BAD: ..." with the first differences.
        Exit 0 unless BAD.
  cmp-patched-in LOWER FILE OFF+LEN[,OFF+LEN...] OFF:HEXBYTES...
        cmp-patched, comparing the data in the given ranges only
  pwrite-many FILE SPEC...
        fork one process per SPEC "OFF:HEXBYTES[:MODE]" (MODE w = open
        O_WRONLY, rw = O_RDWR (default), dd = run dd conv=notrunc); all wait
        on one barrier, then open FILE, pwrite, close.  Prints one line per
        writer "i OK" or "i ERRNAME", in order.
  parent-times UNIONDIR UPPERDIR N [THREADS]
        THREADS (4) threads make the first write (open O_WRONLY, pwrite) to
        the lower files f0..f{N-1} in UNIONDIR, i.e. data copy-ups, while
        another, until they are done, alternately sets UNIONDIR's times
        (utime) and creates a file new-K in it, and checks on UPPERDIR that
        the times it set stay set, resp. that the dir's mtime does not go
        back behind the new file's (a value counts as wrong when it still
        is 20 ms later).  Prints "utime: BAD/TOTAL" and "create: BAD/TOTAL",
        and a few examples of BAD ones.
"""

import errno
import hashlib
import os
import random
import stat
import struct
import subprocess
import sys

MODES = [0o644, 0o644, 0o644, 0o600, 0o640, 0o755, 0o444, 0o700, 0o664, 0o4755, 0o2755, 0o1777]
DIR_MODES = [0o755, 0o755, 0o700, 0o775, 0o2775, 0o750]
OWNERS = [(0, 0), (0, 0), (0, 0), (1000, 1000), (1234, 5678), (65534, 65534)]
BASE_TIME = 1_500_000_000 * 10**9  # ns


def plan(seed, nfiles):
    """The tree as a list of entries (kind, relpath, attrs); deterministic."""
    rnd = random.Random(seed)
    ndirs = max(3, nfiles // 30)
    dirs = [""]
    entries = []
    for i in range(ndirs):
        parent = rnd.choice(dirs) if len(dirs) < 4 or rnd.random() < 0.5 else ""
        if parent.count("/") >= 3:
            parent = ""
        d = (parent + "/" if parent else "") + "dir%03d" % i
        dirs.append(d)
        entries.append(("d", d, dict(mode=rnd.choice(DIR_MODES), owner=rnd.choice(OWNERS),
                                     xattr=({"user.dir": b"d%d" % i} if rnd.random() < 0.15 else {}),
                                     mtime=BASE_TIME + rnd.randrange(10**8) * 10**9 + rnd.randrange(10**9))))
    files = []
    for i in range(nfiles):
        d = rnd.choice(dirs)
        p = (d + "/" if d else "") + "f%05d%s" % (i, rnd.choice(["", ".txt", ".c", ".bin", " sp"]))
        r = rnd.random()
        if r < 0.05 and files:
            target = rnd.choice(files)
            entries.append(("h", p, dict(target=target)))
            continue
        if r < 0.08:
            kind = rnd.random()
            if kind < 0.4:
                t = os.path.relpath(rnd.choice(files) if files else "x", d or ".")
            elif kind < 0.7:
                t = "/nonexistent/%d" % i
            else:
                t = os.path.relpath(rnd.choice(dirs) or ".", d or ".")
            entries.append(("l", p, dict(target=t, owner=rnd.choice(OWNERS),
                                         mtime=BASE_TIME + rnd.randrange(10**8) * 10**9)))
            continue
        size = rnd.choice([0, 1, 10, 100, 500, 1000, 4095, 4096, 4097, 8000, 20000])
        if rnd.random() < 0.5:
            data = ("line %d of %s\n" % (i, p)).encode() * (size // 20 + 1)
            data = data[:size]
        else:
            data = rnd.randbytes(size)
        xattr = {}
        if rnd.random() < 0.12:
            xattr["user.k%d" % (i % 3)] = rnd.randbytes(rnd.randrange(1, 40))
        if rnd.random() < 0.03:
            xattr["trusted.t"] = b"trusted-%d" % i
        entries.append(("f", p, dict(data=data, mode=rnd.choice(MODES), owner=rnd.choice(OWNERS),
                                     xattr=xattr,
                                     mtime=BASE_TIME + rnd.randrange(10**8) * 10**9 + rnd.randrange(10**9))))
        files.append(p)
    for i in range(3):
        entries.append(("p", "%s/fifo%d" % (rnd.choice(dirs[1:]), i), dict(mtime=BASE_TIME + i * 10**9)))
    entries.append(("c", "%s/null" % rnd.choice(dirs[1:]), dict(mtime=BASE_TIME)))
    for i in range(3):
        d = "%s/empty%d" % (rnd.choice(dirs[1:]), i)
        dirs.append(d)
        entries.append(("d", d, dict(mode=0o755, owner=(0, 0), xattr={}, mtime=BASE_TIME + i * 10**9)))
    return entries


def mutate(entries, seed, nonempty_dir_conflicts):
    """An older version of the same tree."""
    rnd = random.Random(seed * 7919 + 1)
    out = []
    present = {}
    changed = set()
    dirs_of_tree = {e[1] for e in entries if e[0] == "d"}
    for kind, p, a in entries:
        parent = os.path.dirname(p)
        if parent and present.get(parent) != "d":
            continue
        r = rnd.random()
        if kind == "d":
            if r < 0.03 and p.count("/") > 0:
                # a file where the tree has a (possibly non-empty) dir
                if nonempty_dir_conflicts:
                    out.append(("f", p, dict(data=b"old file in place of a dir\n", mode=0o644,
                                             owner=(0, 0), xattr={}, mtime=BASE_TIME)))
                continue
            a = dict(a)
            if r < 0.2:
                a["mode"] = 0o711
                a["owner"] = (42, 43)
                a["xattr"] = {"user.olddir": b"old"}
            out.append((kind, p, a))
            present[p] = out[-1][0]
            continue
        if kind == "h":
            # only to a target left as it is: a copy-up breaks a lower
            # hard link, so fixing one name's metadata later would split it
            if present.get(a["target"]) == "f" and a["target"] not in changed and r < 0.8:
                out.append((kind, p, a))
                present[p] = out[-1][0]
            continue
        if r < 0.08:
            continue  # missing in the old tree
        if r < 0.10:
            # a dir where the tree has a file / symlink / special
            out.append(("d", p, dict(mode=0o755, owner=(0, 0), xattr={}, mtime=BASE_TIME)))
            present[p] = out[-1][0]
            if nonempty_dir_conflicts:
                out.append(("f", p + "/inside", dict(data=b"inside\n", mode=0o644, owner=(0, 0),
                                                     xattr={}, mtime=BASE_TIME)))
            continue
        if r < 0.12 and kind == "f":
            out.append(("l", p, dict(target="old-link-target", owner=(0, 0), mtime=BASE_TIME)))
            present[p] = out[-1][0]
            continue
        if r < 0.14 and kind == "l":
            out.append(("f", p, dict(data=b"old file in place of a symlink\n", mode=0o644,
                                     owner=(0, 0), xattr={}, mtime=BASE_TIME)))
            present[p] = out[-1][0]
            continue
        a = dict(a)
        if kind == "f" and r < 0.50:
            changed.add(p)
        if kind == "f":
            if r < 0.30:
                a["data"] = b"old content of " + p.encode() + b"\n"
            elif r < 0.36:
                a["mode"] = 0o600
                a["owner"] = (7, 8)
            elif r < 0.42:
                a["xattr"] = {"user.old": b"1", "user.k0": b"older"}
            elif r < 0.50:
                a["mtime"] = a["mtime"] - 10**9
        elif kind == "l" and r < 0.3:
            a["target"] = "old/" + a["target"]
        out.append((kind, p, a))
        present[p] = out[-1][0]
    for i, d in enumerate(sorted(d for d in dirs_of_tree if present.get(d) == "d")):
        if rnd.random() < 0.1:
            out.append(("f", d + "/old-only-%d" % i, dict(data=b"old only\n", mode=0o644, owner=(0, 0),
                                                          xattr={}, mtime=BASE_TIME)))
    out.append(("d", "old-only-dir", dict(mode=0o755, owner=(0, 0), xattr={}, mtime=BASE_TIME)))
    out.append(("d", "old-only-dir/sub", dict(mode=0o755, owner=(0, 0), xattr={}, mtime=BASE_TIME)))
    out.append(("f", "old-only-dir/sub/x", dict(data=b"x\n", mode=0o644, owner=(0, 0), xattr={},
                                                 mtime=BASE_TIME)))
    return out


def build(top, entries):
    os.makedirs(top, exist_ok=True)
    dir_times = []
    for kind, p, a in entries:
        path = os.path.join(top, p)
        if kind == "d":
            os.mkdir(path, 0o700)
        elif kind == "f":
            with open(path, "wb") as f:
                f.write(a["data"])
        elif kind == "l":
            os.symlink(a["target"], path)
        elif kind == "h":
            os.link(os.path.join(top, a["target"]), path)
            continue
        elif kind == "p":
            os.mkfifo(path, 0o644)
        elif kind == "c":
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        if "owner" in a:
            os.chown(path, a["owner"][0], a["owner"][1], follow_symlinks=False)
        if "mode" in a:
            os.chmod(path, a["mode"])
        for k, v in a.get("xattr", {}).items():
            os.setxattr(path, k, v, follow_symlinks=False)
        if kind == "d":
            dir_times.append((path, a["mtime"]))
        else:
            os.utime(path, ns=(a["mtime"], a["mtime"]), follow_symlinks=False)
    for path, t in reversed(dir_times):
        os.utime(path, ns=(t, t))
    os.utime(top, ns=(BASE_TIME, BASE_TIME))


def cmd_make(top, seed, nfiles, variant=None):
    entries = plan(int(seed), int(nfiles))
    if variant in ("old", "overlap"):
        entries = mutate(entries, int(seed), variant == "old")
    elif variant is not None:
        print("unknown variant " + variant, file=sys.stderr)
        return 2
    build(top, entries)
    return 0


def cmd_times(top):
    out = []
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(root, n)
            out.append("%s %d" % (os.path.relpath(p, top), os.lstat(p).st_mtime_ns))
    out.append(". %d" % os.lstat(top).st_mtime_ns)
    sys.stdout.write("".join(sorted(l + "\n" for l in out)))
    return 0


def acl_blob(entries):
    # posix_acl_xattr_header (version 2) + entries (tag u16, perm u16, id u32)
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)


def cmd_acl(path, default=None):
    undef = 0xFFFFFFFF
    blob = acl_blob([(0x01, 6, undef), (0x02, 6, 1234), (0x04, 4, undef), (0x08, 4, 5678),
                     (0x10, 6, undef), (0x20, 4, undef)])
    os.setxattr(path, "system.posix_acl_access", blob)
    if default:
        os.setxattr(path, "system.posix_acl_default", blob)
    return 0


def region_offsets(size, seed, nregions, regionsize):
    rnd = random.Random(seed)
    slots = size // regionsize
    return sorted(rnd.sample(range(slots), nregions))


def cmd_sparse(path, size, seed, nregions, regionsize):
    size, seed, nregions, regionsize = int(size), int(seed), int(nregions), int(regionsize)
    with open(path, "wb") as f:
        f.truncate(size)
        for slot in region_offsets(size, seed, nregions, regionsize):
            f.seek(slot * regionsize)
            f.write(os.urandom(regionsize))
            print(slot * regionsize)
    return 0


def cmd_dropcache(*paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return 0


def parse_patches(specs):
    out = []
    for s in specs:
        off, hexb = s.split(":")[:2]
        out.append((int(off), bytes.fromhex(hexb)))
    return out


def cmd_patched_sha256(path, *specs):
    patches = parse_patches(specs)
    h = hashlib.sha256()
    chunk = 1 << 22
    pos = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            ba = None
            for off, data in patches:
                if off < pos + len(b) and off + len(data) > pos:
                    if ba is None:
                        ba = bytearray(b)
                    for k, byte in enumerate(data):
                        if pos <= off + k < pos + len(b):
                            ba[off + k - pos] = byte
            h.update(ba if ba is not None else b)
            pos += len(b)
    print(h.hexdigest())
    return 0


def cmd_cmp_patched(lower, path, *specs):
    return cmp_patched(lower, path, specs, None)


def cmd_cmp_patched_in(lower, path, ranges, *specs):
    segs = []
    for r in ranges.split(","):
        off, n = r.split("+")
        segs.append((int(off), int(off) + int(n)))
    return cmp_patched(lower, path, specs, segs)


def segments(segs, size, chunk):
    """(pos, length) chunks covering SEGS (all of [0, size) if None)."""
    for start, end in segs if segs is not None else [(0, size)]:
        pos = start
        while pos < min(end, size):
            n = min(chunk, end - pos, size - pos)
            yield pos, n
            pos += n


def cmp_patched(lower, path, specs, segs):
    patches = parse_patches(specs)
    ls, fs = os.stat(lower).st_size, os.stat(path).st_size
    if ls != fs:
        print("BAD: size %d, want %d" % (fs, ls))
        return 1
    chunk = 1 << 22
    bad = []
    with open(lower, "rb") as a, open(path, "rb") as b:
        for pos, n in segments(segs, ls, chunk):
            a.seek(pos)
            b.seek(pos)
            x = a.read(n)
            y = b.read(n)
            if len(x) != len(y):
                bad.append("short read at %d: %d vs %d bytes" % (pos, len(y), len(x)))
                break
            if x != y:
                # mask the patched bytes, then compare again
                xa, ya = bytearray(x), bytearray(y)
                for off, data in patches:
                    for k in range(len(data)):
                        if pos <= off + k < pos + len(x):
                            xa[off + k - pos] = ya[off + k - pos] = 0
                if xa != ya:
                    first = next(i for i in range(len(xa)) if xa[i] != ya[i])
                    ndiff = sum(1 for i in range(len(xa)) if xa[i] != ya[i])
                    bad.append("%d bytes differ in [%d, %d), first at %d (%02x, want %02x)"
                               % (ndiff, pos, pos + len(x), pos + first, ya[first], xa[first]))
                    if len(bad) >= 5:
                        break
    applied = []
    with open(lower, "rb") as a, open(path, "rb") as b:
        for i, (off, data) in enumerate(patches):
            b.seek(off)
            got = b.read(len(data))
            a.seek(off)
            old = a.read(len(data))
            if got == data:
                applied.append(i)
            elif got != old:
                bad.append("patch %d at %d: %s, want %s or the old %s" % (i, off, got.hex(), data.hex(), old.hex()))
    if bad:
        print("BAD: " + "; ".join(bad))
        return 1
    print("PATCHED " + ",".join(map(str, applied)) if applied else "SAME")
    return 0


def cmd_pwrite_many(path, *specs):
    import multiprocessing as mp
    writers = []
    for s in specs:
        parts = s.split(":")
        writers.append((int(parts[0]), bytes.fromhex(parts[1]), parts[2] if len(parts) > 2 else "rw"))
    barrier = mp.Barrier(len(writers))

    def run(i, off, data, mode, q):
        barrier.wait()
        try:
            if mode == "dd":
                r = subprocess.run(["dd", "of=" + path, "bs=%d" % len(data), "count=1",
                                    "seek=%d" % off, "oflag=seek_bytes", "conv=notrunc", "status=none"],
                                   input=data, capture_output=True)
                q.put((i, "OK" if r.returncode == 0 else "dd: " + r.stderr.decode().strip()))
                return
            fd = os.open(path, os.O_WRONLY if mode == "w" else os.O_RDWR)
            try:
                n = os.pwrite(fd, data, off)
                if n != len(data):
                    q.put((i, "SHORT %d" % n))
                    return
            finally:
                os.close(fd)
            q.put((i, "OK"))
        except OSError as e:
            q.put((i, errno.errorcode.get(e.errno, str(e.errno))))

    q = mp.Queue()
    procs = [mp.Process(target=run, args=(i, o, d, m, q)) for i, (o, d, m) in enumerate(writers)]
    for p in procs:
        p.start()
    res = {}
    for _ in procs:
        i, r = q.get()
        res[i] = r
    for p in procs:
        p.join()
    for i in range(len(writers)):
        print("%d %s" % (i, res.get(i, "LOST")))
    return 0


def cmd_parent_times(udir, updir, n, nthreads="4"):
    import threading
    import time
    n, nthreads = int(n), int(nthreads)
    state = {"running": nthreads, "err": None}
    lock = threading.Lock()
    bad_u, bad_c, tot = [], [], [0, 0]

    def copyups(first):
        try:
            for i in range(first, n, nthreads):
                fd = os.open(os.path.join(udir, "f%d" % i), os.O_WRONLY)
                try:
                    os.pwrite(fd, b"x", 0)
                finally:
                    os.close(fd)
        except OSError as e:
            state["err"] = "first write: %s" % e
        with lock:
            state["running"] -= 1

    def settled(path, ok):
        # a copy-up may be between its link and its restore of the times
        # right now, and with four copy-ups running that is often: only a
        # value that is never right over 100 ms counts
        for _ in range(20):
            st = os.stat(path)
            if ok(st):
                return None
            time.sleep(0.005)
        return st

    def other():
        k = 0
        while state["running"]:
            k += 1
            if k % 2:
                t = (1_000_000_000 + k) * 10**9
                os.utime(udir, ns=(t, t))
                tot[0] += 1
                st = settled(updir, lambda st: st.st_mtime_ns == t)
                if st:
                    bad_u.append("utime(dir, %d) then the upper dir's mtime is %d" % (t, st.st_mtime_ns))
            else:
                name = "new-%d" % k
                open(os.path.join(udir, name), "w").close()
                tot[1] += 1
                fm = os.stat(os.path.join(updir, name)).st_mtime_ns
                st = settled(updir, lambda st: st.st_mtime_ns >= fm)
                if st:
                    bad_c.append("created %s (mtime %d), then the upper dir's mtime is %d"
                                 % (name, fm, st.st_mtime_ns))

    ths = [threading.Thread(target=copyups, args=(i,)) for i in range(nthreads)]
    ths.append(threading.Thread(target=other))
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if state["err"]:
        print("ERROR " + state["err"])
    print("utime: %d/%d" % (len(bad_u), tot[0]))
    print("create: %d/%d" % (len(bad_c), tot[1]))
    for e in bad_u[:2] + bad_c[:2]:
        print("  " + e)
    return 0


def main(argv):
    cmds = {"make": cmd_make, "times": cmd_times, "acl": cmd_acl, "sparse": cmd_sparse, "dropcache": cmd_dropcache,
            "patched-sha256": cmd_patched_sha256, "cmp-patched": cmd_cmp_patched,
            "cmp-patched-in": cmd_cmp_patched_in,
            "pwrite-many": cmd_pwrite_many, "parent-times": cmd_parent_times}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
