"""``lp49 mount SOURCE DIR [-o OPTS] [-f] [-d]``: show an LP49 name space on a Linux directory.

Also reached as ``mount.fuse.lp49 SOURCE DIR -o OPTS`` and ``lp49 SOURCE DIR -o OPTS`` (the
forms mount(8) and mount.fuse3 run; ``lp49fs.cli`` routes them here), so ``mount -t
fuse.lp49 default /mnt/lp49`` and the fstab line ``default /mnt/lp49 fuse.lp49
defaults,_netdev 0 0`` work.

The steps, each of which fails with one line ``lp49 mount: ...`` and a non-zero status:

1. ``options.parse_argv``: the command line and ``-o`` filter (status 2 for a bad shape).
2. ``absolute``: DIR and a config path become absolute (the daemon will chdir /).
3. ``check_mountpoint``: DIR exists, is a directory, is not mounted on already.
4. ``resolve`` -> ``Session``: what SOURCE names, ready to boot.  **This is the seam** where
   the node and the ``Operations`` class (``lp49fs/fuse/ops.py``) plug in: ``default`` is a
   ``NodeSession``; a dial string (``tcp!host!port``) is a ``NodeSession`` whose node is a
   terminal: its / is the remote node's exported / (``import``).  Tests pass
   their own resolver to ``main``.
5. ``pyfuse3.init`` mounts (``fsname=SOURCE``, ``subtype=lp49`` unless given), then
   ``daemon`` forks (unless ``-f``), boots the session and serves; see ``daemon``.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pyfuse3
import trio

from lp49fs.errors import Error
from lp49fs.fuse import daemon
from lp49fs.fuse.ops import Operations
from lp49fs.fuse.options import MountArgs, MountError, SourceKind, parse_argv
from lp49fs.lib import RFFDG, RFPROC
from lp49fs.node.boot import Node, boot

log = logging.getLogger(__name__)

BRIDGE = "fuse"  # the bridge's program name, as ps shows it


class Session(Protocol):
    """What a SOURCE resolves to: an Operations to serve and the services behind it."""

    @property
    def fsname(self) -> str:
        """Shown as the mount's source in /proc/mounts (usually SOURCE itself)."""

    @property
    def operations(self) -> pyfuse3.Operations:
        """The FUSE request handlers, given to pyfuse3.init."""

    async def run(self, *, task_status: Any = ...) -> None:
        """Boot (the node), call ``task_status.started()``, then run until cancelled."""


Resolver = Callable[[MountArgs], Session]


def resolve(args: MountArgs) -> Session:
    """The Session showing ``args.source``; MountError if it cannot exist.

    ``default`` boots the built-in node in this process (``NodeSession``); a dial string boots
    a terminal node that imports the remote's / over its own (no servers of its own).
    """
    src = args.source
    if src.kind is SourceKind.CONFIG and not os.path.isfile(src.text):
        raise MountError(f"SOURCE {src.text!r}: no such node config file")
    if src.kind is SourceKind.CONFIG:
        raise MountError(
            f"SOURCE {src.text!r}: node config files are not yet supported by lp49fs.node.boot "
            "(use 'default')"
        )
    if src.kind is SourceKind.DIAL and not src.text.startswith(("tcp!", "net!")):
        raise MountError(f"SOURCE {src.text!r}: only tcp! and net! addresses can be imported")
    if args.console is not None:
        raise MountError(f"option console={args.console}: not yet available in this build")
    return NodeSession(args)


