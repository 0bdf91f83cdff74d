#!/usr/bin/env bash
# Runs the libvirt benchmark through the .NET driver and through the C API, interleaved, and prints each side's
# best (minimum) time per phase over the rounds and the ratios driver/C. The minimum is the figure least disturbed
# by other load on the machine; cpu_ms (process CPU time over the phases) is the least disturbed of all.
#   bench/libvirt-c/compare.sh [--uri test:///default] [-n 10000] [--rounds 3] [--offload] [--pinvoke]
# --offload also runs the driver with every call on a thread-pool thread (its default for test: URIs is inline).
# --pinvoke also runs "dotnet-pinvoke": the calls of "c" from .NET by bare P/Invoke, no driver code, which splits the
# driver's distance from C into the cost of running libvirt in a .NET process and the driver's own.
# Each round runs the C reference twice: "c" keeps the contract's checks the driver makes (UUID lookup before define,
# managed-save check before start, active check before undefine), "c-plain" makes only the bare calls.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
uri="test:///default"; n=10000; rounds=3; offload=0; pinvoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --uri) uri="$2"; shift 2 ;;
    -n|--n) n="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --offload) offload=1; shift ;;
    --pinvoke) pinvoke=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

out="${TMPDIR:-/tmp}/hypervisors-libvirt-bench"
mkdir -p "$out"
if [ ! -x "$out/libvirt-bench" ] || [ "$here/libvirt-bench.c" -nt "$out/libvirt-bench" ]; then
  cc -O2 -Wall -o "$out/libvirt-bench" "$here/libvirt-bench.c" -lvirt
fi
dotnet build -c Release -v q --nologo "$root/bench/Hypervisors.Bench/Hypervisors.Bench.csproj" >/dev/null
driver="$root/bench/Hypervisors.Bench/bin/Release/net10.0/Hypervisors.Bench"

results="$out/results.jsonl"
: > "$results"
for r in $(seq 1 "$rounds"); do
  "$out/libvirt-bench" --uri "$uri" -n "$n" | tee -a "$results"
  "$out/libvirt-bench" --uri "$uri" -n "$n" --plain | tee -a "$results"
  "$driver" libvirt --uri "$uri" -n "$n" | tee -a "$results"
  if [ "$pinvoke" = 1 ]; then "$driver" libvirt --uri "$uri" -n "$n" --pinvoke | tee -a "$results"; fi
  if [ "$offload" = 1 ]; then "$driver" libvirt --uri "$uri" -n "$n" --offload | tee -a "$results"; fi
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
keys = ["define_ms", "start_ms", "list_info_ms", "destroy_ms", "undefine_ms", "total_ms", "cpu_ms"]
impls = sorted({r["impl"] for r in rows})
best = {impl: {k: min(r[k] for r in rows if r["impl"] == impl) for k in keys} for impl in impls}
rounds = sum(1 for r in rows if r["impl"] == "c")
for impl in [i for i in impls if not i.startswith("c")]:
    for ref in [r for r in ("c", "c-plain") if r in best]:
        print(json.dumps({"ratio": "%s/%s, best of %d rounds each" % (impl, ref, rounds),
                          **{k.replace("_ms", "_ratio"): round(best[impl][k] / best[ref][k], 3) for k in keys},
                          ref + "_best": best[ref], impl + "_best": best[impl]}))
PY
