"""``lp49 console`` on a real terminal (tmux): ^C stops a runaway pipeline on the node and
the shell prompts again; ^] detaches.  The node is a real ``lp49 node`` daemon."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import skip_or_fail
from tests.test_node_daemon import LP49, _start, _stop, notify_socket
from tests.waiting import wait_until

__all__ = ["notify_socket"]


@pytest.fixture
def tmux(tmp_path: pathlib.Path) -> Iterator[list[str]]:
    """A private tmux server (its own socket), killed afterwards."""
    if shutil.which("tmux") is None:
        skip_or_fail("LP49_REQUIRE_ROOT", "needs tmux (scripts/setup.sh installs it)")
    cmd = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    try:
        yield cmd
    finally:
        subprocess.run([*cmd, "kill-server"], capture_output=True)


def pane(tmux: list[str]) -> str:
    r = subprocess.run([*tmux, "capture-pane", "-p", "-t", "c"], capture_output=True, text=True)
    return r.stdout


def prompts(tmux: list[str]) -> int:
    """Prompt lines on the screen (capture-pane drops the blank after ``%``)."""
    return sum(1 for line in pane(tmux).splitlines() if line == "%" or line.startswith("% "))


def pressing(tmux: list[str], key: str, every: float) -> Callable[[], None]:
    """A callable that sends ``key`` to the pane, at most once every ``every`` seconds."""
    last = [-every]

    def press() -> None:
        if time.monotonic() - last[0] >= every:
            subprocess.run([*tmux, "send-keys", "-t", "c", key], check=True)
            last[0] = time.monotonic()

    return press


def test_ctl_c_interrupts_the_node_and_ctl_bracket_detaches(
    tmp_path: pathlib.Path, notify_socket: socket.socket, tmux: list[str]
) -> None:
    path = tmp_path / "cons"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    node = _start(["--console", f"unix!{path}"], env=env)
    try:
        assert notify_socket.recv(4096).split(b"\n")[0] == b"READY=1"
        console = " ".join([*LP49, "console", f"unix!{path}"])
        subprocess.run([*tmux, "new-session", "-d", "-s", "c", "-x", "100", "-y", "30",
                        console], check=True)
        enter = pressing(tmux, "Enter", 0.2)  # until the client is attached and sh answers
        wait_until(lambda: enter() or prompts(tmux) > 0, "a prompt")
        subprocess.run([*tmux, "send-keys", "-t", "c", "cat /dev/bintime | wc", "Enter"],
                       check=True)
        wait_until(lambda: "cat /dev/bintime | wc" in pane(tmux), "the echo of the line")
        seen = prompts(tmux)
        ctlc = pressing(tmux, "C-c", 1)  # until the pipeline is gone and a new prompt shows
        wait_until(lambda: ctlc() or prompts(tmux) > seen, "a new prompt")
        subprocess.run([*tmux, "send-keys", "-t", "c", "echo alive $status", "Enter"],
                       check=True)
        wait_until(lambda: "alive interrupted" in pane(tmux), "the shell's answer")
        subprocess.run([*tmux, "send-keys", "-t", "c", "C-]"], check=True)
        wait_until(lambda: subprocess.run([*tmux, "has-session", "-t", "c"],
                                     capture_output=True).returncode != 0, "detach")
    finally:
        status, err = _stop(node)
    assert status == 0, err
    assert "Traceback" not in err
