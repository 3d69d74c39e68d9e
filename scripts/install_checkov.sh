#!/usr/bin/env bash
# checkov in an isolated venv, .tools/checkov-venv (see requirements-checkov.txt for why it
# is not in .venv). Idempotent: reinstalls only when requirements-checkov.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.tools/checkov-venv
STAMP="$VENV/.installed"
want="$(sha256sum requirements-checkov.txt | cut -d' ' -f1)"

if [ -x "$VENV/bin/checkov" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "installing checkov into $VENV"
mkdir -p .tools
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-checkov.txt
echo "$want" > "$STAMP"
