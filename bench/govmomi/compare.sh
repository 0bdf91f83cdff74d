#!/usr/bin/env bash
# Runs the ESX benchmark through the C# driver and through govmomi (VMware's Go client), each against a fresh vcsim
# (the project's launcher), and prints both JSON lines and the ratio of total times (C# / govmomi; <= 1 is the target).
# Usage: bench/govmomi/compare.sh [N] [P] [ROUNDS]    (defaults 1000 8 1; builds what is missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000} p=${2:-8} rounds=${3:-1}
launcher=fakes/vcsim/vcsim-launcher
[ -x "$launcher" ] && [ -x bench/govmomi/govmomi-bench ] || bash .ci/setup/30-vcsim.sh
bench_dll=bench/Hypervisors.Bench/bin/Release/net10.0/Hypervisors.Bench.dll
if ! dotnet build bench/Hypervisors.Bench/Hypervisors.Bench.csproj -c Release -nologo -v q >/dev/null; then
  [ -f "$bench_dll" ] || { echo "compare.sh: the benchmark project does not build" >&2; exit 1; }
  echo "compare.sh: the benchmark project does not build now; using the last build" >&2
fi
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

run_go() { with_vcsim bench/govmomi/govmomi-bench -n "$n" -p "$p" -url; }
run_cs() { with_vcsim dotnet "$bench_dll" esx -n "$n" -p "$p" --url; }

# Rounds alternate which client goes first, so a change in the machine's load does not favour one side.
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then go_line=$(run_go); cs_line=$(run_cs); else cs_line=$(run_cs); go_line=$(run_go); fi
  echo "$go_line"
  echo "$cs_line"
  echo "$go_line" >>"$out/go.jsonl"
  echo "$cs_line" >>"$out/cs.jsonl"
done

python3 - "$out/go.jsonl" "$out/cs.jsonl" <<'PY'
import json, statistics, sys
go = [json.loads(l) for l in open(sys.argv[1])]
cs = [json.loads(l) for l in open(sys.argv[2])]
phases = ["create_ms", "power_on_ms", "list_ms", "power_off_ms", "destroy_ms", "total_ms"]
for g, c in zip(go, cs):
    print("ratio dotnet/govmomi: " + ", ".join(f"{k[:-3]}={c[k] / g[k]:.2f}" for k in phases))
if len(go) > 1:
    print("median ratio dotnet/govmomi: " + ", ".join(
        f"{k[:-3]}={statistics.median(c[k] for c in cs) / statistics.median(g[k] for g in go):.2f}" for k in phases))
PY
