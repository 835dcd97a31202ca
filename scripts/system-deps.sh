#!/usr/bin/env bash
# System packages the tests need, installed once, quietly; anything present is skipped.
# Servers are not started here: pytest fixtures start them on 127.0.0.1 and stop them.
set -euo pipefail

missing=()

# PostgreSQL server binaries (initdb, pg_ctl, postgres) for the storage tests.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  missing+=(postgresql)
fi

# Debian's Chromium for the administrator page's browser test (driven by Playwright,
# which must never download a browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi

# Node.js for the timeline tests' SMART authorization server (npm oidc-provider, installed
# by scripts/test.sh with `npm ci`): Debian's nodejs and npm, Node 20.19 or later.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

check_node() {
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "system-deps: Node.js $(node -v) is too old for the timeline tests (need 20.19 or later)" >&2
    exit 1
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  check_node
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "system-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=()
fi

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
check_node
