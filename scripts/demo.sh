#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job: serve ramfs over 9P2000 and use it
# with the `lp49 9p` client, printing each command as it runs.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/scripts/setup.sh"
cd "$top"
lp49=.venv/bin/lp49
addr=${LP49_DEMO_ADDR:-tcp!127.0.0.1!5640}

$lp49 ramfs --listen "$addr" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do $lp49 9p -a "$addr" ls / >/dev/null 2>&1 && break; sleep 0.1; done

run() { printf '$ %s\n' "$*"; "$@"; }
run $lp49 9p -a "$addr" create /hello
echo "hello from 9P" | { printf '$ echo "hello from 9P" | lp49 9p -a %s write /hello\n' "$addr"; $lp49 9p -a "$addr" write /hello; }
run $lp49 9p -a "$addr" read /hello
run $lp49 9p -a "$addr" ls -l /
run $lp49 9p -a "$addr" stat /hello
