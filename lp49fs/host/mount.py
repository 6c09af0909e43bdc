"""``lp49 mount SOURCE DIR [-o OPTS] [-f] [-d]``: show an LP49 name space on a Linux directory.

Also reached as ``mount.fuse.lp49 SOURCE DIR -o OPTS`` and ``lp49 SOURCE DIR -o OPTS`` (the
forms mount(8) and mount.fuse3 run; ``lp49fs.host.cli`` routes them here), so ``mount -t
fuse.lp49 default /mnt/lp49`` and the fstab line ``default /mnt/lp49 fuse.lp49
defaults,_netdev 0 0`` work.

The steps, each of which fails with one line ``lp49 mount: ...`` and a non-zero status:

1. ``options.parse_argv``: the command line and ``-o`` filter (status 2 for a bad shape).
2. ``absolute``: DIR and a config path become absolute (the daemon will chdir /).
3. ``check_mountpoint``: DIR exists, is a directory, is not mounted on already.
4. ``resolve`` -> ``Session``: what SOURCE names, ready to boot.  **This is the seam** where
   the node and the ``Operations`` class (``lp49fs/fuse/ops.py``) plug in: ``default`` and a
   node TOML file (``lp49fs.node.config.load``) are a ``NodeSession`` that boots that node
   as ``lp49 node`` does, with the same function (``lp49fs.host.node.start``: servers,
   host servers, disks, ``$auth``, ``init`` with the namespace file, exportfs if it
   listens); a dial string (``tcp!host!port``) is a ``NodeSession`` whose node is a
   terminal: its / is the remote node's exported / (``import``).  ``-o console=unix!PATH``
   serves the node's console on a unix socket (``lp49 console unix!PATH`` attaches; the
   socket is removed at exit); the default is no console.  Tests pass their own resolver to
   ``main``.
5. ``pyfuse3.init`` mounts (``fsname=SOURCE``, ``subtype=lp49`` unless given), then
   ``daemon`` forks (unless ``-f``), boots the session and serves (raising the mount's
   readahead to 1 MiB first when root mounts, ``lp49fs.fuse.bdi``); see ``daemon``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pyfuse3
import trio

from lp49fs.errors import Error
from lp49fs.fuse import daemon, tracectl
from lp49fs.fuse.attr import Owners
from lp49fs.fuse.ops import Operations
from lp49fs.fuse.options import MountArgs, MountError, SourceKind, parse_argv
from lp49fs.fuse.users import CALLER, Callers
from lp49fs.host import cdisk, hostlog
from lp49fs.host.node import attach_console, bootargs
from lp49fs.host.node import start as start_node
from lp49fs.lib import RFFDG, RFNOWAIT, RFPROC
from lp49fs.node import config, kdb
from lp49fs.node.boot import PRIFUSE, Node, boot

log = logging.getLogger(__name__)

BRIDGE = "fuse"  # the bridge's program name, as ps shows it
STOP_GRACE = 5.0  # seconds the node may take to shut down once the view stops
SHOWN_WAIT = 2.0  # seconds pid=/proc= may take to appear (init starts its shell)


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

    ``default`` and a config file boot that node in this process (``NodeSession``); a dial
    string boots a terminal node that imports the remote's / over its own (no servers of its
    own).  A bad config file or console option is one line naming what is wrong.
    """
    src = args.source
    if src.kind is SourceKind.CONFIG and not os.path.isfile(src.text):
        raise MountError(f"SOURCE {src.text!r}: no such node config file")
    try:
        cfg = config.load(src.text if src.kind is SourceKind.CONFIG else config.DEFAULT_NAME)
        if args.console is not None:
            config.check_console(args.console, "option console")
    except config.ConfigError as e:
        raise MountError(str(e)) from None
    if src.kind is SourceKind.DIAL and not src.text.startswith(("tcp!", "net!")):
        raise MountError(f"SOURCE {src.text!r}: only tcp! and net! addresses can be imported")
    if args.console == "stdio":
        raise MountError("option console=stdio: a mount daemon has no terminal (use unix!PATH)")
    if args.disks:
        if src.kind is SourceKind.DIAL:
            raise MountError("option disk=: only a node booted here (default, a config) has disks")
        for spec in args.disks:
            if not os.path.isfile(spec.removesuffix(":ro")):
                raise MountError(f"option disk={spec}: no such image file")
        cfg = dataclasses.replace(cfg, disks=cfg.disks + args.disks)
    return NodeSession(args, cfg)


