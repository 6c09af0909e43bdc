"""The servants of a node and the explicit registry that builds its devtab (Plan 9 mkdevc).

``CONFIG`` names the servant modules in boot order; ``make_devtab(core)`` constructs each
class with ``core`` in that order (no entry points, no import-time scanning).  The core's
``Core.install`` then refuses duplicate letters and runs every reset, then every init, in
this order.  Add a servant by adding its module name to CONFIG and its class to REGISTRY.
"""

from __future__ import annotations

from collections.abc import Callable

from lp49fs.core.core import Core
from lp49fs.core.dev import Servant
from lp49fs.servants.cap import Cap
from lp49fs.servants.cons import Cons
from lp49fs.servants.dup import Dup
from lp49fs.servants.env import Env
from lp49fs.servants.ether import Ether
from lp49fs.servants.floppy import Floppy
from lp49fs.servants.inet.devip import Inet
from lp49fs.servants.ip import Ip
from lp49fs.servants.mnt import Mnt
from lp49fs.servants.pipe import Pipe
from lp49fs.servants.proc import Proc
from lp49fs.servants.root import Root
from lp49fs.servants.sd import Sd
from lp49fs.servants.srv import Srv
from lp49fs.servants.tls import Tls

# module name -> servant class, for every servant that exists
REGISTRY: dict[str, Callable[[Core], Servant]] = {
    "root": Root,
    "dup": Dup,
    "cons": Cons,
    "pipe": Pipe,
    "env": Env,
    "srv": Srv,
    "proc": Proc,
    "mnt": Mnt,
    "ip": Ip,
    "cap": Cap,
    "ether": Ether,
    "inet": Inet,  # #I on the node's own IP stack, in place of "ip" (OWNSTACK)
    "sd": Sd,
    "floppy": Floppy,
    "tls": Tls,
}

# boot order
CONFIG: tuple[str, ...] = (
    "root", "dup", "cons", "env", "pipe", "proc", "srv", "mnt", "ip", "tls", "ether", "sd",
    "floppy", "cap",
)  # fmt: skip


# boot order with the own IP stack at #I instead of the host-socket one (``--stack own``)
OWNSTACK: tuple[str, ...] = tuple("inet" if n == "ip" else n for n in CONFIG)


def make_devtab(core: Core, config: tuple[str, ...] = CONFIG) -> list[Servant]:
    """The configured servants of ``core``, constructed in CONFIG order."""
    return [REGISTRY[name](core) for name in config]


def boot_core(core: Core, config: tuple[str, ...] = CONFIG) -> Core:
    """Install the configured servants into ``core`` (reset and init run); returns it."""
    core.install(make_devtab(core, config))
    return core
