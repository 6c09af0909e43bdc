"""Changing directories: add an entry (with its long-name slots), remove one, rename, mkdir.

Every change goes to the directory's cached bytes and to the disk together
(``Volume.writeslots``), and to ``Node.ents``; the orders below keep the volume repairable
(``vol.py`` Rules 1-2).

Rules:

1. New slots go in the lowest run of free slots long enough (0xE5 or 0x00), so an end
   marker (0x00) never comes before a used slot.  If there is none, a directory on clusters
   grows by one zeroed cluster; the FAT12/16 root has a fixed size and is then full
   (``Error(Efull)``), as is any directory of 65,536 slots (fatgen103's limit).
2. ``mkdir``: the new cluster is written (``.``, ``..``, zeros) and linked in the FAT before
   the parent's entry points at it.  ``..`` names cluster 0 when the parent is the root.
3. ``rename``: the entry under the new name is written before the old slots are freed, so a
   crash leaves the file reachable (perhaps twice), never lost; the Node (and its qid) stays.
4. ``unlink``: the slots are marked free (0xE5) before the clusters are freed.
"""

from __future__ import annotations

from lp49fs.errors import Eexist, Efull, Error
from lp49fs.servers.dos import dirent as de
from lp49fs.servers.dos.vol import Node, Volume

MAXSLOTS = 65536


async def freeslots(v: Volume, d: Node, need: int) -> int:
    """Index of ``need`` consecutive free slots of ``d``, growing it if needed (Rule 1)."""
    buf = await v.loaddir(d)
    run, lowest = 0, -1
    for i in range(d.freehint, len(buf) // 32):
        if buf[i * 32] in (de.FREE, de.END):
            lowest = i if lowest < 0 else lowest
            run += 1
            if run == need:
                first = i - need + 1
                d.freehint = first + need if lowest == first else lowest
                return first
        else:
            run = 0
    per = v.bpb.clustersize // 32
    grow = -(-(need - run) // per)  # clusters to add
    if v.fixedroot(d) or len(buf) // 32 + grow * per > MAXSLOTS:
        raise Error(Efull)
    have = v.chain(d)
    new = v.fat.alloc(grow, have[-1] if have else 0)
    for c in new:
        await v.write(v.bpb.cluster(c), bytes(v.bpb.clustersize))
    await v.fat.flush(v.write)
    first = len(buf) // 32 - run
    have.extend(new)
    buf.extend(bytes(grow * v.bpb.clustersize))
    d.freehint = first + need if lowest in (-1, first) else lowest
    return first


async def addent(v: Volume, d: Node, name: str, attr: int, cluster: int, size: int,
                 mtime: int) -> de.Dent:  # fmt: skip
    """Write a new entry ``name`` in ``d`` (checked, not taken); returns its Dent."""
    await v.loaddir(d)
    de.valid(name)
    if de.key(name) in d.ents:
        raise Error(Eexist)
    short = de.plainshort(name)
    slots: list[bytes] = []
    if short is None or short in d.shorts:
        short = de.shortname(name, d.shorts)
        slots = de.lfnslots(name, short)
    first = await freeslots(v, d, len(slots) + 1)
    raw = b"".join(slots) + de.pack(short, attr, cluster, size, mtime, mtime)
    await v.writeslots(d, first, raw)
    ent = de.Dent(name, short, attr, cluster, size, mtime, mtime, first, first + len(slots))
    d.ents[de.key(name)] = ent
    d.shorts.add(short)
    d.vers += 1
    return ent


async def dropent(v: Volume, d: Node, ent: de.Dent) -> None:
    """Mark ``ent``'s slots free and forget it (Rule 4's first half)."""
    buf = await v.loaddir(d)
    for i in range(ent.first, ent.index + 1):
        buf[i * 32] = de.FREE
    await v.writeslots(d, ent.first, bytes(buf[ent.first * 32 : (ent.index + 1) * 32]))
    del d.ents[de.key(ent.name)]
    d.shorts.discard(ent.short)
    d.kids.pop(ent.index, None)
    d.freehint = min(d.freehint, ent.first)
    d.vers += 1


async def mkdir(v: Volume, d: Node, name: str, mtime: int) -> de.Dent:
    """A new, empty directory ``name`` in ``d`` (Rule 2)."""
    await v.loaddir(d)
    de.valid(name)
    if de.key(name) in d.ents:
        raise Error(Eexist)
    (c,) = v.fat.alloc(1)
    up = 0 if d.parent is None else d.dent.cluster
    body = (de.pack(b".          ", de.ATTR_DIR, c, 0, mtime, mtime)
            + de.pack(b"..         ", de.ATTR_DIR, up, 0, mtime, mtime))  # fmt: skip
    try:
        await v.write(v.bpb.cluster(c), body + bytes(v.bpb.clustersize - len(body)))
        await v.fat.flush(v.write)
        return await addent(v, d, name, de.ATTR_DIR, c, 0, mtime)
    except Error:
        v.fat.release([c])
        await v.fat.flush(v.write)
        raise


async def unlink(v: Volume, n: Node) -> None:
    """Remove ``n``'s entry, then free its clusters (Rule 4)."""
    assert n.parent is not None
    clusters = v.chain(n)
    await dropent(v, n.parent, n.dent)
    n.removed = True
    v.fat.release(list(clusters))
    await v.fat.flush(v.write)


async def rename(v: Volume, n: Node, name: str) -> None:
    """Give ``n`` the name ``name`` in its directory (Rule 3)."""
    d = n.parent
    assert d is not None
    old = n.dent
    if de.key(name) == de.key(old.name):  # a change of case only: free the name first
        del d.ents[de.key(old.name)]
        d.ents["\0old"] = old
    try:
        new = await addent(v, d, name, old.attr, old.cluster, old.size, old.mtime)
    except Error:
        if "\0old" in d.ents:
            d.ents[de.key(old.name)] = d.ents.pop("\0old")
        raise
    d.ents.pop("\0old", None)
    d.ents[de.key(old.name)] = old
    await dropent(v, d, old)
    d.ents[de.key(name)] = new
    new.atime = old.atime
    n.dent = new
    d.kids[new.index] = n  # a directory's '..' still names d: nothing else changes