class NodeSession:
    """A node booted in the mount process, shown by an ``Operations`` process.

    ``run`` boots the node (``cfg``: name, RAM, servers, init's namespace, listen), attaches
    the console if asked, finds the process whose name space to show (``pid=``/``proc=``,
    waited for up to ``SHOWN_WAIT`` seconds since init and the servers start concurrently;
    else the boot process) and spawns the bridge as its child *without* RFNAMEG, so the
    bridge shares that process's name space group and its binds show live.

    Stopping.  The daemon stops a session by cancelling ``run``.  That cancel must not reach
    the node's own tasks: cancelled at once, the L4 threads (servers, clerks, Mngr) die
    before ``boot``'s orderly shutdown, which then waits for ever on a server that no longer
    answers (a name space's last close clunks its mounts: ``exits`` -> ``pexit`` -> mnt
    ``close``, shielded).  So the node runs in a shielded task (``_node``) and the cancel
    only sets ``_stop``; the node task then cancels its own supervisors and leaves ``boot``,
    which kills the processes newest first while their servers still serve.  ``STOP_GRACE``
    bounds the whole stop.
    """

    def __init__(self, args: MountArgs, cfg: config.NodeConfig | None = None) -> None:
        self.args = args
        self.cfg = cfg or config.load(config.DEFAULT_NAME)
        self.fsname = args.source.text
        self.operations = Operations(Owners(table=args.users), Callers(table=args.users))
        self._stop = trio.Event()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            try:
                await nursery.start(self._node)
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._stop.set()

    async def _node(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        cfg, console = self.cfg, self.args.console or "none"
        if self.args.source.kind is not SourceKind.DIAL:  # the default node's /n/c
            cfg = self.cfg = cdisk.with_cdisk(cfg)
        try:
            with trio.CancelScope(shield=True) as scope:
                async with boot(cfg.name, **bootargs(cfg)) as node, trio.open_nursery() as sup:
                    await self._up(node, console, sup)
                    task_status.started()
                    await self._stop.wait()
                    scope.deadline = trio.current_time() + STOP_GRACE
                    sup.cancel_scope.cancel()  # then boot ends every process
        finally:
            if console.startswith("unix!"):
                with contextlib.suppress(OSError):
                    os.unlink(console[5:])

    async def _up(self, node: Node, console: str, supervisors: trio.Nursery) -> None:
        """Console, servers, init (or the import), then the bridge, serving."""
        await attach_console(node.machine.uart, console, supervisors)
        if self.args.source.kind is SourceKind.DIAL:
            await _import_root(node, self.args.source.text, self.args.auth)
            if console != "none":
                await node.spawn("sh", ["sh", "-i"])
        else:
            await start_node(node, self.cfg, supervisors)
        node.programs[BRIDGE] = self.operations.serve
        node.programs[CALLER] = self.operations.callers.serve  # a caller's process (users.py)
        shown = await self._shown(node)
        # RFNOWAIT: the bridge is no child of the shown process, so a wait there returns
        pid = await node.procmgr.spawn(shown, BRIDGE, [BRIDGE, self.args.mountpoint],
                                       RFFDG | RFPROC | RFNOWAIT, None)  # fmt: skip
        node.procmgr.setpri(node.procmgr.bypid[pid].proc, PRIFUSE)  # Linux waits on it
        await self.operations.ready.wait()
        supervisors.start_soon(tracectl.serve, self.args.mountpoint)  # lp49 trace
        if self.args.debugcons:
            supervisors.start_soon(kdb.serve, node, self.args.debugcons)

    async def _shown(self, node: Node):  # type: ignore[no-untyped-def]  # -> core Proc
        """The process whose name space the view shows (MountError if none appears)."""
        if self.args.pid is None and self.args.proc is None:
            return node.bootproc
        with trio.move_on_after(SHOWN_WAIT):
            while True:
                for p in list(node.core.procs.values()):
                    if p.pid == self.args.pid or p.name == self.args.proc:
                        return p
                if self.args.pid is not None and self.args.pid < max(node.core.procs):
                    break  # it was there and has exited
                await trio.sleep(0.01)
        if self.args.pid is not None:
            raise MountError(f"option pid={self.args.pid}: no such LP49 process")
        raise MountError(f"option proc={self.args.proc}: no LP49 process of that name")


async def _import_root(node: Node, dial: str, auth: str | None = None) -> None:
    """A terminal node: the boot name space's / becomes the remote's / (``import``; with
    ``auth`` over mutual TLS as the node's user)."""
    tls = f"-A '{os.path.abspath(auth)}' " if auth else ""
    status = await node.run("sh", ["sh", "-c", f"bind -a '#I' /net; import {tls}{dial} / /"])
    if status:
        raise Error(f"import {dial}: {status}")


def absolute(args: MountArgs) -> MountArgs:
    """``args`` with DIR, a config SOURCE and a console socket path made absolute."""
    source, console = args.source, args.console
    if source.kind is SourceKind.CONFIG:
        source = dataclasses.replace(source, text=os.path.abspath(source.text))
    if console is not None and console.startswith("unix!") and len(console) > 5:
        console = "unix!" + os.path.abspath(console[5:])
    dbg = args.debugcons
    if dbg is not None and dbg.startswith("unix!") and len(dbg) > 5:
        dbg = "unix!" + os.path.abspath(dbg[5:])
    log = os.path.abspath(args.log) if args.log is not None else None
    dsk = tuple(os.path.abspath(d[:-3]) + ":ro" if d.endswith(":ro") else os.path.abspath(d)
                for d in args.disks)  # fmt: skip
    return dataclasses.replace(args, source=source, console=console, debugcons=dbg, log=log,
                               mountpoint=os.path.abspath(args.mountpoint), disks=dsk)  # fmt: skip


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
    """The options for pyfuse3.init: the user's, plus fsname, subtype and (when root
    mounts) allow_other by default."""
    opts = list(args.fuse_options)
    keys = {o.partition("=")[0] for o in opts}
    if "fsname" not in keys:
        opts.append("fsname=" + session.fsname.replace("\\", "\\\\").replace(",", "\\,"))
    if "subtype" not in keys:
        opts.append("subtype=lp49")
    if os.geteuid() == 0 and "allow_other" not in keys:  # every Linux user may use the view
        opts.append("allow_other")
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
        hostlog.setup("lp49 mount", args.log, args.debug, quiet=logging.WARNING)
        check_mountpoint(args.mountpoint)
        session = resolve(args)
        mount(args, session)
    except (MountError, hostlog.LogError) as e:
        print(f"lp49 mount: {e}", file=sys.stderr)
        return e.status if isinstance(e, MountError) else 1
    ready = daemon.Ready(None) if args.foreground else daemon.detach()
    if not args.foreground:
        hostlog.detached("lp49 mount")
    status = f"serving {session.fsname} on {args.mountpoint}"
    return daemon.run(session.run, ready, status, args.mountpoint)
