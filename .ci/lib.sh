# Shared helpers for the setup scripts in .ci/setup (sourced, not run).

# need_packages PKG...: installs the Debian packages that are not installed yet (apt-get update once per run).
need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -e /tmp/.hypervisors-apt-updated ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq && touch /tmp/.hypervisors-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

log() { printf '[setup] %s\n' "$*" >&2; }
