"""The page-cache rule of the FUSE bridge (ops Rule 2, attr Rule 3), without a mount.

An open of a server file keeps the cached pages only when the file's qid.vers is the one of
the previous open; servant files are never cached.
"""

from __future__ import annotations

from lp49fs.fuse import attr
from lp49fs.fuse.inodes import InodeTable
from lp49fs.ninep import Dir, Qid


def test_keep_cache_follows_qid_vers() -> None:
    assert attr.file_info(3, True, False, keep=True).keep_cache
    assert not attr.file_info(3, True, False).keep_cache
    dev = attr.file_info(4, False, False, keep=True)
    assert dev.direct_io and not dev.keep_cache  # a servant's file: never cached
    t = InodeTable()
    d = Dir(type=ord("M"), dev=1, qid=Qid(0, 7, 2), name="f", length=10)
    node = t.enter(d, "/tmp/f")
    assert node.vers == 7 and node.openvers != node.vers  # never opened: nothing to keep
    node.openvers = node.vers
    t.enter(Dir(type=ord("M"), dev=1, qid=Qid(0, 8, 2), name="f"), "/tmp/f")
    assert node.vers == 8 and node.openvers != node.vers  # changed since: drop the pages
