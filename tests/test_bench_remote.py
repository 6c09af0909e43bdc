"""bench/remote.py runs: a short run prints every loopback row and the TLS ratio line.

The benchmark is a script that asserts no time; this checks only that it still works end to
end (two remote nodes, a plain and a TLS import side by side), so it cannot rot between the
runs that measure.  The numbers it prints are not looked at.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "remote.py"


def test_short_run_prints_every_row_and_the_tls_ratio() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--seconds", "0.1", "--no-netns"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:-1]]
    assert rows == ["local", "loopback", "loopback+tls"], r.stdout
    assert re.fullmatch(r"TLS / plain loopback: small \d+\.\d\d, 1 MiB \d+\.\d\d \(.*\)",
                        r.stdout.splitlines()[-1]), r.stdout  # fmt: skip
