"""``lp49 node [CONFIG] [--name NAME] [--console stdio|unix!PATH|none]``: run a node.

Theory of operation.  The node runs in the foreground, in one trio event loop:

1. ``config.load`` reads CONFIG (or takes the built-in default node); ``--name`` and
   ``--console`` override it.  A bad file is one line on stderr and exit status 1.  The
   default node given no ``--disk`` gets ``c.img`` from the state directory
   (``lp49fs.host.cdisk``), so its ``/n/c`` persists.
2. ``boot`` builds the machine, kernel, root task and core (``lp49fs.node.boot``).
3. The console is attached to the UART before anything prints: ``stdio`` copies stdin into
   the UART and UART output to stdout (on a terminal, host echo and line editing are turned
   off while the node runs: the node's console echoes and cooks lines itself, and DEL is
   typed as backspace); ``unix!PATH`` serves the console on a unix socket
   (``hwsim.console.serve_unix``: each line a client writes is typed at the console, every
   client gets the output); ``none`` leaves it unplugged.
4. ``servers.start_servers`` starts, posts and supervises the configured servers;
   ``hostservers.start_hostservers`` starts the host-side ones (``lp49 u9fs`` ...) as Linux
   processes and posts each with the LP49 ``srv`` program; ``disks.start`` runs ``fdisk -p``
   on each disk unit, starts dossrv for its FAT partitions and ext2srv for its Linux ones and
   mounts them on ``/n`` (the first FAT one also at ``/n/c``), in the boot name space and in
   init's.
5. With an authority (``--auth``, ``[auth]``), ``$auth`` and ``$authuser`` are set in the
   boot environment, which every process inherits, so ``import`` and ``srv`` use TLS.
   ``init -n NSTEXT`` starts as a child of the boot process: it builds its name space from
   the namespace file, plus ``mount -c /srv/NAME MTPT`` for each host server with a mount,
   and runs ``sh -i`` on ``/dev/cons`` (``lp49fs.cmd.init``).
6. When the console first shows the shell prompt, the boot time is logged and systemd gets
   READY=1 (``lp49fs.host.sdnotify``; nothing happens outside systemd).
7. SIGTERM or SIGINT: STOPPING=1; the supervisors and the console stop, then ``boot``'s
   orderly shutdown kills every process; the terminal is restored, the socket removed;
   exit status 0.

Logs go to stderr (``-v`` for debug, which includes the namespace lines that failed).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from typing import Any

import trio

from hwsim.console import copy_input, serve_unix
from hwsim.uart import Uart
from lp49fs.core.core import Core
from lp49fs.host import cdisk, hostlog, sdnotify
from lp49fs.host.console import terminal_mode, typed
from lp49fs.node import disks, hostservers, kdb, servers
from lp49fs.node.boot import Node, boot
from lp49fs.node.config import ConfigError, NodeConfig, check_console, check_network, load
from lp49fs.node.netboot import NicError
from lp49fs.node.security import auth_env, export_argv
from lp49fs.servants import CONFIG, OWNSTACK

log = logging.getLogger("lp49fs.node")

PROMPT = b"% "  # what sh -i prints when it is ready for a line


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="lp49 node", description="boot an LP49 node")
    ap.add_argument("config", nargs="?", help="node TOML file, or default (the built-in node)")
    ap.add_argument("--name", help="the node's sysname")
    ap.add_argument("--console", help="stdio, none or unix!PATH (default: stdio)")
    ap.add_argument("--debug-console", metavar="unix!PATH", help="serve the debug console there")
    ap.add_argument("--listen", metavar="ADDR", help="export the name space on ADDR (tcp!*!17007)")
    ap.add_argument("--auth", metavar="DIR", help="authority for TLS on the listener and dials")
    ap.add_argument("-u", "--user", help="whose certificate the node's dials present")
    ap.add_argument("--insecure", action="store_true", help="allow a listener without --auth")
    ap.add_argument("--export-net", action="store_true", help="export /net too")
    ap.add_argument(
        "--nic",
        action="append",
        default=[],
        metavar="tap:NAME|hub:PATH",
        help="a network card on a TAP device or a hub (repeatable)",
    )
    ap.add_argument(
        "--ip",
        action="append",
        default=[],
        metavar="ADDR/LEN",
        help="address of the next card's ipifc (own stack; repeatable)",
    )
    ap.add_argument(
        "--stack",
        choices=("own", "host"),
        help="the IP stack /net shows (default: own if a NIC has an address)",
    )
    ap.add_argument(
        "--disk",
        action="append",
        default=[],
        metavar="IMAGE[:ro]",
        help="a raw disk image as the next unit, sdC0, sdC1 ... (repeatable; docs/storage.md)",
    )
    ap.add_argument("--floppy", metavar="IMAGE[:ro]", help="a 1.44 MB image in floppy drive 0")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    ap.add_argument("--log", metavar="PATH", help="append the log to PATH (default: stderr)")
    return ap.parse_args(argv)


def configure(argv: list[str]) -> tuple[NodeConfig, bool, str | None]:
    """The node config from the command line (step 1); raises ConfigError or SystemExit."""
    args = parse_args(argv)
    cfg = load(args.config)
    if args.name:
        cfg = dataclasses.replace(cfg, name=args.name)
    if args.console:
        cfg = dataclasses.replace(cfg, console=check_console(args.console, "--console"))
    if args.listen:
        cfg = dataclasses.replace(cfg, listen=args.listen)
    if args.debug_console:
        if not args.debug_console.startswith("unix!") or len(args.debug_console) == 5:
            raise ConfigError(f"--debug-console: {args.debug_console!r} is not unix!PATH")
        cfg = dataclasses.replace(cfg, debugcons=args.debug_console)
    if args.auth:
        cfg = dataclasses.replace(cfg, authdir=args.auth)
    if args.user:
        cfg = dataclasses.replace(cfg, authuser=args.user)
    if args.insecure:
        cfg = dataclasses.replace(cfg, insecure=True)
    if args.export_net:
        cfg = dataclasses.replace(cfg, export_net=True)
    if args.nic or args.ip or args.stack:
        nics, ips = cfg.nics + tuple(args.nic), cfg.ips + tuple(args.ip)
        cfg = dataclasses.replace(cfg, nics=nics, ips=ips, stack=args.stack or cfg.stack)
        cfg = check_network(cfg, "lp49 node")
    if args.disk:
        cfg = dataclasses.replace(cfg, disks=cfg.disks + tuple(args.disk))
    if args.floppy:
        cfg = dataclasses.replace(cfg, floppy=args.floppy)
    if cfg.nics:  # init's name space shows the cards beside #I
        binds = "".join(f"bind -a #l{n} /net\n" for n in range(len(cfg.nics)))
        cfg = dataclasses.replace(cfg, namespace=cfg.namespace + binds)
    if cfg.listen:
        export_argv(cfg)  # refuse now, before booting (security Rule 3)
    return cfg, args.verbose, args.log


class Kmesg(logging.Handler):
    """The daemon's log lines also go to its node's ``#c/kmesg`` (the node's log)."""

    def __init__(self, core: Core) -> None:
        super().__init__(logging.INFO)
        self.core = core

    def emit(self, record: logging.LogRecord) -> None:
        self.core.kmesgputs(f"{record.name}: {record.getMessage()}\n".encode())


