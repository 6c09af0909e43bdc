"""One real FUSE view for a test module: ``lp49 mount default DIR`` as people run it.

The daemon is a separate (detached) process, so a test may use the mount with plain ``os``
calls or real tools.  ``mounted`` yields the mount point and, on the way out, unmounts and
kills whatever daemon is left; ``-o log=PATH`` is given so a failing test can show the log.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import have_fuse, skip_or_fail
from tests.waiting import wait_until

LP49 = pathlib.Path(sys.executable).parent / "lp49"  # the checkout under test, not /usr/local


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)  # type: ignore[call-overload, no-any-return]


def daemons(path: pathlib.Path) -> list[int]:
    """Pids of lp49 processes whose command line names ``path``."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = pathlib.Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmd and b"lp49" in cmd:
                out.append(int(d))
    return out


@contextmanager
def mounted(
    base: pathlib.Path, options: str = "", source: str = "default"
) -> Iterator[pathlib.Path]:
    """Mount ``source`` (the default node) at ``base/mnt`` (logging to ``base/view.log``)."""
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)
    mnt = base / "mnt"
    mnt.mkdir()
    opts = f"log={base / 'view.log'}" + (f",{options}" if options else "")
    r = run([str(LP49), "mount", source, str(mnt), "-o", opts])
    assert (r.returncode, r.stderr) == (0, ""), r
    try:
        yield mnt
    finally:
        if os.path.ismount(mnt):
            run(["fusermount3", "-u", "-z", str(mnt)])
        wait_until(lambda: not daemons(mnt), "the view's daemon to end")
        for pid in daemons(mnt):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def scratch(view: pathlib.Path, name: str, mode: int | None = None) -> Iterator[pathlib.Path]:
    """A fresh directory ``name`` in the view's /tmp (the node's ramfs), removed afterwards."""
    d = view / "tmp" / name.replace("[", "_").replace("]", "")
    d.mkdir()
    if mode is not None:
        os.chmod(d, mode)
    try:
        yield d
    finally:
        shutil.rmtree(d)
