#!/usr/bin/env bash
# faultline's one setup step, safe to run again: installs the Debian packages listed in
# scripts/system-packages.txt that are missing (apt-get, as root) and the npm dependencies pinned in
# package-lock.json, then builds dist/ (scripts/build.ts). Prints what it did; exits 3 when something it needs
# cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done < scripts/system-packages.txt

if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 3; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 3; }
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 3; }
  # Debian starts some daemons on install; faultline starts its own, on its own ports.
  for svc in "${missing[@]}"; do
    case "$svc" in haproxy|redis-server|postgresql*|prometheus) service "$svc" stop >/dev/null 2>&1 || true ;; esac
  done
else
  echo "setup: Debian packages present"
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "setup: npm dependencies present"
fi
# What must run without compiling TypeScript at run time (the dead-man watchdog) is built here.
node --import tsx scripts/build.ts || { echo "setup: build failed" >&2; exit 4; }
echo "setup: done"
