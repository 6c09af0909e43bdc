"""The bounded chaos run: ``bench/chaos.py`` for one round of victims, in the suite.

The real rig of the bench (a FUSE view of a node with ramfs, a u9fs host server, a disk with
dossrv and ext2srv, and an import of a second node over TLS): one round kills each of ramfs,
u9fs, dossrv, ext2srv and the remote node once and stops the remote node once, in an order
drawn from the seed, while a writer per target rewrites files and reads them back.  Every
acknowledged write must be where it is durable afterwards (the view, the Linux directories,
the disk image read by mtools and debugfs), the node must live, and the client errors per
restart must stay within the issue's target of one.  One workload may see two at its single
restart (a write in flight fails, and a dossrv or u9fs kill can make a create or a read
answer "does not exist"; the cause is not found, docs/recovery.md), so a row is allowed two.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

from tests.conftest import have_fuse, skip_or_fail

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "chaos.py"
VICTIMS = ("ramfs", "unix", "dos", "ext2", "remote", "remote-stop")
GUARD = 300  # seconds: a hang guard for the whole run, never a measurement


def test_chaos_loses_no_acknowledged_write_and_the_node_lives(tmp_path: pathlib.Path) -> None:
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)
    argv = [sys.executable, str(BENCH), "--seconds", "1", "--rounds", "1", "--every", "0.5",
            "--dir", str(tmp_path)]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=GUARD)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    rows = {m.group(1): m.groups() for m in re.finditer(
        r"^(\S+) +(\d+) +(\S+) +(\S+) +(\S+) +", out, re.M) if m.group(1) in VICTIMS}  # fmt: skip
    assert sorted(rows) == sorted(VICTIMS), out
    for name, (_, kills, _, lost, per) in rows.items():
        assert int(kills) >= 1, out  # every target was hurt at least once
        if not name.endswith("-stop"):
            assert lost == "0", out
            assert float(per) <= 2, out
    assert "acknowledged writes lost: 0 " in out
    per_restart = re.search(r"^client errors per restart: (\S+) ", out, re.M)
    assert per_restart is not None and float(per_restart.group(1)) <= 1, out
    assert "node alive: yes" in out
