"""The mapping database: one tree of mappings per physical frame; map, grant, unmap, flush.

Theory of operation (REFERENCE §5.6): every valid page-table entry of every space is a
``Mapping`` node.  The roots are the physical-memory mappings of sigma0's space (va = pa) and
kernel mappings such as the KIP.  ``map`` makes a child of the sender's node in the receiver's
space; ``grant`` moves the sender's node (same parent, same children) into the receiver's
space, so the sender loses the page; ``unmap`` takes rights away from every node *derived*
from the caller's (the subtree below it), and ``flush`` from the caller's own node too.

Rules:
1. A child's rights are a subset of its parent's at the time of mapping; unmap keeps that true
   by revoking the same rights all the way down.
2. A node left with no rights is removed together with its whole subtree.
3. Mapping onto a receiver page that already holds a mapping replaces it: the old node and its
   subtree are removed first (X.2 leaves this open; REFERENCE §7).  A mapping is never placed
   over one of its own ancestors (that would cut the branch it hangs from): such pages are
   skipped.
4. Pages the sender has not mapped, or maps without any of the item's rights, are skipped
   silently, as in X.2.
5. Mapping a page again onto the page it is already mapped to, from the same node with the
   same rights, keeps the existing node (and whatever was derived from it): the result is the
   mapping that exists already.  A receiver may so keep a sender's page mapped across many
   IPCs (the core's clerks do) at the cost of one lookup per page.
"""

from __future__ import annotations

from kernel.space import Space
from kernel.types import ADDRESS_BITS, PAGE_BITS, Fpage


class Mapping:
    """One node: ``space`` maps page ``vpn`` to ``frame`` with ``rights``."""

    __slots__ = ("children", "frame", "parent", "rights", "space", "status", "vpn")

    def __init__(
        self, space: Space, vpn: int, frame: int, rights: int, parent: Mapping | None
    ) -> None:
        self.space = space  # the space whose page table holds this node
        self.vpn = vpn  # virtual page number in that space
        self.frame = frame  # physical frame number
        self.rights = rights  # rwx this space has
        self.parent = parent  # the node it was mapped from; None for a root
        self.children: list[Mapping] = []  # nodes mapped from this one
        self.status = 0  # R/W referenced-written bits since the last unmap query
        if parent is not None:
            parent.children.append(self)

    def __repr__(self) -> str:
        return f"<Mapping {self.space.name} vpn {self.vpn:#x} -> frame {self.frame} r{self.rights}>"


def add_root(space: Space, vpn: int, frame: int, rights: int) -> Mapping:
    """Install a root node (physical memory or a kernel page) in ``space``."""
    old = space.pages.get(vpn)
    if old is not None:
        remove_subtree(old)
    node = Mapping(space, vpn, frame, rights, None)
    space.pages[vpn] = node
    return node


def remove_subtree(node: Mapping) -> None:
    """Remove ``node`` and every mapping derived from it."""
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        n.children = []
        if n.space.pages.get(n.vpn) is n:
            del n.space.pages[n.vpn]
        n.rights = 0
    if node.parent is not None:
        node.parent.children.remove(node)
        node.parent = None


def _is_ancestor(a: Mapping, b: Mapping) -> bool:
    p: Mapping | None = b
    while p is not None:
        if p is a:
            return True
        p = p.parent
    return False


def placement(fpage: Fpage, snd_base: int, window: Fpage) -> tuple[int, int, int]:
    """(source base, destination base, size) for sending ``fpage`` into ``window`` (X.2 rules).

    Window at least as large as the fpage: lands at window.base + (snd_base mod window size),
    rounded down to the fpage size.  Fpage larger than the window: only the window-sized piece
    chosen by snd_base mod fpage size moves.
    """
    fsize = 1 << fpage.log2size
    wsize = 1 << window.log2size
    if fsize <= wsize:
        dst = window.base + ((snd_base % wsize) & ~(fsize - 1))
        return fpage.base, dst, fsize
    src = fpage.base + ((snd_base % fsize) & ~(wsize - 1))
    return src, window.base, wsize


def map_fpage(
    src: Space, fpage: Fpage, snd_base: int, dst: Space, window: Fpage, grant: bool
) -> int:
    """Map (or grant) ``fpage`` of ``src`` into ``window`` of ``dst``; returns the landing base.

    Preconditions: ``fpage`` and ``window`` are valid (checked by the IPC layer).
    """
    sbase, dbase, size = placement(fpage, snd_base, window)
    svpn, dvpn = sbase >> PAGE_BITS, dbase >> PAGE_BITS
    for i in range(size >> PAGE_BITS):
        node = src.pages.get(svpn + i)
        if node is None:
            continue
        rights = node.rights & fpage.rights
        if not rights:
            continue
        target = dvpn + i
        old = dst.pages.get(target)
        if old is node:
            continue  # granting or mapping a page onto itself changes nothing
        if old is not None:
            if old.parent is node and old.rights == rights and not grant:
                continue  # Rule 5: the same mapping again changes nothing
            if _is_ancestor(old, node):
                continue
            remove_subtree(old)
        if grant:
            if rights != node.rights:
                _revoke(node, node.rights & ~rights, True)
            del src.pages[node.vpn]
            node.space = dst
            node.vpn = target
            dst.pages[target] = node
        else:
            dst.pages[target] = Mapping(dst, target, node.frame, rights, node)
    return dbase


def _revoke(node: Mapping, rights: int, self_too: bool) -> int:
    """Take ``rights`` from the subtree below ``node`` (and from node if ``self_too``).

    Returns the status bits collected from the nodes visited (and clears them).
    """
    status = node.status
    node.status = 0
    for child in list(node.children):
        status |= _revoke(child, rights, True)
    if self_too and rights:
        node.rights &= ~rights
        if not node.rights:
            remove_subtree(node)
    return status


def unmap(space: Space, fpage: Fpage, flush: bool) -> Fpage:
    """X.2 Unmap of one fpage of ``space``: revoke ``fpage.rights`` from derived mappings.

    ``flush`` revokes from ``space``'s own mappings too.  Returns the fpage with the
    referenced/written status of the range (rights bits R/W/X) since the last query.
    """
    status = 0
    first = fpage.base >> PAGE_BITS
    count = 1 << (min(fpage.log2size, ADDRESS_BITS) - PAGE_BITS)
    pages = space.pages
    if count > len(pages):  # a large fpage over a small table: walk the table instead
        vpns = [v for v in pages if first <= v < first + count]
    else:
        vpns = [v for v in range(first, first + count) if v in pages]
    for v in vpns:
        node = pages.get(v)
        if node is not None:
            status |= _revoke(node, fpage.rights, flush)
    return fpage.with_rights(status)


def flush_space(space: Space) -> None:
    """Remove every mapping of ``space`` and everything derived from them (space deletion)."""
    for node in list(space.pages.values()):
        if space.pages.get(node.vpn) is node:
            remove_subtree(node)
