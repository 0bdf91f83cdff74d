#!/usr/bin/env bash
# The README's test command: installs what a fresh machine lacks and starts the real parts (each script in
# .ci/setup is idempotent), then builds and runs every test project in Drivers.sln.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in .ci/setup/*.sh; do
  [ -e "$script" ] || continue
  echo "== $script"
  bash "$script"
done
rm -rf artifacts/test-results
# .ci/setup/20-libvirt.sh has started libvirtd with QEMU, so the agent's crash test runs against it.
export HYPERVISORS_AGENT_CRASH_LIBVIRT_URI="${HYPERVISORS_AGENT_CRASH_LIBVIRT_URI:-qemu:///system}"
dotnet build Drivers.sln -c Release -warnaserror -nologo -v q
status=0
# One test assembly at a time: some share a real part (libvirtd is restarted by the libvirt reconnect test).
for project in tests/*.Tests/*.Tests.csproj; do
  echo "== $project"
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx" --results-directory artifacts/test-results "$@" || status=$?
done

# The out-of-tree sample consumes the packed packages, as a third-party driver author would.
dotnet pack Drivers.sln -c Release --no-build -nologo -v q
rm -rf samples/OutOfTreeDriver/.packages
dotnet test samples/OutOfTreeDriver/Contoso.Hypervisors.Audit.Tests -c Release --nologo \
  --logger "trx" --results-directory artifacts/test-results "$@" || status=$?
python3 tests/summarize-trx.py artifacts/test-results || true
exit $status
