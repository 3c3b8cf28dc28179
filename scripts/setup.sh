#!/usr/bin/env bash
# Installs what taskd needs to build, run and test on Debian 12. Idempotent: when
# everything is present it only checks and returns (well under a second).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format clang libclang-rt-14-dev
  libcaf-dev librocksdb-dev libboost1.81-dev libboost-json1.81-dev
  libspdlog-dev doctest-dev libtomlplusplus-dev libcli11-dev prometheus-cpp-dev prometheus
  libpqxx-dev libhiredis-dev libssl-dev postgresql-15 redis-server
  curl jq espeak-ng sox python3 python3-yaml gcovr
)
# The browser tests run Debian's Chromium (headless); images that only build taskd skip it.
[ -n "${TASKD_SETUP_NO_BROWSER:-}" ] || packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js and npm build and test the UI (ui/). Debian's nodejs is used only when none is
# on the machine; Vite needs Node >= 20.19.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("setup: Node "+process.versions.node+" is too old for the UI build (need >= 20.19)"); process.exit(1) }'

# The UI's packages, exactly as locked; reinstalled only when the lock file changed.
cd "$(dirname "$0")/.."
npm_dirs=(ui tests/faktory)
[ -n "${TASKD_SETUP_NO_BROWSER:-}" ] || npm_dirs+=(tests/e2e)
for dir in "${npm_dirs[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