class NodeSession:
    """The built-in node booted in the mount process, shown by an ``Operations`` process.

    ``run`` boots the node, finds the process whose name space to show (``pid=``/``proc=``,
    else the boot process) and spawns the bridge as its child *without* RFNAMEG, so the
    bridge shares that process's name space group and its binds show live.
    """

    def __init__(self, args: MountArgs) -> None:
        self.args = args
        self.fsname = args.source.text
        self.operations = Operations()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with boot() as node, trio.open_nursery() as supervisors:
            if self.args.source.kind is SourceKind.DIAL:
                await _import_root(node, self.args.source.text)
            else:
                await _start_servers(node, supervisors)
            node.programs[BRIDGE] = self.operations.serve
            await node.procmgr.spawn(self._shown(node), BRIDGE, [BRIDGE, self.args.mountpoint],
                                     RFFDG | RFPROC, None)  # fmt: skip
            await self.operations.ready.wait()
            task_status.started()
            await trio.sleep_forever()

    def _shown(self, node: Node):  # type: ignore[no-untyped-def]  # -> core Proc
        """The process whose name space the view shows (MountError if there is none)."""
        if self.args.pid is not None:
            p = node.core.procs.get(self.args.pid)
            if p is None:
                raise MountError(f"option pid={self.args.pid}: no such LP49 process")
            return p
        for p in node.core.procs.values():
            if p.name == self.args.proc:
                return p
        if self.args.proc is not None:
            raise MountError(f"option proc={self.args.proc}: no LP49 process of that name")
        return node.bootproc


async def _start_servers(node: Node, nursery: trio.Nursery) -> None:
    """The node's servers (ramfs posted as /srv/ramfs, mounted on /tmp), once they exist."""
    try:
        servers = importlib.import_module("lp49fs.node.servers")
    except ImportError:  # issue 4's lp49fs.node.servers has not landed in this build
        log.info("no lp49fs.node.servers: the node runs without servers")
        return
    await servers.start_servers(node, nursery)


async def _import_root(node: Node, dial: str) -> None:
    """A terminal node: the boot name space's / becomes the remote's / (``import``)."""
    status = await node.run("sh", ["sh", "-c", f"bind -a '#I' /net; import {dial} / /"])
    if status:
        raise Error(f"import {dial}: {status}")


def absolute(args: MountArgs) -> MountArgs:
    """``args`` with DIR and a config SOURCE made absolute."""
    source = args.source
    if source.kind is SourceKind.CONFIG:
        source = dataclasses.replace(source, text=os.path.abspath(source.text))
    return dataclasses.replace(args, source=source, mountpoint=os.path.abspath(args.mountpoint))


def check_mountpoint(path: str) -> None:
    """MountError unless ``path`` is an existing directory that is not a mount point."""
    try:
        os.stat(path)
    except FileNotFoundError:
        raise MountError(f"mountpoint {path} does not exist") from None
    except OSError as e:
        if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):  # the daemon died
            raise MountError(
                f"mountpoint {path} is a dead FUSE mount: clear it with fusermount3 -u {path}"
            ) from None
        raise MountError(f"mountpoint {path}: {e.strerror}") from None
    if not os.path.isdir(path):
        raise MountError(f"mountpoint {path} is not a directory")
    if os.path.ismount(path):
        raise MountError(f"mountpoint {path} is busy: something is mounted there already")


def fuse_options(args: MountArgs, session: Session) -> list[str]:
    """The options for pyfuse3.init: the user's, plus fsname and subtype by default."""
    opts = list(args.fuse_options)
    keys = {o.partition("=")[0] for o in opts}
    if "fsname" not in keys:
        opts.append("fsname=" + session.fsname.replace("\\", "\\\\").replace(",", "\\,"))
    if "subtype" not in keys:
        opts.append("subtype=lp49")
    return opts


def mount(args: MountArgs, session: Session) -> None:
    """Mount ``session`` on ``args.mountpoint`` (pyfuse3.init); MountError if libfuse refuses."""
    try:
        pyfuse3.init(session.operations, args.mountpoint, set(fuse_options(args, session)))
    except RuntimeError as e:  # libfuse has printed its own "fuse: ..." line too
        raise MountError(f"cannot mount on {args.mountpoint}: {e}") from None


def main(argv: Sequence[str], resolve: Resolver = resolve) -> int:
    """Run the mount helper; the exit status (0 once the mount is served)."""
    try:
        args = absolute(parse_argv(argv))
        logging.basicConfig(
            level=logging.DEBUG if args.debug else logging.WARNING,
            format="lp49 mount: %(name)s: %(message)s",
        )
        check_mountpoint(args.mountpoint)
        session = resolve(args)
        mount(args, session)
    except MountError as e:
        print(f"lp49 mount: {e}", file=sys.stderr)
        return e.status
    ready = daemon.Ready(None) if args.foreground else daemon.detach()
    return daemon.run(session.run, ready, f"serving {session.fsname} on {args.mountpoint}")
