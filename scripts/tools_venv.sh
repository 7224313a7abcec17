#!/usr/bin/env bash
# Scanner venvs the generator tests call but the main venv cannot hold.
#
# checkov pins its own fork of python-hcl2 (bc-python-hcl2) and of
# detect-secrets (bc-detect-secrets), which clash with the python-hcl2 and
# detect-secrets the generator tests import; so checkov lives alone in
# .venv-checkov. Idempotent: re-running with the venv in place only checks
# the version. Usage: bash scripts/tools_venv.sh [PYTHON]
set -euo pipefail

CHECKOV_VERSION="3.3.30"
PYTHON="${1:-python3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-checkov"

if [ -x "$VENV/bin/checkov" ] && [ "$("$VENV/bin/checkov" --version 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
    echo "checkov $CHECKOV_VERSION already in $VENV"
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "checkov==$CHECKOV_VERSION"
echo "checkov $("$VENV/bin/checkov" --version) installed in $VENV"
