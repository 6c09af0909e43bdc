"""What the FUSE daemon and the node say, and where: log files, the request trace, EIO.

A mounted daemon's stdio is /dev/null, so these read the file named by ``-o log=PATH`` /
``--log PATH``: the ``-o debug`` trace of real requests with the system calls they made,
every EIO with the error string behind it, and the node's own lines.
"""

from __future__ import annotations

import errno
import logging
import pathlib
import re
import signal
import socket
import subprocess

import pyfuse3
import pytest

from lp49fs.errors import Egreg, Error
from lp49fs.fuse.calls import syscall
from lp49fs.host import hostlog
from tests.conftest import have_fuse, skip_or_fail
from tests.fuse_view import LP49, run
from tests.waiting import DEADLINE, wait_until


class Bridge:
    """The smallest handler owner ``syscall`` serves: a bound thread and two handlers."""

    ut = object()

    async def actor(self, op: str, args: tuple[object, ...]) -> object:
        return self.ut  # every request acts as the one thread

    @syscall
    async def read(self, fh: int, off: int, size: int) -> bytes:
        raise Error(Egreg)  # what a server's crashed backend answers (lib9p: Eio) ...

    @syscall
    async def lookup(self, parent: int, name: bytes) -> int:
        raise Error(f"'/{name.decode()}' file does not exist")


async def test_every_eio_is_logged_with_its_string(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lp49fs.fuse")
    with pytest.raises(pyfuse3.FUSEError) as e:
        await Bridge().read(7, 0, 4096)  # type: ignore[arg-type]
    assert e.value.errno == errno.EIO
    assert "read(7, 0, 4096): EIO: the front fell off" in caplog.text.replace("'", "")
    caplog.clear()
    with pytest.raises(pyfuse3.FUSEError) as e:
        await Bridge().lookup(1, b"x")  # type: ignore[arg-type]
    assert e.value.errno == errno.ENOENT and caplog.text == ""  # not an I/O error: quiet


def test_debug_traces_requests_and_their_system_calls(tmp_path: pathlib.Path) -> None:
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "view.log"
    p = subprocess.Popen([str(LP49), "mount", "default", str(mnt), "-o", f"debug,log={log}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until(lambda: mnt.is_mount() or p.poll() is not None, "the foreground mount")
        assert p.poll() is None, p.stderr.read() if p.stderr else ""
        assert run(["cat", str(mnt / "dev" / "sysname")]).stdout == "lp49"
        assert run(["cat", str(mnt / "nonexistent")]).returncode != 0
    finally:
        run(["fusermount3", "-u", str(mnt)])
        try:
            p.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
        if p.stderr:
            p.stderr.close()
    text = log.read_text()
    assert "> lookup(1, b'dev'" in text, text
    # a lookup walks the name from the directory's walked fd: the call, then (fd, nsvers, n)
    assert re.search(r"  walk\('sysname', [0-9, ]+\) -> \(\d+, \d+, \d+\)", text)
    assert "pread(" in text and "< b'lp49'" in text
    assert re.search(r"walk\('nonexistent'.*\) -> error .'nonexistent' does not exist", text)
    assert "< ENOENT" in text


def test_node_log_file(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "node.log"
    p = subprocess.Popen([str(LP49), "node", "--console", "none", "--log", str(log)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until(lambda: log.exists() and "shell prompt" in log.read_text(), "the node's log")
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=DEADLINE)
    assert err == b""  # everything went to the file
    assert "SIGTERM: shutting down" in log.read_text()
    r = run([str(LP49), "node", "--log", str(tmp_path / "no" / "such.log")])
    assert r.returncode == 1 and "log file" in r.stderr and "No such file" in r.stderr


def test_a_detached_daemon_logs_to_syslog(tmp_path: pathlib.Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Without a log file, detaching swaps stderr for the syslog socket (a real datagram
    socket standing in for /dev/log, which this machine lacks)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "log"
    sock.bind(str(path))
    sock.settimeout(10)
    monkeypatch.setattr(hostlog, "SYSLOG", str(path))
    root = logging.getLogger()
    saved = root.level
    try:
        hostlog.setup("lp49 mount", None, False, quiet=logging.WARNING)
        hostlog.detached("lp49 mount")
        logging.getLogger("lp49fs.fuse.calls").warning("lookup(1): EIO: %r", "i/o error")
        line = sock.recv(4096).decode()
        assert "lp49 mount[" in line and "lookup(1): EIO: 'i/o error'" in line
        assert not [h for h in root.handlers if type(h) is logging.StreamHandler
                    and getattr(h, "lp49", False)]  # fmt: skip
    finally:
        for h in [h for h in root.handlers if getattr(h, "lp49", False)]:
            root.removeHandler(h)
            h.close()
        root.setLevel(saved)
        sock.close()
