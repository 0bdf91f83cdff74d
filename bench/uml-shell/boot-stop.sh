#!/usr/bin/env bash
# The reference for `Hypervisors.Bench uml`: boots one UML guest by hand with the arguments the driver would use,
# waits for the guest's marker on its console, asks it to shut down through the mconsole (cad) and waits for the
# kernel to exit. Prints "boot_us stop_us".
# usage: boot-stop.sh CONSOLE_LOG MCONSOLE_SOCKET MARKER KERNEL [KERNEL_ARGUMENT...]
set -euo pipefail
log=$1 socket=$2 marker=$3
shift 3
start=$(date +%s%N)
setsid "$@" </dev/null >>"$log" 2>&1 &
pid=$!
until grep -q "^$marker" "$log" 2>/dev/null; do sleep 0.005; done
booted=$(date +%s%N)
uml_mconsole "$socket" cad >/dev/null 2>&1
wait "$pid" || true
stopped=$(date +%s%N)
echo "$(( (booted - start) / 1000 )) $(( (stopped - booted) / 1000 ))"
