"""The FAT boot sector (BPB) and the volume geometry it implies (Microsoft's fatgen103).

Layout of sector 0 used here (little-endian): BytsPerSec @11 (2), SecPerClus @13 (1),
RsvdSecCnt @14 (2), NumFATs @16 (1), RootEntCnt @17 (2), TotSec16 @19 (2), FATSz16 @22 (2),
TotSec32 @32 (4); FAT32 only: FATSz32 @36 (4), RootClus @44 (4), FSInfo @48 (2).  The sector
ends in 0x55 0xAA.

Rules:

1. The FAT type is decided by the count of data clusters alone, as fatgen103 says: fewer than
   4085 is FAT12, fewer than 65525 FAT16, else FAT32 (never by the "FAT16" label string).
2. A boot sector is refused (``Error(Ebadfs)``) unless: bytes per sector is a power of two
   from 512 to 4096, sectors per cluster a power of two up to 128, at least one reserved
   sector and one FAT, the regions fit inside the partition, and there is a data cluster.
   A refused volume is never written.
3. Cluster ``n`` (2 <= n < nclusters + 2) starts at byte ``data + (n - 2) * clustersize`` of
   the partition; the FAT12/16 root directory is the fixed region of ``rootents`` entries
   at byte ``rootdir``, the FAT32 root is the chain starting at ``rootclus``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lp49fs.errors import Ebadfs, Error

FAT12, FAT16, FAT32 = 12, 16, 32


@dataclass(frozen=True, slots=True)
class Bpb:
    """The geometry of one FAT volume, in bytes unless named otherwise."""

    fattype: int  # 12, 16 or 32 (Rule 1)
    secsize: int  # bytes per sector
    clustersize: int  # bytes per cluster
    nfats: int  # FAT copies
    fat: int  # byte offset of the first FAT
    fatsize: int  # bytes of one FAT copy
    rootdir: int  # byte offset of the FAT12/16 root directory (0 on FAT32)
    rootents: int  # entries of the FAT12/16 root directory (0 on FAT32)
    data: int  # byte offset of cluster 2
    nclusters: int  # data clusters: valid cluster numbers are 2 .. nclusters + 1
    rootclus: int  # FAT32: first cluster of the root directory
    fsinfo: int  # FAT32: byte offset of the FSInfo sector (0: none)

    def cluster(self, n: int) -> int:
        """Byte offset of cluster ``n`` (Rule 3)."""
        return self.data + (n - 2) * self.clustersize


def _pow2(n: int, lo: int, hi: int) -> bool:
    return lo <= n <= hi and n & (n - 1) == 0


def parse(sector: bytes, partsize: int) -> Bpb:
    """The Bpb of boot sector ``sector`` on a partition of ``partsize`` bytes (Rule 2)."""
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        raise Error(Ebadfs)
    secsize, spc, rsvd, nfats, rootents, tot16, _, fatsz16 = struct.unpack_from(
        "<HBHBHHBH", sector, 11
    )
    (tot32,) = struct.unpack_from("<I", sector, 32)
    fatsz32, _, _, rootclus, fsinfo = struct.unpack_from("<IHHIH", sector, 36)
    fatsz = fatsz16 or fatsz32
    total = tot16 or tot32
    if not (_pow2(secsize, 512, 4096) and _pow2(spc, 1, 128) and rsvd and nfats and fatsz):
        raise Error(Ebadfs)
    rootsecs = (rootents * 32 + secsize - 1) // secsize
    datasec = total - (rsvd + nfats * fatsz + rootsecs)
    if datasec < spc or total * secsize > partsize:
        raise Error(Ebadfs)
    nclusters = datasec // spc
    fattype = FAT12 if nclusters < 4085 else FAT16 if nclusters < 65525 else FAT32
    if fattype == FAT32 and (rootents or fatsz16 or not 2 <= rootclus < nclusters + 2):
        raise Error(Ebadfs)
    if fattype != FAT32 and not rootents:
        raise Error(Ebadfs)
    need = (nclusters + 2) * {FAT12: 1.5, FAT16: 2, FAT32: 4}[fattype]
    if fatsz * secsize < need:
        raise Error(Ebadfs)
    fat = rsvd * secsize
    return Bpb(
        fattype=fattype,
        secsize=secsize,
        clustersize=spc * secsize,
        nfats=nfats,
        fat=fat,
        fatsize=fatsz * secsize,
        rootdir=0 if fattype == FAT32 else fat + nfats * fatsz * secsize,
        rootents=0 if fattype == FAT32 else rootents,
        data=(rsvd + nfats * fatsz + rootsecs) * secsize,
        nclusters=nclusters,
        rootclus=rootclus if fattype == FAT32 else 0,
        fsinfo=fsinfo * secsize if fattype == FAT32 and 0 < fsinfo < rsvd else 0,
    )
