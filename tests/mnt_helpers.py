"""Test helpers for #M: pipes made by system calls and 9P links over an fd's Chan.

* ``pipe(p)``: pipe(2) for a process of a test node: one ``#|`` attach (bound on ``/boot``
  for a moment) and both ends opened ORDWR; returns the two fds.
* ``fdlink(p, fd)``: a 9P link object (receive_some/send_all/aclose) over the Chan at ``fd``,
  the same adapter #M uses (``ChanLink``), taking its own reference; the fd is closed.
"""

from __future__ import annotations

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MREPL
from lp49fs.core.proc import Proc
from lp49fs.ninep import ORDWR
from lp49fs.servants.mnt import ChanLink

CONFIG = ("root", "dup", "pipe", "srv", "mnt", "proc")  # a node with what mounts need


async def pipe(p: Proc) -> tuple[int, int]:
    await sys.bind(p, "#|", "/boot", MREPL)
    try:
        return await sys.open(p, "/boot/data", ORDWR), await sys.open(p, "/boot/data1", ORDWR)
    finally:
        await sys.unmount(p, None, "/boot")


async def fdlink(p: Proc, fd: int) -> ChanLink:
    link = ChanLink(sys.fdtochan(p, fd))
    await sys.close(p, fd)
    return link
