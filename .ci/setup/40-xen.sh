#!/usr/bin/env bash
# Xen driver tests: the XenAPI simulator runs in-process; the independent client check needs python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh
need_packages python3
