"""import [-abcC] [-k secs] [-A authdir] [-u user] host path [mtpt]: mount another node's tree.

``host`` is a machine name (dialled as ``tcp!host!17007``) or a dial string (``tcp!h!port``,
``net!h``).  import (``exportfs_net.importfs``) dials through ``/net`` (``#I``, or a ``/net``
imported from another node), runs the importer's
side of the handshake (``exportfs_hs.request``: the tree ``path``, the answer ``OK``, the
``impo nofilter clear`` line), then mounts the connection on ``mtpt`` (default: ``path``)
with the bind flags given, so the remote tree appears there for this name space.  Every
failure (bad address, connection refused, a refused tree) is one line on fd 2 and the exit
string.  ``-k secs``: keepalive period (how soon a silently broken link is given up: it is
written to the conversation's ctl as ``keepalive <ms>``).

``-A authdir`` (default: ``$auth`` if set): the connection is mutual TLS 1.3 with that
authority's certificates before anything else (``exportfs_net.tlsfd``), presenting
``user``'s certificate (``-u``; default ``$authuser``, else the caller's own user) and verifying
that the exporter holds a node certificate for the host dialled.

The mount survives a broken link: import mounts its connection through a ``/srv/import.PID``
entry and leaves a re-dialler (``import -R import.PID ...``, ``exportfs/redial.py``) that dials
again, with backoff, when the exporter dies or freezes, and posts the new link; ``#M`` then walks
the held fids again.  The re-dialler (``-m mtpt``) ends when that mount point is unmounted.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import eprint
from lp49fs.cmd.bind import mountflag
from lp49fs.cmd.newns import getenv
from lp49fs.errors import Error
from lp49fs.servers.exportfs import net as exportfs_net
from lp49fs.servers.exportfs import redial

USAGE = "usage: import [-abcC] [-k secs] [-A authdir] [-u user] host path [mtpt]"


def parse(argv: list[str], opts: dict[str, str] | None = None) -> tuple[set[str], float, list[str]]:
    """(flag letters, keepalive period, operands); -A -u -R -m go to ``opts``; Error(USAGE)."""
    flags: set[str] = set()
    period = exportfs_net.KEEPALIVE
    args = argv[1:]
    while args and args[0].startswith("-") and len(args[0]) > 1:
        a = args.pop(0)
        if a == "--":
            break
        if a in ("-A", "-u", "-R", "-m") and args and opts is not None:
            opts[a[1]] = args.pop(0)
            continue
        if a == "-k" and args:
            try:
                period = float(args.pop(0))
            except ValueError:
                raise Error(USAGE) from None
            continue
        if any(c not in "abcC" for c in a[1:]):
            raise Error(USAGE)  # the runtime makes it the exit string
        flags.update(a[1:])
    return flags, period, args


async def main(argv: list[str]) -> None:
    opts: dict[str, str] = {}
    try:
        flags, period, args = parse(argv, opts)
    except Error:
        await eprint(USAGE + "\n")
        raise
    flag = mountflag(flags)
    if len(args) not in (2, 3) or flag is None:
        await eprint(USAGE + "\n")
        raise Error(USAGE)
    tree = args[1]
    mtpt = args[2] if len(args) == 3 else tree
    authdir = opts.get("A") or await getenv("auth")
    user = opts.get("u") or await getenv("authuser") or await lib.whoami()
    auth = (authdir, user) if authdir else None
    if "R" in opts:  # the re-dialler import leaves behind (redial.py)
        await redial.redialer(opts["R"], args[0], tree, period, auth, opts.get("m", ""))
        return
    try:
        await exportfs_net.importfs(args[0], tree, mtpt, flag, period, auth)
    except Error as e:
        await eprint(f"import: {exportfs_net.netaddr(args[0])} {tree}: {e.ename}\n")
        raise
