#!/usr/bin/env bash
# VMware's vSphere simulator (vcsim) for the ESX driver's tests and benchmark: installs Go and Debian's govmomi
# (0.24.2, which carries the `simulator` package but no vcsim command), then builds the project's own launcher
# (fakes/vcsim) and the govmomi benchmark reference (bench/govmomi) in GOPATH mode. The tests start the launcher
# themselves, one per fixture, so nothing is left running here. Rebuilds only when a source is newer.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

need_packages golang-go golang-github-vmware-govmomi-dev ca-certificates

export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=${GOCACHE:-/tmp/gocache}

build_go() { # build_go DIR OUTPUT
  local dir=$1 out=$2
  [ -f "$dir/main.go" ] || return 0
  if [ -x "$dir/$out" ] && [ -z "$(find "$dir" -name '*.go' -newer "$dir/$out")" ]; then
    return 0
  fi
  log "building $dir/$out"
  (cd "$dir" && go build -o "$out" .)
}

build_go fakes/vcsim vcsim-launcher
build_go bench/govmomi govmomi-bench
