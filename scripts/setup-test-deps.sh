#!/usr/bin/env bash
# Installs what the test suite needs beyond the project's own venv. Idempotent; safe to rerun.
#  - Synapse (Matrix homeserver) in its own virtualenv, .venv-synapse, for the real-homeserver tests
#  - Debian's Chromium for the dashboard's browser tests (Playwright drives it; no browser download)
#  - Debian's postgresql (server binaries only) for the PostgreSQL storage and multi-process tests
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-synapse/bin/synapse_homeserver ]; then
  echo "setup: installing Synapse into .venv-synapse"
  python3 -m venv .venv-synapse
  .venv-synapse/bin/python -m pip install --quiet --disable-pip-version-check matrix-synapse
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing; install it (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi

# PostgreSQL server binaries for the storage tests (tests/conftest.py starts a throwaway cluster on a free port
# under a temp dir; nothing is configured system-wide and no service is started)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL is missing; install it (sudo apt-get install postgresql) for the PostgreSQL tests" >&2
  fi
fi
