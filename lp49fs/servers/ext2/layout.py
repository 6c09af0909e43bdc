"""ext2 on-disk records: the superblock, group descriptors and inodes as views of bytes.

Each record is a ``Record``: a bytearray plus a table of ``name -> (offset, struct
format)``, so ``sb.blocks_count`` reads a little-endian field in place and assigning it
writes the bytes back.  Writing a record to the disk is the caller's business (``cache``).

Layout facts (the ext2 on-disk format as e2fsprogs documents it):

* The superblock is 1024 bytes at byte offset 1024 whatever the block size; block 0 is then
  the boot block with 1 KiB blocks (``first_data_block`` 1) and holds the superblock with
  larger ones (``first_data_block`` 0).
* The group descriptor table starts in the block after the superblock's; a descriptor is
  32 bytes.  With ``sparse_super``, backups of both sit in groups 0, 1 and powers of 3, 5
  and 7; without it, in every group.  Only the primary copies are kept up to date (the
  Linux driver does the same; e2fsck reads the primary).
* Revision 0 has 128-byte inodes and first inode 11; revision 1 says both in the
  superblock.  Only the first 128 bytes of an inode are interpreted; the rest of a larger
  inode is kept as it is (a new inode gets ``extra_isize`` 32, as e2fsprogs writes).

``check(sb)`` validates the geometry before anything else is read and decides, from the
feature bits, whether the image may be written: unknown or unsupported *incompat* bits
refuse the image (``flex_bg`` is accepted: it only moves bitmaps and tables, which the
descriptors locate), unknown *ro_compat* bits (and a journal, and checksums we would have
to keep) make it read-only; *compat* bits are safe to ignore by definition.  The reason
is returned for the log and for errors.
"""

from __future__ import annotations

import struct
from typing import ClassVar

from lp49fs.errors import Eext2bad, Eext2feature, Error

SBOFF = 1024  # byte offset of the superblock
SBSIZE = 1024
MAGIC = 0xEF53
GDSIZE = 32
ROOTINO = 2
GOOD_OLD_INODE_SIZE = 128
NDIR, IND, DIND, TIND = 12, 12, 13, 14  # i_block slots

# feature bits
COMPAT_HAS_JOURNAL = 0x4
COMPAT_EXT_ATTR = 0x8
COMPAT_RESIZE_INODE = 0x10
COMPAT_DIR_INDEX = 0x20
INCOMPAT_FILETYPE = 0x2
INCOMPAT_FLEX_BG = 0x200  # only moves bitmaps and tables: the descriptors say where
INCOMPAT_NAMES = {0x1: "compression", 0x4: "needs_recovery", 0x8: "journal_dev",
                  0x10: "meta_bg", 0x40: "extent", 0x80: "64bit", 0x100: "mmp",
                  0x200: "flex_bg", 0x400: "ea_inode", 0x1000: "dirdata",
                  0x2000: "metadata_csum_seed", 0x4000: "large_dir", 0x8000: "inline_data",
                  0x10000: "encrypt", 0x20000: "casefold"}  # fmt: skip
RO_SPARSE_SUPER = 0x1
RO_LARGE_FILE = 0x2
RO_OK = RO_SPARSE_SUPER | RO_LARGE_FILE | 0x4  # 0x4: btree_dir, never used
RO_NAMES = {0x8: "huge_file", 0x10: "gdt_csum", 0x20: "dir_nlink", 0x40: "extra_isize",
            0x100: "quota", 0x200: "bigalloc", 0x400: "metadata_csum"}  # fmt: skip


class Record:
    """A fixed-layout little-endian record over ``raw`` (fields in ``FIELDS``)."""

    FIELDS: ClassVar[dict[str, tuple[int, str]]] = {}

    raw: bytearray | memoryview

    def __init__(self, raw: bytearray | memoryview) -> None:
        object.__setattr__(self, "raw", raw)

    def __getattr__(self, name: str) -> int:
        try:
            off, fmt = self.FIELDS[name]
        except KeyError:
            raise AttributeError(name) from None
        v: int = struct.unpack_from("<" + fmt, self.raw, off)[0]
        return v

    def __setattr__(self, name: str, value: int) -> None:
        off, fmt = self.FIELDS[name]
        struct.pack_into("<" + fmt, self.raw, off, value)


def _fields(spec: str) -> dict[str, tuple[int, str]]:
    """``"name:fmt name:fmt @off name:fmt"`` -> offsets, packed in order (``@`` skips to)."""
    out, off = {}, 0
    for item in spec.split():
        if item.startswith("@"):
            off = int(item[1:])
            continue
        name, fmt = item.split(":")
        out[name] = (off, fmt)
        off += struct.calcsize("<" + fmt)
    return out


