#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# readview-layers.sh with unionfuse's branches in the aufs/OCI form (.wh.NAME
# whiteouts, .wh..wh..opq opaque markers) against the kernel overlayfs on
# the same tree in the kernel form: the two views must be identical.
# Usage: readview-aufs.sh UNIONFUSE-BINARY
READVIEW_FORM=aufs exec bash "$(dirname "$0")/readview-layers.sh" "$@"
