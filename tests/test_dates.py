"""The suite's date-sensitive tests pass on any date, in any time zone.

Tests that print or parse times (``ls -l``, ``date``, ``lp49 9p ls -l``, the pure format
tables) are run again in a child pytest under ``faketime`` (Debian's libfaketime, installed by
scripts/setup.sh) with the wall clock moved to another month and year and the time zone set to
one with a 45-minute offset.  The monotonic clock is moved too: it still advances at the real
rate, which is all trio needs, and leaving it real (``FAKETIME_DONT_FAKE_MONOTONIC=1``) makes
libfaketime 0.9.10 fail every ``time.sleep`` with EINVAL.  A test that hard-codes today's month,
assumes UTC or reads the wall clock where it should pin it fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

DATED = ["tests/test_cmd.py", "tests/test_cmd_fmt.py", "tests/test_cmd9p.py", "tests/test_sh.py"]


@pytest.mark.parametrize(
    ("when", "tz"),
    [("2027-03-15 10:00:00", "Asia/Kathmandu"), ("2031-07-31 23:59:30", "America/Sao_Paulo")],
)
def test_dated_tests_pass_on_another_date_and_zone(when: str, tz: str) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:  # setup.sh installs it: its absence is a broken set-up, not a skip
        pytest.fail("faketime is not installed (apt-get install faketime; see scripts/setup.sh)")
    env = {**os.environ, "TZ": tz}
    argv = [faketime, when, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            *DATED]  # fmt: skip
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout
    probe = subprocess.run([faketime, when, "date", "+%Y-%m"], env=env, capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert probe.stdout.strip() == when[:7]  # the child really saw the other date
