"""The FUSE mount daemon's lifecycle: fstat of an open file, and SIGTERM ends it with status 0.

``lp49 mount -f`` runs in the foreground so the test owns the process and its exit status.
The node's shutdown (``ProcMgr.shutdown``) must end every LP49 process, the FUSE bridge
included, without any task being started in a closed nursery.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import pytest

from tests.conftest import require_fuse
from tests.waiting import DEADLINE, wait_until

__all__ = ["require_fuse"]

LP49 = pathlib.Path(sys.executable).with_name("lp49")


@pytest.mark.fuse
def test_sigterm_unmounts_and_exits_zero(require_fuse: None, tmp_path: pathlib.Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    d = subprocess.Popen(
        [str(LP49), "mount", "-f", "default", str(mnt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: os.path.ismount(mnt) or d.poll() is not None, "the daemon to mount")
        assert d.poll() is None, d.communicate()
        fd = os.open(mnt / "dev" / "sysname", os.O_RDONLY)
        try:
            assert os.fstat(fd).st_mode & 0o444 and os.read(fd, 64)  # stat of an open file
        finally:
            os.close(fd)
        d.send_signal(signal.SIGTERM)
        _out, err = d.communicate(timeout=DEADLINE)
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
    assert d.returncode == 0, err
    assert "Traceback" not in err and "nursery" not in err, err
    assert not os.path.ismount(mnt)
