#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Filesystem probes for the unionfuse test scripts (driven by common.sh).

Every subcommand prints a canonical, sorted text so shell tests can compare
views with diff(1) or against an inline expectation:

  snapshot DIR           one line per entry: path, type, mode, uid, gid, size,
                         sha256, symlink target, rdev, nlink (non-dirs) and
                         user.*/trusted.* xattrs except trusted.overlay.*;
                         st_ino, st_dev and times are ignored
  brief DIR              one line per entry: type, path, short content/target
  inocheck DIR           readdir d_ino == lstat st_ino for every entry (raw
                         getdents64, so "." and ".." too), each name once,
                         "." and ".." present, d_type matches, and st_ino
                         shared only by hard links; prints ERROR lines and the
                         hard-link groups as LINKS lines; exit 1 on any ERROR
  getdents DIR [BUFSZ]   raw getdents64 listing "name d_ino d_type", in order
  seekcheck DIR [BUFSZ [STEP]]
                         lseek to the d_off of every STEP-th entry resumes
                         the listing right after it; lseek(0) restarts
  inomap DIR             "path st_ino" for every entry, sorted by path
  errno OP PATH [ARG..]  run one syscall; print OK (plus a result) or the
                         errno name (ENOENT, EROFS, ...)
  mmapcat FILE [OFF LEN] print sha256 of the bytes read through mmap
  deep make|check ROOT NAMELEN DEPTH [SPLIT]
                         build / walk a directory chain longer than PATH_MAX
                         with *at() calls only

Exit status: 0 ok, 1 check failed, 2 usage error.
"""

import ctypes
import errno
import hashlib
import mmap
import os
import stat
import struct
import sys

HIDDEN_XATTR_PREFIX = "trusted.overlay."
SHOWN_XATTR_PREFIXES = ("user.", "trusted.")

DT_NAMES = {0: "unknown", 1: "p", 2: "c", 4: "d", 6: "b", 8: "f", 10: "l", 12: "s"}


def esc(name, space_ok=False):
    """Printable, unambiguous rendering of a path (bytes-safe)."""
    if isinstance(name, str):
        name = os.fsencode(name)
    out = []
    lo = 0x20 if space_ok else 0x21
    for b in name:
        if b == 0x5C:
            out.append("\\\\")
        elif lo <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def ftype(mode):
    if stat.S_ISREG(mode):
        return "f"
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISLNK(mode):
        return "l"
    if stat.S_ISFIFO(mode):
        return "p"
    if stat.S_ISCHR(mode):
        return "c"
    if stat.S_ISBLK(mode):
        return "b"
    if stat.S_ISSOCK(mode):
        return "s"
    return "?"


def walk(top):
    """Yield (relpath_bytes, abspath_bytes) for top and everything below it,
    never following symlinks, in sorted order."""
    top = os.fsencode(top)
    yield b".", top
    stack = [(b"", top)]
    while stack:
        rel, path = stack.pop()
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            print("ERROR: listdir %s: %s" % (esc(path), errno.errorcode.get(e.errno, e.errno)))
            global_errors.append(1)
            continue
        subdirs = []
        for n in names:
            r = rel + b"/" + n if rel else n
            p = path + b"/" + n
            yield r, p
            try:
                if stat.S_ISDIR(os.lstat(p).st_mode):
                    subdirs.append((r, p))
            except OSError:
                pass
        stack.extend(reversed(subdirs))


global_errors = []


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.ENODATA):
            return []
        return ["<listxattr %s>" % errno.errorcode.get(e.errno, e.errno)]
    out = []
    for n in sorted(names):
        if not n.startswith(SHOWN_XATTR_PREFIXES) or n.startswith(HIDDEN_XATTR_PREFIX):
            continue
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
            out.append("%s=0x%s" % (n, v.hex()))
        except OSError as e:
            out.append("%s=<%s>" % (n, errno.errorcode.get(e.errno, e.errno)))
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def cmd_snapshot(top):
    lines = []
    for rel, path in walk(top):
        try:
            st = os.lstat(path)
        except OSError as e:
            lines.append("%s lstat=%s" % (esc(rel), errno.errorcode.get(e.errno, e.errno)))
            continue
        t = ftype(st.st_mode)
        f = [esc(rel), "type=" + t, "mode=%04o" % stat.S_IMODE(st.st_mode),
             "uid=%d" % st.st_uid, "gid=%d" % st.st_gid]
        if t != "d":
            f.append("nlink=%d" % st.st_nlink)
        if t == "f":
            f.append("size=%d" % st.st_size)
            try:
                f.append("sha256=" + sha256_file(path))
            except OSError as e:
                f.append("sha256=<%s>" % errno.errorcode.get(e.errno, e.errno))
        elif t == "l":
            try:
                f.append("target=" + esc(os.readlink(path)))
            except OSError as e:
                f.append("target=<%s>" % errno.errorcode.get(e.errno, e.errno))
        elif t in ("c", "b"):
            f.append("rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        f.extend("xattr:" + x for x in xattrs(path))
        lines.append(" ".join(f))
    lines.sort()
    sys.stdout.write("".join(l + "\n" for l in lines))
    return 1 if global_errors else 0


def cmd_brief(top):
    lines = []
    for rel, path in walk(top):
        if rel == b".":
            continue
        st = os.lstat(path)
        t = ftype(st.st_mode)
        extra = ""
        if t == "f":
            with open(path, "rb") as fh:
                data = fh.read(41)
            extra = " " + esc(data[:40], space_ok=True) + ("..." if len(data) > 40 else "")
        elif t == "l":
            extra = " -> " + esc(os.readlink(path))
        elif t in ("c", "b"):
            extra = " %d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        lines.append("%s %s%s" % (t, esc(rel), extra))
    lines.sort(key=lambda l: l.split(" ")[1])
    sys.stdout.write("".join(l + "\n" for l in lines))
    return 1 if global_errors else 0


_libc = None


def getdents_fd(fd, bufsz=32768, limit=None):
    """getdents64(2) on an open directory fd from its current position:
    list of (name_bytes, d_ino, d_type, d_off); stops after LIMIT calls."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    SYS_getdents64 = {"x86_64": 217, "aarch64": 61, "riscv64": 61}.get(os.uname().machine, 217)
    out = []
    buf = ctypes.create_string_buffer(bufsz)
    calls = 0
    while limit is None or calls < limit:
        calls += 1
        n = _libc.syscall(SYS_getdents64, fd, buf, bufsz)
        if n < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        if n == 0:
            break
        raw = buf.raw[:n]
        off = 0
        while off < n:
            d_ino, d_off, reclen, d_type = struct.unpack_from("<QqHB", raw, off)
            name = raw[off + 19:off + reclen].split(b"\0", 1)[0]
            out.append((name, d_ino, d_type, d_off))
            off += reclen
    return out


