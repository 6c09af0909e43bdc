"""HVM: the root task of an lp49fs node (sigma0's memory role, the Pager, thread/space control).

Public API: ``Hvm(kernel)``, ``hvm.start()``, ``create_space``, ``create_thread``,
``delete_thread``, ``delete_space``, ``space_threads``, ``nspaces``, ``alloc_frame``,
``map_frame``, ``kip``; see ``lp49fs.hvm.root``.  ``lp49fs.node.boot`` boots every node on it;
the core reaches it only through the ``lp49fs.core.procmgr.Hvm`` protocol.
``FrameTable`` (``lp49fs.hvm.frames``) is the frame ownership record.
"""

from lp49fs.hvm.frames import FrameTable as FrameTable
from lp49fs.hvm.root import KIP_AREA as KIP_AREA
from lp49fs.hvm.root import USER_LIMIT as USER_LIMIT
from lp49fs.hvm.root import Hvm as Hvm

__all__ = ["KIP_AREA", "USER_LIMIT", "FrameTable", "Hvm"]
