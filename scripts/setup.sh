#!/usr/bin/env bash
# Set up everything lp49fs needs on a Debian machine, idempotently:
#   1. Debian packages (FUSE 3 and its headers for pyfuse3, network and disk tools);
#   2. .venv with lp49fs installed editable, with its test extra;
#   3. .peers/<name>: one virtual environment per third-party 9P peer, because
#      python-9p and p9fs both install a top-level module named py9p.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

APT_PACKAGES=(fuse3 libfuse3-dev pkg-config gcc python3-dev python3-venv
              iproute2 diod dosfstools mtools e2fsprogs fdisk procps psmisc util-linux
              faketime rsync sqlite3 tar librsvg2-bin iputils-ping curl tmux)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.lp49fs-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing lp49fs and its test extra into .venv"
    .venv/bin/pip install -q --upgrade pip >/dev/null
    .venv/bin/pip install -q -e '.[test]'
    touch "$stamp"
fi

# Third-party 9P peers, each in its own environment.
peer() {  # peer NAME PIP-SPEC...
    local name=$1; shift
    if [ ! -f ".peers/$name/.installed" ]; then
        echo "setup: installing peer $name"
        rm -rf ".peers/$name"
        "$PY" -m venv ".peers/$name"
        ".peers/$name/bin/pip" install -q "$@"
        touch ".peers/$name/.installed"
    fi
}
peer python-9p python-9p==0.1.0
peer p9fs p9fs==0.0.4
peer aio9p aio9p==0.3.3

# mount(8) looks for /sbin/mount.fuse.lp49; mount.fuse3 looks for 'lp49' on the system PATH.
# LP49_SKIP_LINKS=1 leaves the links alone (a second checkout on the same machine).
if [ "${LP49_SKIP_LINKS:-0}" != 1 ] && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    for link in /sbin/mount.fuse.lp49:mount.fuse.lp49 /usr/local/bin/lp49:lp49; do
        dst=${link%%:*}; src="$top/.venv/bin/${link##*:}"
        if [ -x "$src" ] && [ "$(readlink "$dst" 2>/dev/null)" != "$src" ]; then
            as_root ln -sf "$src" "$dst"
        fi
    done
fi