class PromptWatch:
    """Sets ``seen`` the first time the UART output ends with the shell prompt."""

    def __init__(self, uart: Uart) -> None:
        self.seen = trio.Event()
        self.tail = b""
        self.detach = uart.attach_output(self.sink)

    def sink(self, data: bytes) -> None:
        self.tail = (self.tail + data)[-len(PROMPT) :]
        if self.tail == PROMPT:
            self.seen.set()
            self.detach()


async def stdio_input(uart: Uart) -> None:
    """Copy stdin into the UART until EOF (the node keeps running after it)."""

    async def feed(data: bytes) -> None:
        uart.feed(typed(data))

    fd = os.dup(0)
    try:
        await copy_input(fd, feed)
    finally:
        os.close(fd)


def stdout_sink(data: bytes) -> None:
    try:
        os.write(1, data)
    except OSError:
        pass  # nobody listens on stdout any more; the node keeps running


async def attach_console(uart: Uart, how: str, nursery: trio.Nursery) -> None:
    """Step 3 (returns once the console is attached)."""
    if how == "stdio":
        uart.attach_output(stdout_sink)
        nursery.start_soon(stdio_input, uart)
    elif how.startswith("unix!"):
        await nursery.start(serve_unix, uart, how[5:])


def bootargs(cfg: NodeConfig) -> dict[str, Any]:
    """``boot``'s keywords for ``cfg``: RAM, NICs, addresses, which ``#I``, peer timeout,
    disks, the bus, the page cache (one copy for ``lp49 node`` and ``lp49 mount CONFIG``)."""
    own = cfg.ipstack() == "own"
    return {"ram": cfg.ram, "config": OWNSTACK if own else CONFIG, "nics": cfg.nics,
            "ips": cfg.ips, "peer_timeout": cfg.peer_timeout, "disks": cfg.disks,
            "floppy": cfg.floppy, "bus": cfg.bus, "pagecache": cfg.pagecache,
            "cachepages": cfg.cachepages}  # fmt: skip


