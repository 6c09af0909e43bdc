"""The bounded chaos run: ``bench/chaos.py`` for a few seconds, in the suite.

A real FUSE view of the default node; its ramfs is killed through the view every 1.5 s while
a writer rewrites files and reads them back.  Several restarts in a row exercise a mount that
is carried from one server to the next and the next (``#M`` recovery of a recovered mount).
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

from tests.conftest import have_fuse, skip_or_fail

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "chaos.py"


def test_chaos_loses_no_acknowledged_write_and_the_node_lives() -> None:
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)
    r = subprocess.run([sys.executable, str(BENCH), "--seconds", "8", "--every", "1.5"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    kills = int(re.search(r"(\d+) kills of ramfs", out).group(1))  # type: ignore[union-attr]
    assert kills >= 3, out
    assert "acknowledged writes lost: 0 " in out
    per = float(re.search(r"client errors per restart: ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    assert per <= 1, out
    assert "node alive: yes" in out
