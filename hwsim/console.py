"""Attach a UART to the host: the daemon's terminal, a pseudo-terminal, or a unix socket.

Each helper is a trio task that copies host input into ``Uart.feed`` and attaches an output
sink for the other direction; cancelling the task detaches it.  ``copy_input(fd, put)`` is
the input half on its own (``lp49 node``'s stdio console and ``lp49 console`` use it too).

- ``attach_stdio(uart)``: this process's stdin/stdout (the daemon's terminal).
- ``open_pty(uart)``: makes a pty pair; returns the slave path (``screen``/``picocom`` can
  open it) and the task that serves the master side.
- ``serve_unix(uart, path)``: a unix-socket console.  Every connected client gets the output;
  a line a client writes is typed at the console (fed to the UART, newline included).
  DEL (0x7F), the interrupt key, is typed at once, and drops the partial line before it
  (as the line discipline would).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import trio

from hwsim.uart import Uart

DEL = b"\x7f"  # the interrupt key: typed at once, not held back with the line


async def copy_input(rfd: int, put: Callable[[bytes], Awaitable[None]]) -> None:
    """Hand each piece read from fd ``rfd`` to ``put`` until EOF, a read error or cancel.

    ``rfd`` is made non-blocking and waited on with trio, so no thread sits in read(2); the
    caller keeps ownership of the fd (and closes it).  A read error ends the copy like EOF.
    """
    os.set_blocking(rfd, False)
    while True:
        await trio.lowlevel.wait_readable(rfd)
        try:
            data = os.read(rfd, 4096)
        except BlockingIOError:
            continue
        except OSError:
            return
        if not data:
            return
        await put(data)


async def _pump_fd(uart: Uart, rfd: int, wfd: int) -> None:
    """Copy fd ``rfd`` into the UART and UART output to ``wfd`` until EOF or cancel."""

    def sink(data: bytes) -> None:
        try:
            os.write(wfd, data)
        except OSError:
            pass  # the host side went away; output is dropped like on an unplugged line

    async def feed(data: bytes) -> None:
        uart.feed(data)

    detach = uart.attach_output(sink)
    try:
        await copy_input(rfd, feed)
    finally:
        detach()


async def attach_stdio(uart: Uart) -> None:
    """Connect the UART to this process's stdin and stdout (runs until stdin EOF)."""
    await _pump_fd(uart, os.dup(0), 1)


def open_pty(uart: Uart) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Make a pty for the UART; returns (slave path, task serving the master side)."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)

    async def serve() -> None:
        try:
            await _pump_fd(uart, master, master)
        finally:
            os.close(master)
            os.close(slave)

    return path, serve


async def serve_unix(
    uart: Uart, path: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the console on a unix socket at ``path`` (one line written = one line typed)."""
    if os.path.exists(path):
        os.unlink(path)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen()
    listener = trio.SocketListener(sock)
    async with listener:
        task_status.started()

        async def handler(stream: trio.SocketStream) -> None:
            await _serve_client(uart, stream)

        await trio.serve_listeners(handler, [listener])


async def _serve_client(uart: Uart, stream: trio.abc.Stream) -> None:
    send, recv = trio.open_memory_channel[bytes](256)

    def sink(data: bytes) -> None:
        try:
            send.send_nowait(data)
        except trio.WouldBlock:
            pass  # a slow client loses output rather than stalling the machine

    detach = uart.attach_output(sink)
    try:
        async with trio.open_nursery() as nursery:

            async def writer() -> None:
                async for data in recv:
                    await stream.send_all(data)

            nursery.start_soon(writer)
            pending = b""
            async for chunk in stream:
                pending += chunk
                if DEL in pending:  # the interrupt key goes at once; it drops the line
                    pending = pending.rsplit(DEL, 1)[1]
                    uart.feed(DEL)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    uart.feed(line + b"\n")
            if pending:
                uart.feed(pending)
            nursery.cancel_scope.cancel()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        detach()
        await trio.aclose_forcefully(stream)
