"""Node daemons for the demos, and a scripted client of a node's unix-socket console.

Theory of operation.  ``NodeProc.start`` runs ``lp49 node --name NAME --listen ADDR
--console unix!PATH`` as a subprocess (inside an emulated host: ``Hosts.argv``), in its own
session, its log in a file.  ``Console`` connects to the console socket and types commands
at the node's shell the way a person would, one line each:

    CMD; echo @@N $status @@

The node echoes what is typed (so the echoed line holds the literal ``$status``), runs CMD,
then prints ``@@N <status> @@`` with ``$status`` expanded and the next prompt: the text
between the echoed line and that marker is CMD's output, and the expanded status is empty
when CMD succeeded (rc's convention).  A marker never matches the echo, because the echo
contains a ``$``.

Rules:
1. Every wait has a deadline; a node that stops answering raises ``DemoError``, never hangs.
2. ``NodeProc.stop`` sends SIGTERM, waits, and kills the whole session if the node ignores
   it; it returns the exit status.  It is safe to call twice.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

BIN = pathlib.Path(sys.executable).parent / "lp49"
LP49 = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "lp49fs.host.cli"]


class DemoError(Exception):
    """A step of a demo did not work out; ``str(e)`` is one line."""


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``cond`` until it holds; DemoError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


class Console:
    """A scripted session on a node's console socket (see the module docstring)."""

    def __init__(self, path: str, timeout: float = 20) -> None:
        self.path, self.timeout, self.n, self.buf = path, timeout, 0, ""
        self.sock = socket.socket(socket.AF_UNIX)
        try:  # the node binds the socket a moment before it listens: retry a refusal
            wait_for(self._connect, timeout, f"console socket {path}")
        except BaseException:
            self.sock.close()
            raise

    def _connect(self) -> bool:
        try:
            self.sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        return True

    def run(self, cmd: str, timeout: float | None = None) -> tuple[str, str]:
        """Type ``cmd`` at the shell; (its output with ``\\n`` line ends, its $status)."""
        self.n += 1
        mark = f"@@{self.n}"
        self.sock.sendall(f"{cmd}; echo {mark} $status @@\n".encode())
        done = re.compile(rf"{mark} ([^$\r\n]*)@@\r\n% ")  # and the next prompt
        deadline = time.monotonic() + (timeout or self.timeout)
        while (m := done.search(self.buf)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DemoError(f"{self.path}: no answer to {cmd!r}; console shows {self.buf!r}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise DemoError(f"{self.path}: the node closed its console during {cmd!r}")
            self.buf += data.decode("utf-8", "replace")
        text, self.buf = self.buf[: m.start()], self.buf[m.end() :]
        echo = text.find(f"{mark} $status @@")
        if echo >= 0:
            nl = text.find("\n", echo)
            text = text[nl + 1 :] if nl >= 0 else ""
        return text.replace("\r\n", "\n"), m.group(1).strip()

    def close(self) -> None:
        self.sock.close()


class NodeProc:
    """One ``lp49 node`` subprocess."""

    def __init__(self, name: str, argv: list[str], cons: str, log: str) -> None:
        self.name, self.cons, self.log = name, cons, log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                         start_new_session=True)  # fmt: skip
        self.console: Console | None = None

    @classmethod
    def start(cls, name: str, wrap: Callable[[list[str]], list[str]], listen: str,
              workdir: str, extra: tuple[str, ...] = ()) -> NodeProc:  # fmt: skip
        """Boot node ``name`` listening on ``listen`` (more node options in ``extra``, e.g.
        ``--auth DIR``); ``wrap`` puts the argv in its host."""
        cons, log = os.path.join(workdir, f"{name}.cons"), os.path.join(workdir, f"{name}.log")
        argv = [*LP49, "node", "--name", name, "--listen", listen, "--console", f"unix!{cons}",
                *extra]  # fmt: skip
        return cls(name, wrap(argv), cons, log)

    def attach(self, timeout: float = 30) -> Console:
        """The node's console, once its shell answers (DemoError if the node died)."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.cons):
            if self.proc.poll() is not None:
                raise DemoError(f"node {self.name} exited {self.proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise DemoError(f"node {self.name}: no console after {timeout:.0f} s")
            time.sleep(0.02)
        self.console = Console(self.cons, timeout)
        self.console.run("echo ready")
        return self.console

    def tail(self, n: int = 3) -> str:
        """The last ``n`` lines of the node's log, on one line."""
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM the node and wait (SIGKILL its session after ``timeout``); exit status."""
        if self.console is not None:
            self.console.close()
            self.console = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode
