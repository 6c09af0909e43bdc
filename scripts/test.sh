#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: ruff, mypy, then the whole pytest suite.
# Extra arguments go to pytest.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/scripts/setup.sh"
cd "$top"
echo "== ruff"; .venv/bin/ruff check lp49fs kernel hwsim tests bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; exec .venv/bin/python -m pytest "$@"