async def run(cfg: NodeConfig, t0: float) -> None:
    """Steps 2-7: boot ``cfg`` and run until SIGTERM or SIGINT."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        if EARLY:
            log.info("node %s: %s before boot: not booting", cfg.name, EARLY[0].name)
            return
        async with boot(cfg.name, **bootargs(cfg)) as node, trio.open_nursery() as nursery:
            logging.getLogger("lp49fs").addHandler(Kmesg(node.core))  # one node a daemon
            prompt = PromptWatch(node.machine.uart)
            await attach_console(node.machine.uart, cfg.console, nursery)
            if cfg.debugcons.startswith("unix!"):  # lp49fs.node.kdb
                nursery.start_soon(kdb.serve, node, cfg.debugcons)
            await start(node, cfg, nursery)
            nursery.start_soon(_ready, prompt, cfg, t0)
            async for signum in signals:
                log.info("node %s: %s: shutting down", cfg.name, signal.Signals(signum).name)
                break
            sdnotify.stopping()
            nursery.cancel_scope.cancel()  # supervisors and console first; boot kills the rest


LISTENER = "exportfs"  # the export listener's name in /dev/servers


async def start(node: Node, cfg: NodeConfig, nursery: trio.Nursery) -> None:
    """Steps 4-5 and the listener: what a booted node starts, supervised in ``nursery`` (one
    copy for ``lp49 node`` and ``lp49 mount CONFIG``, whose view then shows the same node)."""
    specs = tuple(
        servers.ServerSpec(s.srvname, s.prog, (s.prog, *s.args), s.mount) for s in cfg.servers
    )
    await servers.start_servers(node, nursery, specs, cfg.health)
    await hostservers.start_hostservers(node, nursery, cfg.hostservers, cfg.health)
    _, diskns = await disks.start(node, nursery)  # fdisk, dossrv, mounts on /n
    if cfg.authdir:  # $auth (and $authuser) for import and srv: TLS by default
        await node.run("sh", ["sh", "-c", auth_env(cfg)])
    pid = await node.spawn("init", ["init", "-n", namespace(cfg) + diskns])
    log.info("node %s: init is pid %d (config %s)", cfg.name, pid, cfg.source)
    if cfg.listen:  # the export listener (lp49fs.cmd.exportfs -l), supervised
        xsv = await start_listener(node, cfg, nursery)
        log.info("node %s: exportfs -l %s is pid %d", cfg.name, cfg.listen, xsv.pid)


async def start_listener(
    node: Node, cfg: NodeConfig, nursery: trio.Nursery
) -> servers.Supervised:
    """The export listener (``exportfs -l``) of ``cfg``, supervised as a server that posts
    nothing (``servers`` Rule 3), with ``cfg``'s health check."""
    xs = servers.ServerSpec(LISTENER, "exportfs", tuple(export_argv(cfg)), post=False)
    [xsv] = await servers.start_servers(node, nursery, (xs,), cfg.health)
    return xsv


def namespace(cfg: NodeConfig) -> str:
    """The namespace text for init: the configured one, then the host servers' mounts."""
    mounts = "".join(f"mount -c /srv/{h.name} {h.mount}\n" for h in cfg.hostservers if h.mount)
    ns = cfg.namespace if cfg.namespace.endswith("\n") or not mounts else cfg.namespace + "\n"
    return ns + mounts


def process_age() -> float | None:
    """Seconds since this process was started (exec), from /proc; None where unavailable."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None


async def _ready(prompt: PromptWatch, cfg: NodeConfig, t0: float) -> None:
    await prompt.seen.wait()
    took, age = time.monotonic() - t0, process_age()
    since = f" ({age:.2f} s since exec)" if age is not None else ""
    log.info("node %s: shell prompt %.3f s after start%s", cfg.name, took, since)
    sdnotify.ready(f"node {cfg.name} up")


EARLY: list[signal.Signals] = []  # SIGTERM/SIGINT that came before run() took them over


def _early(signum: int, _frame: object) -> None:
    EARLY.append(signal.Signals(signum))


def _first(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e


def main(argv: list[str]) -> int:
    t0 = time.monotonic()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _early)
    try:
        cfg, verbose, logpath = configure(argv)
        hostlog.setup("lp49 node", logpath, verbose)
        cfg = cdisk.with_cdisk(cfg)  # the default node's /n/c (lp49fs/host/cdisk.py)
    except (ConfigError, hostlog.LogError) as e:
        print(f"lp49 node: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # argparse: usage or --help
        return e.code if isinstance(e.code, int) else 2
    path = cfg.console[5:] if cfg.console.startswith("unix!") else None
    try:
        with terminal_mode(0) if cfg.console == "stdio" else contextlib.nullcontext():
            trio.run(run, cfg, t0)
    except BaseExceptionGroup as e:
        nic = e.subgroup(NicError)
        if nic is None:
            raise
        print(f"lp49 node: {_first(nic)}", file=sys.stderr)
        return 1
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return 0
