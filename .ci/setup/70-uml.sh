#!/usr/bin/env bash
# User Mode Linux driver tests: the UML kernel as a program (user-mode-linux: /usr/bin/linux.uml), the mconsole
# reference client and COW tools (uml-utilities: uml_mconsole, uml_moo, uml_mkcow, tunctl), and a static busybox
# the test guests boot from a host directory (hostfs). Idempotent: packages are only installed when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

need_packages user-mode-linux uml-utilities busybox-static iproute2

# The tap devices of the interface tests need /dev/net/tun.
if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200 2>/dev/null || log "no /dev/net/tun: the UML interface tests will report it unsupported"
fi
