"""The daemon's pieces that need no mount: the ready pipe and the one-line reasons."""

from __future__ import annotations

import os
import pathlib
import socket

import pytest

from lp49fs.errors import Error
from lp49fs.fuse import daemon


def pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (daemon.READY_BYTE, (0, None)),
        (daemon.READY_BYTE + b"late noise", (0, None)),  # the first byte decides
        (b"node failed to boot: no disk", (1, "node failed to boot: no disk")),
        (b"", (1, "the daemon exited before it was serving")),  # died without a word
        (b"  \n", (1, "the daemon exited before it was serving")),
        (b"bad \xff utf-8", (1, "bad \ufffd utf-8")),
    ],
)
def test_wait_for_child(data: bytes, expect: tuple[int, str | None]) -> None:
    r = pipe_with(data)
    try:
        assert daemon.wait_for_child(r) == expect
    finally:
        os.close(r)


def test_ready_pipe_says_serving_once() -> None:
    r, w = os.pipe()
    ready = daemon.Ready(w)
    ready.serving("serving")
    ready.failed("too late")  # ignored: the word was given
    assert daemon.wait_for_child(r) == (0, None)
    assert os.read(r, 10) == b""  # and the pipe was closed
    os.close(r)


def test_ready_pipe_carries_the_failure() -> None:
    r, w = os.pipe()
    daemon.Ready(w).failed("mount/attach disallowed")
    assert daemon.wait_for_child(r) == (1, "mount/attach disallowed")
    os.close(r)


def test_foreground_ready_tells_systemd(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        s.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        ready = daemon.Ready(None)
        ready.serving("serving default on /mnt")
        ready.stopping("unmounting")
        assert s.recv(4096) == b"READY=1\nSTATUS=serving default on /mnt"
        assert s.recv(4096) == b"STOPPING=1\nSTATUS=unmounting"


def test_foreground_failure_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    daemon.Ready(None).failed("no such node config file")
    assert capsys.readouterr().err == "lp49 mount: no such node config file\n"


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (Error("file does not exist"), "file does not exist"),
        (RuntimeError("two\nlines"), "two lines"),
        (ValueError(), "ValueError"),
        (ExceptionGroup("boot", [Error("no disk"), Error("no net")]), "no disk"),
        (BaseExceptionGroup("x", [ExceptionGroup("y", [OSError(5, "EIO")])]), "[Errno 5] EIO"),
    ],
)
def test_one_line(exc: BaseException, line: str) -> None:
    assert daemon.one_line(exc) == line
