#!/usr/bin/env bash
# Install what the tests need and a fresh machine may lack: PostgreSQL (Debian package),
# the ODBC driver manager for pyodbc with the FreeTDS driver (the SQL Server tests connect
# through it; Microsoft's driver is not a Debian package), headless Chromium (renders the
# alert mails and the dashboard; the dashboard tests drive it with Playwright from requirements-dev.txt,
# never a browser Playwright downloads), Azurite (npm, into .tools/) and checkov for the infra/
# scan (its own venv, .tools/checkov-venv: scripts/install_checkov.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if ! ldconfig -p 2>/dev/null | grep -q libodbc.so \
   || ! (command -v odbcinst >/dev/null && odbcinst -q -d 2>/dev/null | grep -qi '^\[FreeTDS\]'); then
  need_apt+=(unixodbc tdsodbc)
fi
if ! command -v chromium >/dev/null; then
  need_apt+=(chromium)
fi
if ! command -v npm >/dev/null; then
  need_apt+=(nodejs npm)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
  echo "installing azurite into .tools/"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent azurite@3 >/dev/null
fi
bash scripts/install_checkov.sh
echo "services ready"