def getdents(path, bufsz=32768):
    """Raw getdents64(2) on PATH: list of (name_bytes, d_ino, d_type)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return [e[:3] for e in getdents_fd(fd, bufsz)]
    finally:
        os.close(fd)


def cmd_seekcheck(path, bufsz="1024", step="97"):
    """telldir/seekdir semantics: the d_off of entry k, passed to lseek,
    makes the next getdents start at entry k+1; lseek(0) restarts."""
    bufsz, step = int(bufsz), int(step)
    errors = []
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        ents = getdents_fd(fd, bufsz)
        names = [e[0] for e in ents]
        checked = 0
        for k in list(range(0, len(ents) - 1, step)) + [len(ents) - 2]:
            if k < 0:
                continue
            os.lseek(fd, ents[k][3], os.SEEK_SET)
            nxt = getdents_fd(fd, bufsz, limit=1)
            checked += 1
            if not nxt or nxt[0][0] != names[k + 1]:
                errors.append("after lseek to d_off of entry %d (%s) the next entry is %s, want %s"
                              % (k, esc(names[k]), esc(nxt[0][0]) if nxt else "EOF", esc(names[k + 1])))
        os.lseek(fd, ents[-1][3], os.SEEK_SET)
        tail = getdents_fd(fd, bufsz)
        if tail:
            errors.append("lseek to the last d_off then getdents returns %d entries, want 0" % len(tail))
        os.lseek(fd, 0, os.SEEK_SET)
        again = [e[0] for e in getdents_fd(fd, bufsz)]
        if sorted(again) != sorted(names):
            errors.append("listing after lseek(0) differs: %d vs %d names" % (len(again), len(names)))
    finally:
        os.close(fd)
    for e in errors[:20]:
        print("ERROR: " + e)
    if not errors:
        print("OK %d entries, %d seeks" % (len(names), checked))
    return 1 if errors else 0


def cmd_getdents(path, bufsz="32768"):
    for name, ino, dt in getdents(path, int(bufsz)):
        print("%s %d %s" % (esc(name), ino, DT_NAMES.get(dt, str(dt))))
    return 0


def cmd_inomap(top):
    for rel, path in walk(top):
        print("%s %d" % (esc(rel), os.lstat(path).st_ino))
    return 1 if global_errors else 0


def cmd_inocheck(top):
    errors = []
    byino = {}
    top_b = os.fsencode(top)
    top_st = os.lstat(top_b)
    for rel, path in walk(top):
        st = os.lstat(path)
        byino.setdefault(st.st_ino, []).append((rel, st))
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            ents = getdents(path)
        except OSError as e:
            errors.append("getdents %s: %s" % (esc(rel), errno.errorcode.get(e.errno, e.errno)))
            continue
        names = [e[0] for e in ents]
        seen = set()
        for n in names:
            if n in seen:
                errors.append("%s: name %s listed twice" % (esc(rel), esc(n)))
            seen.add(n)
        for must in (b".", b".."):
            if must not in seen:
                errors.append("%s: %s missing from readdir" % (esc(rel), esc(must)))
        for n, d_ino, d_type in ents:
            if n == b".." and path == top_b:
                continue  # the parent lies outside the mount
            p = path + b"/" + n
            try:
                est = os.lstat(p)
            except OSError as e:
                errors.append("%s/%s: listed but lstat fails: %s"
                              % (esc(rel), esc(n), errno.errorcode.get(e.errno, e.errno)))
                continue
            if d_ino != est.st_ino:
                errors.append("%s/%s: d_ino %d != st_ino %d" % (esc(rel), esc(n), d_ino, est.st_ino))
            if d_type != 0 and DT_NAMES.get(d_type) != ftype(est.st_mode):
                errors.append("%s/%s: d_type %s != lstat type %s"
                              % (esc(rel), esc(n), DT_NAMES.get(d_type, d_type), ftype(est.st_mode)))
    links = []
    for ino, ents in sorted(byino.items()):
        if len(ents) < 2:
            continue
        paths = " ".join(sorted(esc(r) for r, _ in ents))
        kinds = {(ftype(s.st_mode), s.st_nlink, s.st_size, s.st_uid, s.st_gid, s.st_mode) for _, s in ents}
        if any(stat.S_ISDIR(s.st_mode) for _, s in ents):
            errors.append("st_ino %d shared by distinct files (a directory among them): %s" % (ino, paths))
        elif len(kinds) != 1:
            errors.append("st_ino %d shared by entries with different stat: %s" % (ino, paths))
        elif ents[0][1].st_nlink < len(ents):
            errors.append("st_ino %d shared by %d entries but st_nlink is %d: %s"
                          % (ino, len(ents), ents[0][1].st_nlink, paths))
        else:
            links.append("LINKS: " + paths)
    if top_st.st_ino in byino and len(byino[top_st.st_ino]) != 1:
        errors.append("root st_ino shared")
    for l in sorted(links):
        print(l)
    for e in errors:
        print("ERROR: " + e)
    return 1 if errors or global_errors else 0


def _flags(spec):
    f = 0
    for part in spec.split("|"):
        f |= getattr(os, part)
    return f


def cmd_errno(op, path, *args):
    """One syscall; prints OK[ result] or the errno name."""
    try:
        res = ""
        if op == "stat":
            os.stat(path)
        elif op == "lstat":
            st = os.lstat(path)
            res = ftype(st.st_mode)
        elif op == "open":
            fd = os.open(path, _flags(args[0]) if args else os.O_RDONLY, 0o644)
            os.close(fd)
        elif op == "read":
            with open(path, "rb") as f:
                res = str(len(f.read()))
        elif op == "listdir":
            res = str(len(os.listdir(path)))
        elif op == "readlink":
            res = os.readlink(path)
        elif op == "mkdir":
            os.mkdir(path, 0o755)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "unlink":
            os.unlink(path)
        elif op == "rename":
            os.rename(path, args[0])
        elif op == "symlink":
            os.symlink(args[0], path)
        elif op == "link":
            os.link(args[0], path)
        elif op == "mkfifo":
            os.mkfifo(path)
        elif op == "mknod":
            os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
        elif op == "truncate":
            os.truncate(path, int(args[0]) if args else 0)
        elif op == "chmod":
            os.chmod(path, int(args[0], 8) if args else 0o600)
        elif op == "chown":
            os.chown(path, int(args[0]), int(args[1]), follow_symlinks=False)
        elif op == "utime":
            os.utime(path, (1, 1), follow_symlinks=False)
        elif op == "setxattr":
            os.setxattr(path, args[0], os.fsencode(args[1]), follow_symlinks=False)
        elif op == "getxattr":
            res = os.getxattr(path, args[0], follow_symlinks=False).decode(errors="replace")
        elif op == "removexattr":
            os.removexattr(path, args[0], follow_symlinks=False)
        elif op == "listxattr":
            res = ",".join(sorted(os.listxattr(path, follow_symlinks=False)))
        elif op == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"x")
            finally:
                os.close(fd)
        else:
            print("unknown op " + op, file=sys.stderr)
            return 2
        print("OK" + (" " + res if res else ""))
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    return 0


def cmd_mmapcat(path, off="0", length=None):
    off = int(off)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = int(length) if length is not None else size - off
        m = mmap.mmap(f.fileno(), n + (off % mmap.PAGESIZE), mmap.MAP_SHARED,
                      mmap.PROT_READ, offset=off - off % mmap.PAGESIZE)
        try:
            data = m[off % mmap.PAGESIZE:]
        finally:
            m.close()
    print(hashlib.sha256(data).hexdigest())
    return 0


def deep_names(namelen, depth):
    return [("%03d" % i + "d" * namelen)[:namelen] for i in range(depth)]


def cmd_deep(mode, root, namelen, depth, split=None):
    """make: ROOT/n0/n1/.../n{depth-1}/leaf-0 using *at() calls only.  With
    SPLIT (a second branch root), ROOT gets only levels 0..depth//2 plus a
    file mid-0 there, and SPLIT gets the whole chain with leaf-1 at the
    bottom, so the union has to merge directories past PATH_MAX.
    check: walk the chain under ROOT with *at() calls and print whether the
    logical path exceeds PATH_MAX, the listing at depth//2 and at the bottom
    (directory names cut to 4 chars) and the content of the bottom files."""
    names = deep_names(int(namelen), int(depth))
    half = len(names) // 2
    if mode == "make":
        plan = [(root, names, "leaf-0")] if split is None else \
            [(root, names[:half + 1], "mid-0"), (split, names, "leaf-1")]
        for r, chain, leaf in plan:
            fd = os.open(r, os.O_RDONLY | os.O_DIRECTORY)
            for n in chain:
                try:
                    os.mkdir(n, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nfd
            wfd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=fd)
            os.write(wfd, ("%s content\n" % leaf).encode())
            os.close(wfd)
            os.close(fd)
        return 0
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    plen = len(os.fsencode(root))
    mid = []
    i = -1
    try:
        for i, n in enumerate(names):
            nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            plen += 1 + len(n)
            if i == half:
                mid = sorted(os.listdir(fd))
        listing = sorted(os.listdir(fd))
        content = []
        for leaf in listing:
            st = os.stat(leaf, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                rfd = os.open(leaf, os.O_RDONLY, dir_fd=fd)
                content.append(os.read(rfd, 100).decode().strip())
                os.close(rfd)
    except OSError as e:
        print("ERROR at depth %d (path length %d): %s" % (i, plen, errno.errorcode.get(e.errno, e.errno)))
        return 1
    finally:
        os.close(fd)
    print("pathlen>PATH_MAX %s" % ("yes" if plen > os.pathconf("/", "PC_PATH_MAX") else "no"))
    print("mid: " + " ".join(m[:4] if m[:1].isdigit() else m for m in mid))
    print("last: " + " ".join(listing))
    print("content: " + " | ".join(content))
    return 0


def main(argv):
    cmds = {"snapshot": cmd_snapshot, "brief": cmd_brief, "inocheck": cmd_inocheck,
            "getdents": cmd_getdents, "inomap": cmd_inomap, "errno": cmd_errno,
            "mmapcat": cmd_mmapcat, "deep": cmd_deep, "seekcheck": cmd_seekcheck}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
