"""sd_notify(3) messages (lp49fs.host.sdnotify) received on real unix datagram sockets."""

from __future__ import annotations

import os
import pathlib
import socket
from collections.abc import Iterator

import pytest

from lp49fs.host import sdnotify


@pytest.fixture
def receiver(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket at a path, named by $NOTIFY_SOCKET as systemd would."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        s.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        yield s


def test_ready(receiver: socket.socket) -> None:
    assert sdnotify.ready()
    assert receiver.recv(4096) == b"READY=1"


def test_ready_with_status_is_one_datagram(receiver: socket.socket) -> None:
    assert sdnotify.ready("serving default on /mnt/lp49")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=serving default on /mnt/lp49"


def test_stopping_and_status(receiver: socket.socket) -> None:
    assert sdnotify.status("booting")
    assert sdnotify.stopping("unmounting")
    assert receiver.recv(4096) == b"STATUS=booting"
    assert receiver.recv(4096) == b"STOPPING=1\nSTATUS=unmounting"


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leading @ names an abstract socket: the @ becomes a NUL byte."""
    name = f"lp49-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready()
        assert s.recv(4096) == b"READY=1"


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert sdnotify.stopping() is False


def test_a_dead_socket_is_logged_not_raised(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sdnotify.ready() is False
    assert "sd_notify" in caplog.text
