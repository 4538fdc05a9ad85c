#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Attacker-side probes for tests/security/*.sh (run as ufsec-alice/-bob
with setpriv, or as root for the lower-branch racers).

Every result is printed as OK or an errno name; every byte an attacker reads
is printed too (escaped), so that the test can grep the output for the
secrets' markers.

  exec CODE [ARG...]        run CODE with the helpers below; A = the args
  ops PATH OP...            one syscall per OP on PATH, "OP RESULT [DATA]"
  hammer SECS PATH OP...    the OPs in a loop for SECS seconds; prints
                            "OP RESULT COUNT" and each unexpected DATA once
  fdops PATH SWAP-CMD...    open PATH O_RDWR, run SWAP-CMD (the swap), then
                            the f*() calls through the fd

OPs: stat chmod chown truncate utime touch setxattr removexattr getxattr
listxattr read write rdwr readlink.
"""

import ctypes
import errno
import os
import subprocess
import sys
import time

_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def show(data):
    """Bytes an attacker got, printable and grep-able."""
    return repr(bytes(data)[:200])


def renameat2(old, new, flags):
    _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if _libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def op(name, path, uid=None, gid=None):
    """Run one named operation on PATH. Returns (result, data)."""
    if uid is None:
        uid, gid = os.getuid(), os.getgid()
    data = b""
    try:
        if name == "stat":
            st = os.stat(path)
            data = b"mode=%o uid=%d size=%d" % (st.st_mode, st.st_uid, st.st_size)
        elif name == "chmod":
            os.chmod(path, 0o666)
        elif name == "chown":
            os.chown(path, uid, gid)
        elif name == "truncate":
            os.truncate(path, 0)
        elif name == "utime":
            os.utime(path, ns=(1000000001, 2000000002))
        elif name == "touch":
            os.utime(path, None)
        elif name == "setxattr":
            os.setxattr(path, "user.x", b"alice")
        elif name == "removexattr":
            os.removexattr(path, "user.tag")
        elif name == "getxattr":
            data = os.getxattr(path, "user.tag")
        elif name == "listxattr":
            data = "\0".join(os.listxattr(path)).encode()
        elif name == "read":
            fd = os.open(path, os.O_RDONLY)
            try:
                data = os.read(fd, 4096)
            finally:
                os.close(fd)
        elif name == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"ALICE-WROTE")
            finally:
                os.close(fd)
        elif name == "rdwr":
            fd = os.open(path, os.O_RDWR)
            try:
                data = os.read(fd, 4096)
                os.write(fd, b"ALICE-WROTE")
            finally:
                os.close(fd)
        elif name == "readlink":
            data = os.fsencode(os.readlink(path))
        else:
            raise SystemExit("unknown op " + name)
        return "OK", data
    except OSError as e:
        return ename(e), data


def cmd_ops(path, *ops):
    for o in ops:
        r, data = op(o, path)
        print(o, r, show(data) if data else "", flush=True)


def cmd_hammer(secs, path, *ops):
    end = time.monotonic() + float(secs)
    counts = {}
    seen = set()
    while time.monotonic() < end:
        for o in ops:
            r, data = op(o, path)
            counts[(o, r)] = counts.get((o, r), 0) + 1
            key = (o, bytes(data[:64]))
            if data and key not in seen:
                seen.add(key)
                print("data", o, show(data), flush=True)
    for (o, r), n in sorted(counts.items()):
        print(o, r, n)


def cmd_fdops(path, *swap):
    fd = os.open(path, os.O_RDWR)
    subprocess.run(swap, check=True)
    for name, fn in (("fchmod", lambda: os.fchmod(fd, 0o666)),
                     ("fchown", lambda: os.fchown(fd, os.getuid(), os.getgid())),
                     ("ftruncate", lambda: os.ftruncate(fd, 0)),
                     ("futimens", lambda: os.utime(fd, ns=(1000000001, 2000000002))),
                     ("fsetxattr", lambda: os.setxattr(fd, "user.x", b"alice")),
                     ("fremovexattr", lambda: os.removexattr(fd, "user.tag")),
                     ("fgetxattr", lambda: os.getxattr(fd, "user.tag")),
                     ("pread", lambda: os.pread(fd, 4096, 0)),
                     ("pwrite", lambda: os.pwrite(fd, b"ALICE-WROTE", 0))):
        try:
            v = fn()
            print(name, "OK", show(v) if isinstance(v, bytes) and v else "", flush=True)
        except OSError as e:
            print(name, ename(e), flush=True)
    os.close(fd)


def cmd_exec(code, *args):
    g = dict(globals())
    g["A"] = list(args)
    try:
        exec(compile(code, "<secprobe exec>", "exec"), g)
    except OSError as e:
        print(ename(e))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = {"ops": cmd_ops, "hammer": cmd_hammer, "fdops": cmd_fdops, "exec": cmd_exec}.get(argv[1])
    if not cmd:
        print(__doc__, file=sys.stderr)
        return 2
    cmd(*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
