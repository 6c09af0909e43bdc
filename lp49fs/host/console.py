"""``lp49 console unix!PATH``: attach this terminal to a running node's console socket.

The node serves its UART on a unix stream socket (``lp49 node --console unix!PATH``,
``hwsim.console.serve_unix``): every byte it prints goes to each connected client, and each
line a client writes is typed at the node's console.  This command is the client:

- stdin is copied to the socket as it arrives; on a terminal, host echo, line editing and
  signal keys are off meanwhile (the node's console echoes and cooks lines).  The
  backspace key (DEL on most terminals) is sent as BS; ^C is sent as DEL, the node's
  interrupt key (it posts ``interrupt`` to the foreground commands); ^D goes to the node
  (its shell's end of file); ^] detaches (exit status 0), as in telnet;
- the socket's bytes are copied to stdout as they arrive;
- after EOF on stdin the command keeps printing until the node has been quiet for
  ``LINGER`` seconds, so ``echo ls | lp49 console unix!PATH`` shows the answer (the socket
  is not half-closed: the node's console server ends a client at its EOF); EOF on the
  socket (the node went away) ends the command at once.

Exit status: 0 after EOF, 1 when the socket cannot be reached (one line on stderr), 2 for
usage.  Nothing here knows about the node: it is a plain socket client.
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
from collections.abc import Iterator

import trio

from hwsim.console import copy_input
from lp49fs.node import kdb

USAGE = "usage: lp49 console [--debug] unix!PATH"
DEL, BS, CTLC, DETACH = 0x7F, 0x08, 0x03, 0x1D  # DETACH: ^]
LINGER = 0.5  # after stdin ends: exit once the node printed nothing for this long


@contextlib.contextmanager
def terminal_mode(fd: int) -> Iterator[None]:
    """No host echo or line editing on terminal ``fd`` while the block runs (the node echoes)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG)  # the node echoes, cooks, DELs
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def typed(data: bytes) -> bytes:
    """Terminal bytes as the node's console wants them: DEL (the backspace key) as BS, ^C as
    DEL (the interrupt key); everything from a ^] on is not sent (the caller detaches)."""
    data = data.split(bytes((DETACH,)), 1)[0]
    return data.replace(bytes((DEL,)), bytes((BS,))).replace(bytes((CTLC,)), bytes((DEL,)))


class _Detach(Exception):
    """^] typed: stop copying stdin."""


async def _stdin_to(sock: trio.SocketStream) -> None:
    """Copy stdin to ``sock`` until EOF on stdin or a broken socket."""
    async def send(data: bytes) -> None:
        await sock.send_all(typed(data))
        if DETACH in data:
            raise _Detach

    fd = os.dup(0)
    try:
        await copy_input(fd, send)
    except (trio.BrokenResourceError, trio.ClosedResourceError, _Detach):
        return
    finally:
        os.close(fd)


async def attach(path: str) -> None:
    """Copy stdin to the console at ``path`` and its output to stdout until EOF."""
    sock = await trio.open_unix_socket(path)
    last = [trio.current_time()]  # when the node last printed
    async with sock, trio.open_nursery() as nursery:

        async def output() -> None:
            try:
                async for data in sock:
                    os.write(1, data)
                    last[0] = trio.current_time()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            nursery.cancel_scope.cancel()  # the node closed the console

        async def input() -> None:
            await _stdin_to(sock)
            last[0] = trio.current_time()
            while (idle := trio.current_time() - last[0]) < LINGER:
                await trio.sleep(LINGER - idle)
            nursery.cancel_scope.cancel()

        nursery.start_soon(output)
        nursery.start_soon(input)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--debug"] and len(argv) == 2 and argv[1].startswith("unix!"):
        return kdb.client(argv[1])  # the debug console (lp49fs.node.kdb)
    if len(argv) != 1 or not argv[0].startswith("unix!") or len(argv[0]) == 5:
        print(USAGE, file=sys.stderr)
        return 2
    path = argv[0][5:]
    try:
        with terminal_mode(0):
            trio.run(attach, path)
    except OSError as e:
        print(f"lp49 console: {path}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
