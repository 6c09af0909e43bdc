#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: ruff, mypy, then the whole pytest suite.
# Extra arguments go to pytest.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/scripts/setup.sh"
cd "$top"
# A test run that was killed can leave dead FUSE mounts (ENOTCONN) in pytest's temporary
# folders, which would make pytest's own clean-up fail: detach those lazily first.
awk '$3 == "fuse.lp49" {print $2}' /proc/mounts | while read -r m; do
    case "$m" in /tmp/pytest-of-*|/tmp/lp49-demo-*) ;; *) continue ;; esac
    stat "$m" >/dev/null 2>&1 || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done
echo "== ruff"; .venv/bin/ruff check lp49fs kernel hwsim tests bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; exec .venv/bin/python -m pytest "$@"
