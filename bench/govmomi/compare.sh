#!/usr/bin/env bash
# Runs the ESX benchmark through the C# driver and through govmomi (VMware's Go client), each against a fresh vcsim
# (the project's launcher), and prints both JSON lines and the ratio of total times (C# / govmomi; <= 1 is the target).
# Usage: bench/govmomi/compare.sh [N] [P] [ROUNDS]    (defaults 1000 8 1; needs .ci/setup/30-vcsim.sh run first)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000} p=${2:-8} rounds=${3:-1}
launcher=fakes/vcsim/vcsim-launcher
[ -x "$launcher" ] && [ -x bench/govmomi/govmomi-bench ] || bash .ci/setup/30-vcsim.sh
dotnet build bench/Hypervisors.Bench/Hypervisors.Bench.csproj -c Release -nologo -v q >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# with_vcsim CMD...: starts a fresh vcsim, runs CMD with its URL appended, stops vcsim.
with_vcsim() {
  rm -f "$out/vcsim.line"
  "$launcher" >"$out/vcsim.line" 2>"$out/vcsim.err" &
  local pid=$!
  for _ in $(seq 1 100); do [ -s "$out/vcsim.line" ] && break; sleep 0.1; done
  local url
  url=$(sed -n 's/^url=\([^ ]*\).*/\1/p' "$out/vcsim.line")
  "$@" "$url" || { kill "$pid"; wait "$pid" 2>/dev/null || true; return 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$rounds"); do
  go_line=$(with_vcsim bench/govmomi/govmomi-bench -n "$n" -p "$p" -url)
  cs_line=$(with_vcsim dotnet bench/Hypervisors.Bench/bin/Release/net10.0/Hypervisors.Bench.dll esx -n "$n" -p "$p" --url)
  echo "$go_line"
  echo "$cs_line"
  python3 - "$go_line" "$cs_line" <<'PY'
import json, sys
go, cs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
phases = ["create_ms", "power_on_ms", "list_ms", "power_off_ms", "destroy_ms", "total_ms"]
print("ratio dotnet/govmomi: " + ", ".join(f"{k[:-3]}={cs[k] / go[k]:.2f}" for k in phases))
PY
done
