#!/usr/bin/env bash
# System packages some tests need, installed once, quietly, with apt-get (Debian, as root or
# with passwordless sudo); anything present is skipped. Servers are not started here:
# pytest fixtures start them on 127.0.0.1 and stop them.
#
#   postgresql  PostgreSQL server binaries (initdb, pg_ctl, postgres): the storage tests
#   chromium    Debian's Chromium, driven by Playwright: the administrator page's browser test
#   node        Node.js 20.19+ and npm (Debian: nodejs, npm): the timeline tests' SMART
#               authorization server (npm oidc-provider, installed by scripts/test.sh)
#
# Where apt-get cannot install a missing part (another system, not root), this script says
# so and exits 0: the tests that need the part then FAIL, naming it, unless
# MCAS_TEST_ALLOW_MISSING lists it (e.g. postgresql,chromium,node); then they are skipped and
# listed at the end of the run (tests/support/system_parts.py). CI never sets it.
# MCAS_TEST_PRETEND_MISSING (same syntax) makes a present part look missing, to test this.
set -euo pipefail

pretend=",${MCAS_TEST_PRETEND_MISSING:-},"
allowed=",${MCAS_TEST_ALLOW_MISSING:-},"

has_postgresql() {
  [[ $pretend != *",postgresql,"* ]] || return 1
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
}

has_chromium() {
  [[ $pretend != *",chromium,"* ]] || return 1
  [ -x /usr/bin/chromium ] || command -v chromium >/dev/null
}

has_node() {
  [[ $pretend != *",node,"* ]] || return 1
  command -v node >/dev/null && command -v npm >/dev/null
}

missing=()
has_postgresql || missing+=(postgresql)
has_chromium || missing+=(chromium)

has_node || missing+=(node)

check_node() {
  has_node || return 0  # missing and allowed: its tests are skipped
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "system-deps: Node.js $(node -v) is too old for the timeline tests (need 20.19 or later)" >&2
    exit 1
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  check_node
  exit 0
fi

why=""
if ! command -v apt-get >/dev/null; then
  why="no apt-get"
elif [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    why="not root, no passwordless sudo"
  fi
else
  SUDO=()
fi

if [ -n "$why" ]; then
  echo "system-deps: cannot install ${missing[*]} here ($why)." >&2
  failing=()
  for part in "${missing[@]}"; do
    if [[ $allowed == *",$part,"* ]]; then
      echo "system-deps: $part: its tests will be skipped and listed at the end" \
        "(MCAS_TEST_ALLOW_MISSING)." >&2
    else
      failing+=("$part")
    fi
  done
  if [ "${#failing[@]}" -gt 0 ]; then
    list=$(IFS=,; echo "${failing[*]}")
    echo "system-deps: the tests that need them will FAIL. Install ${failing[*]} with your" \
      "system's package manager (Debian: run this script as root), or set" \
      "MCAS_TEST_ALLOW_MISSING=$list to skip those tests; they are then listed at the end." >&2
  fi
  exit 0
fi

# Part names to Debian packages (node is two).
packages=()
for part in "${missing[@]}"; do
  if [ "$part" = node ]; then packages+=(nodejs npm); else packages+=("$part"); fi
done
echo "system-deps: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
check_node
