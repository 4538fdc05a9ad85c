#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every namespace operation with the upper's bytes (tmpfs size, in pages) nearly
# exhausted: each call succeeds whole or fails with an errno and changes
# nothing (tests/lib/fault.sh, helpers/faultrun.py).
# Usage: fault-space.sh UNIONFUSE-BINARY
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/fault.sh"
fault_main "${1:?usage: $0 UNIONFUSE-BINARY}" space 0 1 2 9 10 11 63 64 65
