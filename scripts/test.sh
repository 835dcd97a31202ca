#!/usr/bin/env bash
# The one test command (README, CI): sets up what the tests need, then runs pytest.
# Servers the tests need (FHIR server, PostgreSQL, browser) are started by the tests'
# own fixtures on 127.0.0.1 (PostgreSQL on a Unix socket) and stopped when the session
# ends. Arguments go to pytest: without any, every test runs (`make test`); `make
# test-fast` passes -m "not integration and not browser and not slow".
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Quietly bring the environment up to date; a fresh machine installs everything here.
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".[dev]" 2>&1 \
  | grep -v "^WARNING: Location" || true

# PostgreSQL and Chromium with apt-get. Where that cannot be done, the tests that need a
# missing part fail, unless MCAS_TEST_ALLOW_MISSING lists it (tests/support/system_parts.py).
if [ -x scripts/system-deps.sh ]; then
  scripts/system-deps.sh
fi

# The timeline tests' SMART authorization server (npm oidc-provider), exactly as locked.
# Without Node.js (allowed missing, see system-deps.sh) its tests fail or are skipped.
if command -v npm >/dev/null; then
  npm ci --prefix tests/support/smart_auth --no-audit --no-fund --silent
fi

.venv/bin/ruff check --quiet .
# The architecture as checks (docs/architecture.md): import contracts, then types.
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
.venv/bin/mypy
if [ "$#" -eq 0 ]; then
  echo "running every test: unit, integration, browser, slow"
else
  echo "running the tests pytest selects with: $*"
fi
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here, not a pass." >&2
fi
if [ -n "${MCAS_TEST_ALLOW_MISSING:-}" ]; then
  echo "MCAS_TEST_ALLOW_MISSING=$MCAS_TEST_ALLOW_MISSING: tests needing a missing part were" \
    "skipped (listed above, 'skipped for missing system parts'); CI runs them all." >&2
fi
exit "$status"
