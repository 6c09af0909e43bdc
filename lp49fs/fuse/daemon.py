"""Mount first, then daemonize, then serve: the shape of libfuse's fuse_daemonize.

The order matters to whoever ran us (a person, mount(8), systemd):

1. ``mount.main`` parses, checks the mountpoint, resolves SOURCE and calls ``pyfuse3.init``,
   which mounts.  Each failure so far is one line on stderr and a non-zero exit, with no
   process left and nothing mounted.
2. ``detach`` forks.  The parent blocks on a pipe; the child calls setsid, chdir /, points
   stdio at /dev/null and keeps the FUSE session (its fd and pyfuse3's module state are
   inherited; one pyfuse3 session per process).  In the foreground (``-f``) there is no
   fork and no pipe.
3. ``run`` starts trio in the child: first the Session's own services (the node boots here,
   via ``nursery.start``), then ``pyfuse3.main`` and a signal watcher, and the mount's
   readahead is raised (``bdi``: only once the kernel has had FUSE INIT's answer, which
   would lower it again; a statvfs of the mount point from a worker thread waits for that,
   and unlike a stat leaves no attributes cached).
   Only then does the
   child say it is serving: ``READY_BYTE`` on the pipe (the parent exits 0), or READY=1 to
   systemd in the foreground.  If booting fails the child unmounts, writes its one-line
   reason on the pipe and exits; the parent prints it and exits 1.  EOF with nothing read
   (the child died) is also exit 1.

Shutdown.  Rule 1: SIGTERM, SIGINT and SIGHUP cancel the serving nursery (``pyfuse3.main``
and the node with it) and ``pyfuse3.close(unmount=True)`` unmounts.  The signal receiver is
installed before the child says it is serving, so a signal right after the parent exits is
not lost; cancelling, unlike ``pyfuse3.terminate()``, also works before ``main()`` has
started.  Rule 2: ``fusermount3 -u`` / ``umount`` end the kernel connection, so ``main()``
returns by itself and the same path runs (close finds nothing left to unmount).  Rule 3: an
exception after serving began closes with ``unmount=False`` (pyfuse3's tmpfs tail): the dead
mount stays, as after ``kill -9``, and ``fusermount3 -u`` clears it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pyfuse3
import trio

from lp49fs.fuse import bdi
from lp49fs.host import sdnotify

log = logging.getLogger(__name__)

READY_BYTE = b"\0"  # child -> parent: the mount is being served
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # Rule 1
MAX_TASKS = 1000  # pyfuse3 workers: blocked reads (cat /dev/cons) must not stall the mount

# An async function run by ``nursery.start``: boots what the view needs, calls
# ``task_status.started()``, then runs until cancelled.
StartFn = Callable[..., Awaitable[Any]]


class Ready:
    """The server's word to whoever started it: a parent on a pipe, or systemd.

    Exactly one of ``serving``/``failed`` takes effect; later calls are ignored.
    """

    def __init__(self, fd: int | None) -> None:
        self.fd = fd  # write end of the pipe to the waiting parent; None in the foreground
        self.said = False  # serving() or failed() has run

    def serving(self, status: str) -> None:
        if self.said:
            return
        self.said = True
        if self.fd is None:
            sdnotify.ready(status)
        else:
            os.write(self.fd, READY_BYTE)
            os.close(self.fd)

    def failed(self, line: str) -> None:
        if self.said:
            return
        self.said = True
        if self.fd is None:
            print(f"lp49 mount: {line}", file=sys.stderr, flush=True)
        else:
            os.write(self.fd, line.encode("utf-8", "replace")[:4000])
            os.close(self.fd)

    def stopping(self, status: str) -> None:
        if self.fd is None:
            sdnotify.stopping(status)


def wait_for_child(fd: int) -> tuple[int, str | None]:
    """Read the child's word from pipe ``fd``: (0, None) on READY_BYTE, else (1, reason)."""
    first = os.read(fd, 1)
    if first == READY_BYTE:
        return 0, None
    chunks = [first]
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace").strip()
    return 1, text or "the daemon exited before it was serving"


def detach() -> Ready:
    """Fork; only the child returns.  The parent exits 0 once the child serves, else 1."""
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    if os.fork() != 0:
        os.close(wfd)
        status, reason = wait_for_child(rfd)
        if reason is not None:
            print(f"lp49 mount: {reason}", file=sys.stderr, flush=True)
        os._exit(status)
    os.close(rfd)
    os.setsid()
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    os.close(null)
    return Ready(wfd)


def one_line(exc: BaseException) -> str:
    """A printable one-line reason for ``exc`` (the first leaf of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


async def _fuse_main(done: trio.CancelScope) -> None:
    await pyfuse3.main(max_tasks=MAX_TASKS)
    log.info("FUSE main loop ended")
    done.cancel()


async def _on_signal(
    ready: Ready, done: trio.CancelScope, *, task_status: trio.TaskStatus[None]
) -> None:
    with trio.open_signal_receiver(*SIGNALS) as received:
        task_status.started()
        async for signum in received:
            log.info("signal %s: unmounting", signal.Signals(signum).name)
            ready.stopping("unmounting")
            done.cancel()
            return


async def _readahead(mountpoint: str) -> None:
    """Step 3: the statvfs returns once INIT is answered; then the readahead may rise."""
    try:
        await trio.to_thread.run_sync(os.statvfs, mountpoint)
    except OSError as e:
        log.warning("readahead of %s stays at the default: %s", mountpoint, e)
        return
    bdi.raise_readahead(mountpoint)


async def _serve(start: StartFn, ready: Ready, status: str, mountpoint: str | None) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(_on_signal, ready, nursery.cancel_scope)
        await nursery.start(start)
        nursery.start_soon(_fuse_main, nursery.cancel_scope)
        if mountpoint is not None:
            await _readahead(mountpoint)
        ready.serving(status)


def run(
    start: StartFn, ready: Ready, status: str = "serving", mountpoint: str | None = None
) -> int:
    """Serve the mounted session until unmounted or signalled; the exit status.

    Precondition: ``pyfuse3.init`` has mounted (on ``mountpoint``, whose readahead is then
    raised; None leaves it).  ``status`` is the line systemd shows.
    """
    try:
        trio.run(_serve, start, ready, status, mountpoint)
    except BaseException as e:
        if not ready.said:  # failed while booting: nothing was served, take the mount down
            pyfuse3.close(unmount=True)
            ready.failed(one_line(e))
        else:  # Rule 3
            log.error("serving failed: %s", one_line(e), exc_info=e)
            pyfuse3.close(unmount=False)
        return 1
    pyfuse3.close(unmount=True)
    if not ready.said:  # a signal arrived while booting
        ready.failed("stopped by a signal before serving")
        return 1
    return 0
