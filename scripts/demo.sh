#!/usr/bin/env bash
# Set up (scripts/setup.sh), then the main job: boot the built-in default node inside a FUSE
# mount, its console on a unix socket, and take a short tour from the Linux side.
# The node stays mounted afterwards; the last lines say how to use it and how to unmount.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/scripts/setup.sh"
cd "$top"
lp49=$top/.venv/bin/lp49
mnt=${LP49_MNT:-/mnt/lp49}
cons=${LP49_CONSOLE:-/tmp/lp49-default.cons}

if grep -qs " $mnt fuse.lp49 " /proc/mounts; then
    echo "demo: unmounting the node already at $mnt"
    fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
fi
mkdir -p "$mnt"

say() { printf '\n$ %s\n' "$*"; }
run() { say "$*"; "$@"; }
typed() {  # type a line at the node's console; show what the node answers
    printf '\n[node console] %% %s\n' "$1"
    printf '%s\n' "$1" | "$lp49" console "unix!$cons" | tr -d '\r' | grep -v '^% *$' || true
}

# The view shows the name space of the node's shell (proc=sh), so what is typed at the
# console is seen from Linux at once.
run "$lp49" mount default "$mnt" -o "console=unix!$cons,proc=sh"
run ls "$mnt"
run ls "$mnt/srv"
run ls "$mnt/dev"
run ls "$mnt/proc"
say cat "$mnt/dev/sysname"; cat "$mnt/dev/sysname"; echo
say "echo hello from Linux > $mnt/env/greeting"; echo hello from Linux > "$mnt/env/greeting"
run cat "$mnt/env/greeting"
say "echo a note > $mnt/tmp/note   # /tmp is ramfs, a 9P server process in the node"
echo a note > "$mnt/tmp/note"
run ls -l "$mnt/tmp"
typed "echo \$greeting; cat /tmp/note"
run ls "$mnt/n"
say "echo one line per demo run >> $mnt/n/c/runs.txt   # /n/c: dossrv on a FAT partition"
echo one line per demo run >> "$mnt/n/c/runs.txt"
run cat "$mnt/n/c/runs.txt"
typed "ls -l /n/c"
typed "bind '#|' /mnt"
run ls -l "$mnt/mnt"
typed "ns"

cat <<MSG

The default node is mounted at $mnt.
  its console:   $lp49 console unix!$cons      (a shell; DEL or ^C interrupts, ^] detaches)
  look around:   ls $mnt/proc/*/status; cat $mnt/proc/1/ns
  its disk:      $mnt/n/c is the FAT partition of c.img in \$LP49_STATE, /var/lib/lp49 or
                 ~/.local/state/lp49; what is written there is kept for the next boot
  unmount:       fusermount3 -u $mnt           (stops the node)
MSG
