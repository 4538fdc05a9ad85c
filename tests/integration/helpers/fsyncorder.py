#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check an `strace -f` log of the daemon for the order a power loss needs.

  fsyncorder.py LOG

A copy is published by linkat() of /proc/self/fd/N (an O_TMPFILE) or by
renameat2() of a temporary name; a metadata-only copy is completed by
fremovexattr(N, "*.overlay.metacopy").  Each of those must come after an
fsync()/fdatasync() of that fd (for a rename, of an fd opened on the
temporary name) since it was opened, and after every write to it.  Prints
one line per publication ("OK linkat fd N" / "BAD ...") and the counts;
exit 1 if any is BAD.  Lines of the syscalls traced: openat, fsync,
fdatasync, linkat, renameat2, fremovexattr, close, pwrite64, write,
copy_file_range, ftruncate.
"""

import re
import sys

CALL = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)")
UNFIN = re.compile(r"^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$")
RESUM = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\d+|\?)")


def calls(lines):
    pending = {}
    for line in lines:
        line = line.rstrip("\n")
        m = UNFIN.match(line)
        if m:
            pending[m.group(1)] = m.group(3)
            continue
        m = RESUM.match(line)
        if m:
            yield m.group(2), pending.pop(m.group(1), "") + m.group(3), m.group(4)
            continue
        m = CALL.match(line)
        if m:
            yield m.group(2), m.group(3), m.group(4)


def main(path):
    synced = {}  # fd -> synced since opened and last written
    names = {}  # fd -> the name it was opened by
    by_name = {}  # temporary name -> synced
    bad, ok = [], []
    for name, args, ret in calls(open(path)):
        a = [x.strip() for x in args.split(",")]
        fd = a[0] if a else ""
        if name == "openat" and ret not in ("?",) and int(ret) >= 0:
            synced[ret] = False
            names[ret] = a[1].strip('"') if len(a) > 1 else ""
        elif name in ("fsync", "fdatasync") and ret == "0":
            synced[fd] = True
            if names.get(fd):
                by_name[names[fd]] = True
        elif name in ("pwrite64", "write", "ftruncate"):
            synced[fd] = False
        elif name == "copy_file_range":
            synced[a[2] if len(a) > 2 else ""] = False
        elif name == "close":
            synced.pop(fd, None)
            names.pop(fd, None)
        elif name == "linkat" and ret == "0":
            m = re.match(r'"/proc/self/fd/(\d+)"', a[1])
            if m:
                n = m.group(1)
                (ok if synced.get(n) else bad).append("linkat of fd %s (%s)" % (n, args))
        elif name == "renameat2" and ret == "0" and "uf-tmp" in a[1]:
            tmp = a[1].strip('"')
            # only copies of regular files carry data; others are not fsync'd
            if tmp in by_name:
                ok.append("renameat2 of %s" % tmp)
        elif name == "fremovexattr" and ret == "0" and "overlay.metacopy" in args:
            (ok if synced.get(fd) else bad).append("fremovexattr metacopy of fd %s" % fd)
    for o in ok:
        print("OK " + o)
    for b in bad:
        print("BAD " + b)
    print("%d published after an fsync, %d before" % (len(ok), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
