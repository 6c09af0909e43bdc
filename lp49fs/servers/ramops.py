"""The changes a ramfs tree undergoes, as values: made live, logged, and replayed alike.

Every change of a ramfs tree that a client can be told succeeded is one ``Op``: ``Create``,
``Write``, ``Trunc``, ``Meta`` (wstat of name, mode, times, group, owner) and ``Remove``.  ``apply``
is the one place that changes the tree; ``ramfs.RamFile`` builds an op after its permission
checks and hands it to ``Ramfs.commit``, which logs it (``ramlog``) before applying it, and a
restarted ramfs applies the logged ops again in order.  So an op carries everything it
needs, the clock included (``t``): applying it twice to equal trees gives equal trees, qid
versions and paths included.

``encode``/``decode`` give an op's bytes for the log: a one-letter kind, fixed fields
little-endian, strings with a 2-byte length, and a Write's data last.  ``snapshot`` and
``restore`` do the same for a whole tree (every node in pre-order, with its sparse blocks).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lp49fs.errors import Error
from lp49fs.ninep import DMDIR
from lp49fs.servers.ramdata import BLOCK, Blocks

if TYPE_CHECKING:
    from lp49fs.servers.ramfs import Node, Ramfs


@dataclass(frozen=True)
class Create:
    parent: int  # qid.path of the directory
    path: int  # qid.path of the new file
    name: str
    mode: int
    uid: str
    gid: str
    t: int


@dataclass(frozen=True)
class Write:
    path: int
    offset: int
    uid: str
    t: int
    data: bytes


@dataclass(frozen=True)
class Trunc:
    path: int
    length: int
    uid: str
    t: int


@dataclass(frozen=True)
class Meta:
    """wstat of everything but the length, as the state after it."""

    path: int
    uid: str  # who made the change (a rename changes the parent's muid)
    t: int
    name: str
    mode: int
    mtime: int
    atime: int
    gid: str
    owner: str  # the file's uid (changed only by the server's owner, ramfs Rule 4)


@dataclass(frozen=True)
class Remove:
    path: int
    uid: str
    t: int


Op = Create | Write | Trunc | Meta | Remove


def apply(fs: Ramfs, op: Op, node: Node | None = None) -> Node:
    """Make change ``op`` to ``fs``'s tree (to ``node``, which may be a removed file still
    open, else the node of ``op.path``); the node it made or changed.  May raise Error (a
    full store), before anything changed."""
    from lp49fs.servers.ramfs import Node

    if isinstance(op, Create):
        d = fs.nodes[op.parent]
        n = Node(op.path, op.name, op.mode, op.uid, op.gid, parent=d, muid=op.uid,
                 atime=op.t, mtime=op.t)  # fmt: skip
        if not op.mode & DMDIR:
            n.data = Blocks(fs.store)
        d.children[op.name] = n
        d.changed(op.uid, op.t)
        fs.nodes[n.path] = n
        fs.lastpath = max(fs.lastpath, n.path)
        return n
    n = node if node is not None else fs.nodes[op.path]
    if isinstance(op, Write):
        assert n.data is not None
        n.data.write(op.offset, op.data)
        n.changed(op.uid, op.t)
    elif isinstance(op, Trunc):
        assert n.data is not None
        n.data.truncate(op.length)
        n.changed(op.uid, op.t)
    elif isinstance(op, Meta):
        if op.name != n.name:
            assert n.parent is not None
            del n.parent.children[n.name]
            n.parent.children[op.name] = n
            n.parent.changed(op.uid, op.t)
            n.name = op.name
        n.mode, n.mtime, n.atime, n.gid, n.uid = op.mode, op.mtime, op.atime, op.gid, op.owner
    else:
        assert n.parent is not None
        del n.parent.children[n.name]
        n.parent.changed(op.uid, op.t)
        n.removed = True
        del fs.nodes[n.path]
    return n


# ---- bytes ----------------------------------------------------------------------------------

_FIELDS = {  # kind letter -> (class, struct of the fixed fields, names of the strings)
    b"C": (Create, "<QQII", ("name", "uid", "gid")),
    b"W": (Write, "<QQI", ("uid",)),
    b"T": (Trunc, "<QQI", ("uid",)),
    b"M": (Meta, "<QIIII", ("uid", "name", "gid", "owner")),
    b"R": (Remove, "<QI", ("uid",)),
}
_ORDER = {  # the fixed fields of each kind, in struct order
    Create: ("parent", "path", "mode", "t"),
    Write: ("path", "offset", "t"),
    Trunc: ("path", "length", "t"),
    Meta: ("path", "t", "mode", "mtime", "atime"),
    Remove: ("path", "t"),
}
_KIND = {cls: k for k, (cls, _, _) in _FIELDS.items()}


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def _strs(data: memoryview, at: int, n: int) -> tuple[list[str], int]:
    out = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<H", data, at)
        out.append(bytes(data[at + 2 : at + 2 + ln]).decode())
        at += 2 + ln
    return out, at


def encode(op: Op) -> bytes:
    k = _KIND[type(op)]
    _, fmt, strs = _FIELDS[k]
    fixed = [getattr(op, f) for f in _ORDER[type(op)]]
    out = k + struct.pack(fmt, *fixed) + b"".join(_str(getattr(op, s)) for s in strs)
    return out + op.data if isinstance(op, Write) else out


def decode(data: bytes | memoryview) -> Op:
    mv = memoryview(data)
    k = bytes(mv[:1])
    cls, fmt, strs = _FIELDS[k]
    fixed: tuple[int, ...] = struct.unpack_from(fmt, mv, 1)
    names, at = _strs(mv, 1 + struct.calcsize(fmt), len(strs))
    kw: dict[str, object] = dict(zip(_ORDER[cls], fixed, strict=True))
    kw.update(zip(strs, names, strict=True))
    if cls is Write:
        kw["data"] = bytes(mv[at:])
    op: Op = cls(**kw)
    return op


_NODE = struct.Struct("<QQIIIIQI")  # path, parent, mode, vers, atime, mtime, length, nblocks


def snapshot(fs: Ramfs) -> bytes:
    """The whole tree as bytes: lastpath, then every node in pre-order with its blocks."""
    out = [struct.pack("<Q", fs.lastpath)]
    stack = [fs.root]
    while stack:
        n = stack.pop()
        blocks = n.data.blocks if n.data is not None else {}
        parent = n.parent.path if n.parent is not None else 0
        out.append(_NODE.pack(n.path, parent, n.mode, n.vers, n.atime, n.mtime,
                              len(n.data) if n.data is not None else 0, len(blocks)))  # fmt: skip
        out += [_str(n.name), _str(n.uid), _str(n.gid), _str(n.muid)]
        for i, b in blocks.items():
            out += [struct.pack("<Q", i), bytes(b)]
        stack.extend(reversed(list(n.children.values())))
    return b"".join(out)


def restore(fs: Ramfs, data: bytes | memoryview) -> None:
    """Replace ``fs``'s tree by the one ``snapshot`` wrote (blocks are taken from its store)."""
    from lp49fs.servers.ramfs import Node

    mv = memoryview(data)
    (fs.lastpath,) = struct.unpack_from("<Q", mv, 0)
    at = 8
    fs.nodes = {}
    while at < len(mv):
        path, parent, mode, vers, atime, mtime, length, nb = _NODE.unpack_from(mv, at)
        (name, uid, gid, muid), at = _strs(mv, at + _NODE.size, 4)
        up = fs.nodes.get(parent)
        n = Node(path, name, mode, uid, gid, parent=up, vers=vers, muid=muid, atime=atime,
                 mtime=mtime)  # fmt: skip
        if not mode & DMDIR:
            n.data = Blocks(fs.store)
            for _ in range(nb):
                (i,) = struct.unpack_from("<Q", mv, at)
                fs.store.take(BLOCK)
                n.data.blocks[i] = bytearray(mv[at + 8 : at + 8 + BLOCK])
                at += 8 + BLOCK
            n.data.length = length
        if up is None:
            fs.root = n
        else:
            up.children[name] = n
        fs.nodes[path] = n


def replay(fs: Ramfs, op: Op) -> None:
    """Apply a logged op again; one that failed live (a full store) fails the same way now."""
    try:
        apply(fs, op)
    except Error:
        pass