class Superblock(Record):
    FIELDS = _fields(
        "inodes_count:I blocks_count:I r_blocks_count:I free_blocks_count:I"
        " free_inodes_count:I first_data_block:I log_block_size:I log_frag_size:I"
        " blocks_per_group:I frags_per_group:I inodes_per_group:I mtime:I wtime:I"
        " mnt_count:H max_mnt_count:h magic:H state:H errors:H minor_rev_level:H"
        " lastcheck:I checkinterval:I creator_os:I rev_level:I def_resuid:H def_resgid:H"
        " first_ino:I inode_size:H block_group_nr:H feature_compat:I feature_incompat:I"
        " feature_ro_compat:I @206 reserved_gdt_blocks:H"
    )


class GroupDesc(Record):
    FIELDS = _fields(
        "block_bitmap:I inode_bitmap:I inode_table:I free_blocks_count:H"
        " free_inodes_count:H used_dirs_count:H flags:H"
    )


class Inode(Record):
    FIELDS = _fields(
        "mode:H uid:H size:I atime:I ctime:I mtime:I dtime:I gid:H links_count:H"
        " blocks:I flags:I osd1:I @100 generation:I file_acl:I size_high:I faddr:I"
        " @120 uid_high:H gid_high:H @128 extra_isize:H"
    )

    def __init__(self, raw: bytearray, ino: int = 0) -> None:
        super().__init__(raw)
        object.__setattr__(self, "ino", ino)  # the inode number (not on disk)

    def owner(self) -> int:
        """The 32-bit uid (low and high halves)."""
        return self.uid | self.uid_high << 16

    def group(self) -> int:
        return self.gid | self.gid_high << 16

    def block(self, i: int) -> int:
        """i_block[i]: 0-11 direct, 12 indirect, 13 double, 14 triple."""
        v: int = struct.unpack_from("<I", self.raw, 40 + 4 * i)[0]
        return v

    def setblock(self, i: int, blk: int) -> None:
        struct.pack_into("<I", self.raw, 40 + 4 * i, blk)


def block_size(sb: Superblock) -> int:
    return 1024 << sb.log_block_size


def ngroups(sb: Superblock) -> int:
    return -(-(sb.blocks_count - sb.first_data_block) // sb.blocks_per_group)


def inode_size(sb: Superblock) -> int:
    return sb.inode_size if sb.rev_level >= 1 else GOOD_OLD_INODE_SIZE


def first_ino(sb: Superblock) -> int:
    return sb.first_ino if sb.rev_level >= 1 else 11


def has_super(sb: Superblock, group: int) -> bool:
    """Does ``group`` hold a superblock backup (and a descriptor table copy)?"""
    if group <= 1 or not (sb.rev_level >= 1 and sb.feature_ro_compat & RO_SPARSE_SUPER):
        return True
    for base in (3, 5, 7):
        n = base
        while n < group:
            n *= base
        if n == group:
            return True
    return False


def check(sb: Superblock, size: int) -> str:
    """Validate the superblock of a ``size``-byte partition.

    Returns "" if it may be written, else why it is read-only; raises Error(Eext2bad) for a
    geometry that makes no sense and Error(Eext2feature) for an incompat feature.
    """
    if sb.magic != MAGIC:
        raise Error(f"{Eext2bad}: no ext2 magic number")
    if sb.rev_level > 1 or sb.log_block_size > 31:
        raise Error(f"{Eext2bad}: revision {sb.rev_level}, block size code {sb.log_block_size}")
    if sb.log_block_size > 2:
        raise Error(f"{Eext2feature}: block size {1024 << sb.log_block_size}")
    bs = block_size(sb)
    isz = inode_size(sb)
    if sb.first_data_block != (1 if bs == 1024 else 0):
        raise Error(f"{Eext2bad}: first data block {sb.first_data_block}")
    if isz < GOOD_OLD_INODE_SIZE or isz > bs or isz & (isz - 1):
        raise Error(f"{Eext2bad}: inode size {isz}")
    if not 0 < sb.blocks_per_group <= 8 * bs or not 0 < sb.inodes_per_group <= 8 * bs:
        raise Error(f"{Eext2bad}: group sizes {sb.blocks_per_group} {sb.inodes_per_group}")
    if sb.blocks_count * bs > size or sb.blocks_count <= sb.first_data_block:
        raise Error(f"{Eext2bad}: {sb.blocks_count} blocks do not fit the partition")
    if sb.inodes_count != sb.inodes_per_group * ngroups(sb):
        raise Error(f"{Eext2bad}: inode count {sb.inodes_count}")
    if sb.rev_level == 0:
        return ""
    bad = sb.feature_incompat & ~(INCOMPAT_FILETYPE | INCOMPAT_FLEX_BG)
    if bad:
        names = [n for bit, n in INCOMPAT_NAMES.items() if bad & bit] or [hex(bad)]
        raise Error(f"{Eext2feature}: {' '.join(names)}")
    why = []
    if sb.feature_compat & COMPAT_HAS_JOURNAL:
        why.append("has_journal")
    ro = sb.feature_ro_compat & ~RO_OK
    if ro:
        why += [n for bit, n in RO_NAMES.items() if ro & bit] or [hex(ro)]
    return " ".join(why)
