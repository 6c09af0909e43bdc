"""Bulk I/O through a real FUSE view: a 1 MiB read or write is a few requests, not dozens.

The view is ``lp49 mount default DIR`` on the classic path (``LP49_BUS=0``, so each read is a
system call to the core and Treads on the pipe to ramfs).  ``lp49 trace`` records every FUSE
request of one ``dd`` process and everything below it; the test counts the FUSE reads and
writes and the Treads and Twrites they caused.  Counting requests, not time: a 1 MiB request
is what ``max_pages`` (256 pages, libfuse 3.14 on Linux >= 4.20) and a 1 MiB readahead
(``lp49fs.fuse.bdi``) allow, and each one is two ``MAXIO`` system calls, each one Tread of
the negotiated msize.  Every file-system access runs in a subprocess.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Iterator

import pytest

from lp49fs.fuse import bdi
from lp49fs.fuse.tracectl import sockpath
from tests.fuse_view import LP49, mounted, run
from tests.waiting import wait_until

pytestmark = pytest.mark.fuse

MIB = 1 << 20
DROP = "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,4)"


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    base = tmp_path_factory.mktemp("bulk")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LP49_BUS", "0")
        with mounted(base) as mnt:
            mp.undo()
            wait_until(lambda: os.path.exists(sockpath(str(mnt))), "the view's trace socket")
            yield mnt


def traced(view: pathlib.Path, cmd: list[str]) -> str:
    r = run([str(LP49), "trace", "-m", str(view), "--", *cmd])
    assert r.returncode == 0, r.stderr
    return r.stderr


def requests(text: str, op: str) -> list[str]:
    """The titles of the traced FUSE requests named ``op``."""
    return re.findall(rf"^trace: FUSE {op}\(.*$", text, re.M)


def test_the_view_reads_ahead_a_mebibyte(view: pathlib.Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("only root may set a mount's readahead (LP49_REQUIRE_ROOT)")
    dev = bdi.device(str(view))
    assert dev is not None
    assert int(pathlib.Path(bdi.BDI.format(dev)).read_text()) == bdi.READAHEAD_KB


def test_a_mebibyte_write_and_a_cold_read_are_few_requests(view: pathlib.Path) -> None:
    f = view / "tmp" / "bulk"
    w = traced(view, ["dd", "if=/dev/zero", f"of={f}", "bs=1M", "count=4", "status=none"])
    writes = requests(w, "write")
    assert 4 <= len(writes) <= 8, writes  # 1 MiB each (at most two, were it split)
    assert os.path.getsize(f) == 4 * MIB
    assert run(["python3", "-c", DROP, str(f)]).returncode == 0  # cold: no cached pages
    r = traced(view, ["dd", f"if={f}", "of=/dev/null", "bs=1M", "count=4", "status=none"])
    reads = requests(r, "read")
    assert 1 <= len(reads) <= 8, reads  # 128 KiB readahead would be 32
    assert sum(int(x) for x in re.findall(r"size=(\d+)", " ".join(reads))) >= 4 * MIB
    treads = len(re.findall(r"Tread tag ", r))
    assert 1 <= treads <= 16, treads  # each FUSE read: two MAXIO preads, one Tread each


def test_o_direct_reads_a_mebibyte_in_one_request(view: pathlib.Path) -> None:
    f = view / "tmp" / "direct"
    f.write_bytes(os.urandom(2 * MIB))
    r = traced(view, ["dd", f"if={f}", "of=/dev/null", "bs=1M", "count=2", "iflag=direct",
                "status=none"])  # fmt: skip
    reads = requests(r, "read")
    assert len(reads) == 2, reads  # max_pages = 256: one request per 1 MiB read(2)


def test_device_is_found_in_mountinfo_escapes_and_all(tmp_path: pathlib.Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "27 1 253:0 / / rw - ext4 /dev/vda rw\n"
        "50 27 0:47 / /tmp/a\\040b rw,nosuid - fuse.lp49 default rw\n"
        "51 50 0:48 / /tmp/a\\040b rw - fuse.lp49 default rw\n"
    )
    assert bdi.device("/tmp/a b", str(info)) == "0:48"  # the mount on top
    assert bdi.device("/tmp/none", str(info)) is None
