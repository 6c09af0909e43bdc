"""``lp49 node`` as a real subprocess: a script typed through its unix-socket console, the
``lp49 console`` client, the stdio console and its boot time, READY=1 to a real
NOTIFY_SOCKET, and SIGTERM/SIGINT ending it with status 0 and nothing left behind."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.waiting import DEADLINE, wait_until

BIN = pathlib.Path(sys.executable).parent / "lp49"  # the console script
LP49 = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "lp49fs.host.cli"]
SCRIPT = b"bind -a '#c' /dev; ls /srv; echo hello > /tmp/x; cat /tmp/x; ns\n"
NS_EXPECTED = [
    "bind  '#c' /dev",
    "bind -c '#e' /env",
    "bind  '#p' /proc",
    "bind -c '#s' /srv",
    "mount -c '#s/ramfs' /tmp",
    "bind -a '#c' /dev",
    "cd /",
]


def _start(
    args: list[str], env: dict[str, str] | None = None, stdio: int | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*LP49, "node", *args], start_new_session=True, env=env,
                            stdin=stdio, stdout=stdio, stderr=subprocess.PIPE)  # fmt: skip


def _stop(p: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[int, str]:
    """Signal the node, wait; returns (status, stderr) and checks its group is gone."""
    p.send_signal(sig)
    try:
        p.wait(timeout=DEADLINE)  # its stderr is a few log lines: the pipe cannot fill
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise AssertionError(f"node ignored signal {sig}") from None
    finally:
        assert p.stderr is not None
        err = p.stderr.read()
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None and not f.closed:
                f.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(p.pid, 0)  # no process of its session is left
    return p.returncode, err.decode()


def _read_until(s: socket.socket, marker: bytes, timeout: float = DEADLINE) -> bytes:
    s.settimeout(timeout)
    out = b""
    while marker not in out:
        data = s.recv(65536)
        assert data, f"console closed; got {out!r}"
        out += data
    return out


def _connect(path: pathlib.Path, timeout: float = DEADLINE) -> socket.socket:
    """A connection to the node's console socket, once it accepts: the file appears at bind,
    before listen, so a connect in between is refused (a readiness condition, not a sleep)."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(str(path))
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            assert time.monotonic() < end, f"{path} never accepted"
            time.sleep(0.01)
        except BaseException:
            s.close()
            raise


@pytest.fixture
def notify_socket(tmp_path: pathlib.Path) -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "notify"))
    s.settimeout(DEADLINE)
    yield s
    s.close()


def test_script_typed_at_the_unix_socket_console(
    tmp_path: pathlib.Path, notify_socket: socket.socket
) -> None:
    path = tmp_path / "cons"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    p = _start(["--console", f"unix!{path}", "--name", "helix"], env=env)
    try:
        assert notify_socket.recv(4096).split(b"\n")[0] == b"READY=1"  # once sh prompted
        assert path.exists()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(SCRIPT)
            out = _read_until(s, b"cd /\r\n% ").decode().replace("\r\n", "\n")
            s.sendall(b"cat /dev/sysname; echo\n")
            assert b"\r\nhelix\r\n" in _read_until(s, b"helix\r\n")
        lines = out.splitlines()
        assert lines[0] == SCRIPT.decode().rstrip("\n")  # the console echoes what is typed
        # the default node's disk (lp49fs/host/cdisk.py) adds dossrv and the ramfs on /n
        assert lines[1:5] == ["/srv/dos", "/srv/n", "/srv/ramfs", "hello"]
        ns = lines[5:]
        assert [ln for ln in ns if ln in NS_EXPECTED] == NS_EXPECTED
        assert [ln for ln in ns if " /n/c " in ln], ns
        assert ns[-2:] == ["cd /", "% "]

        r = subprocess.run([*LP49, "console", f"unix!{path}"], input=b"cat /tmp/x\n",
                           capture_output=True, timeout=30)  # fmt: skip
        assert r.returncode == 0
        assert b"hello" in r.stdout.split(b"cat /tmp/x")[-1]
    finally:
        status, err = _stop(p)
    assert status == 0, err
    assert "SIGTERM: shutting down" in err
    assert "Traceback" not in err
    assert not path.exists()  # the socket is removed


def test_stdio_console_boots_to_a_prompt_and_sigint_stops_it() -> None:
    t0 = time.monotonic()
    p = _start([], stdio=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    try:
        out = b""
        while not out.endswith(b"% "):
            data = os.read(p.stdout.fileno(), 4096)
            assert data, out
            out += data
        took = time.monotonic() - t0
        print(f"\nlp49 node: process start to shell prompt on stdout: {took:.3f} s")
        p.stdin.write(b"echo $sysname on stdio\n")
        p.stdin.flush()
        while b"lp49 on stdio\r\n% " not in out:
            out += os.read(p.stdout.fileno(), 4096)
        pipe = os.readlink(f"/proc/{p.pid}/fd/0")
        p.stdin.close()  # EOF on the terminal does not stop the node
        wait_until(lambda: readers_of(p.pid, pipe) == 1, "the node to see EOF on stdin "
                   "(its copy of fd 0 closed)")
        assert p.poll() is None
    finally:
        status, err = _stop(p, signal.SIGINT)
    assert status == 0, err
    assert "shell prompt" in err and "SIGINT: shutting down" in err


def readers_of(pid: int, target: str) -> int:
    """How many of process ``pid``'s file descriptors are ``target`` (e.g. ``pipe:[123]``)."""
    fds = pathlib.Path(f"/proc/{pid}/fd")
    n = 0
    for fd in fds.iterdir():
        try:
            n += os.readlink(fd) == target
        except OSError:
            pass  # closed meanwhile
    return n


def test_lp49_console_reports_a_missing_socket(tmp_path: pathlib.Path) -> None:
    r = subprocess.run([*LP49, "console", f"unix!{tmp_path}/none"], capture_output=True,
                       timeout=30)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.decode().startswith(f"lp49 console: {tmp_path}/none: ")
    r = subprocess.run([*LP49, "console", "tcp!h!1"], capture_output=True, timeout=30)
    assert (r.returncode, r.stderr) == (2, b"usage: lp49 console [--debug] unix!PATH\n")


def test_a_config_file_names_the_node_its_servers_and_its_namespace_file(
    tmp_path: pathlib.Path,
) -> None:
    cons = tmp_path / "cons"
    (tmp_path / "scratch.ns").write_text(
        "bind #c /dev\nbind -c #s /srv\nbind #p /proc\n# $sysname comes from #e\n"
        "mount -c /srv/$sysname /n\n"
    )
    (tmp_path / "scratch.toml").write_text(f"""
[node]
name = "scratch"
namespace = "scratch.ns"
[console]
attach = "unix!{cons}"
[[servers]]
prog = "ramfs"
args = ["-S", "scratch"]
srvname = "scratch"
""")
    p = _start([str(tmp_path / "scratch.toml")])
    try:
        with _connect(cons) as s:
            s.sendall(b"ls /srv; echo x > /n/f; cat /n/f; ls /tmp; echo end\n")
            out = _read_until(s, b"\r\nend\r\n").decode().replace("\r\n", "\n")
        out = out[:out.index("\nend\n") + 5]  # the next prompt may come in the same read
        answer = out.split("echo end\n", 1)[1]  # what follows the echo of the typed line...
        answer = answer.removeprefix("% ")  # ...and the first prompt, if sh started after it
        assert answer.splitlines() == ["/srv/scratch", "x", "end"]  # /tmp: nothing mounted
    finally:
        status, err = _stop(p)
    assert status == 0, err
