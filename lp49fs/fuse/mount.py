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
   the node and the ``Operations`` class (``lp49fs/fuse/ops.py``) plug in; until they land
   it refuses every SOURCE with a clear "not yet available" line.  Tests pass their own
   resolver to ``main``.
5. ``pyfuse3.init`` mounts (``fsname=SOURCE``, ``subtype=lp49`` unless given), then
   ``daemon`` forks (unless ``-f``), boots the session and serves; see ``daemon``.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pyfuse3

from lp49fs.fuse import daemon
from lp49fs.fuse.options import MountArgs, MountError, SourceKind, parse_argv

log = logging.getLogger(__name__)


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

    The node (lp49fs.node) and the Operations class are not built yet: after checking what
    can be checked, every SOURCE is refused.
    """
    src = args.source
    if src.kind is SourceKind.CONFIG and not os.path.isfile(src.text):
        raise MountError(f"SOURCE {src.text!r}: no such node config file")
    raise MountError(
        f"SOURCE {src.text!r}: the LP49 node is not yet available in this build "
        "(lp49fs.node and lp49fs.fuse.ops land later)"
    )


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
