#!/usr/bin/env bash
# Hyper-V: the independent WS-Management clients that check the Hyper-V simulator (fakes/HyperVSimulator).
#   wsl            Debian's "Wsman Shell Command Line" (shell + curl + xmllint): `wsl enumerate`, `wsl invoke`.
#   python3-winrm  pywinrm; its winrm.protocol.Protocol.send_message posts raw WS-Man envelopes with Basic auth.
# The tests start the simulator themselves on a loopback port, so nothing is left running here.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
need_packages wsl curl libxml2-utils uuid-runtime python3 python3-winrm
/usr/bin/python3 -c 'import winrm.protocol' || { log "python3-winrm is installed but does not import"; exit 1; }
command -v wsl >/dev/null || { log "wsl is installed but not on PATH"; exit 1; }
