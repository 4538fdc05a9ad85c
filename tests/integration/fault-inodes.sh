#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every namespace operation with the upper's inodes (tmpfs nr_inodes) nearly
# exhausted: each call succeeds whole or fails with an errno and changes
# nothing (tests/lib/fault.sh, helpers/faultrun.py).
# Usage: fault-inodes.sh UNIONFUSE-BINARY
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fault.sh"
fault_main "${1:?usage: $0 UNIONFUSE-BINARY}" inodes 0 1 2 3 4 5
