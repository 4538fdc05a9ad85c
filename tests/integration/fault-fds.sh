#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every namespace operation with the daemon's file descriptors (RLIMIT_NOFILE) nearly
# exhausted: each call succeeds whole or fails with an errno and changes
# nothing (tests/lib/fault.sh, helpers/faultrun.py).
# Usage: fault-fds.sh UNIONFUSE-BINARY
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fault.sh"
fault_main "${1:?usage: $0 UNIONFUSE-BINARY}" fds 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 16 20 24
