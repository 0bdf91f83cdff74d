#!/usr/bin/env bash
# The compute agent's tests need nothing beyond the .NET SDK: SQLite comes with Microsoft.Data.Sqlite, the agents
# run in-process or as child processes on loopback ports they pick themselves. The crash test runs against the
# in-memory fake, and against libvirtd (started by 20-libvirt.sh) when HYPERVISORS_AGENT_CRASH_LIBVIRT_URI is set,
# as tests/test.sh does.
# This script only checks that loopback works, so a broken network namespace fails here with a clear message.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

if ! getent hosts localhost >/dev/null 2>&1 && ! grep -q '127.0.0.1' /etc/hosts; then
  log "agent: no loopback name resolution; the agent tests bind 127.0.0.1 directly, so this is only a warning"
fi
if command -v ip >/dev/null 2>&1; then
  # Read the whole listing first: with pipefail, `grep -q` closing the pipe early would fail the check.
  lo_addresses=$(ip -o addr show lo 2>/dev/null || true)
  [[ "$lo_addresses" == *127.0.0.1* ]] || { log "agent: the loopback interface has no 127.0.0.1"; exit 1; }
fi
