"""The kernel information page (KIP): what the kernel tells every space about itself.

The KIP is a read-only value (a frozen dataclass) and a 4 KiB byte image in a reserved RAM
frame, mapped read-only into a space by SpaceControl at its KIP area.  The image follows the
X.2 offsets of REFERENCE §5.8 for the fields the model has (magic, ApiVersion, ApiFlags,
MemoryInfo, ThreadInfo, PageInfo, ProcessorInfo, ClockInfo); the rest stays zero.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kernel.types import PAGE_SIZE

KIP_MAGIC = b"L4\xe6K"
API_VERSION_X2 = 0x84
MEMDESC_CONVENTIONAL = 1
MEMDESC_RESERVED = 2
_MEMDESC_OFFSET = 0x100  # where the memory descriptors sit in the image


@dataclass(frozen=True, slots=True)
class KernelInfoPage:
    """The KIP fields the model fills in."""

    api_version: int  # 0x84 = X.2
    api_flags: int  # 0: little endian, 32-bit words
    kernel_id: str  # who we are
    system_base: int  # first kernel thread number (below: interrupt threads)
    user_base: int  # first user thread number (sigma0 = user_base, root = user_base + 2)
    thread_bits: int  # valid bits of a thread number
    page_size_mask: int  # supported page sizes (bit n = 2**n bytes)
    page_rights: int  # rwx the hardware can enforce
    processors: int  # number of CPUs
    clock_resolution_us: int  # SystemClock resolution
    memory: tuple[tuple[int, int, int], ...]  # (base, size, type) descriptors
    kip_frame: int  # the frame holding the image

    def to_bytes(self) -> bytes:
        """The 4 KiB image with X.2 offsets (little endian)."""
        img = bytearray(PAGE_SIZE)
        img[0:4] = KIP_MAGIC
        struct.pack_into("<II", img, 0x04, self.api_version << 24, self.api_flags)
        struct.pack_into("<I", img, 0x54, _MEMDESC_OFFSET << 16 | len(self.memory))
        for i, (base, size, typ) in enumerate(self.memory):
            low = (base >> 10) << 10 | typ
            high = ((base + size - 1) >> 10) << 10
            struct.pack_into("<II", img, _MEMDESC_OFFSET + 8 * i, low, high)
        struct.pack_into("<I", img, 0xC0, self.clock_resolution_us)
        thread_info = self.user_base << 20 | self.system_base << 8 | self.thread_bits
        struct.pack_into("<III", img, 0xC4, thread_info, self.page_size_mask | self.page_rights,
                         self.processors - 1)
        kid = self.kernel_id.encode()[:32]
        img[0x200 : 0x200 + len(kid)] = kid
        return bytes(img)

    @classmethod
    def parse(cls, img: bytes, kip_frame: int = 0) -> KernelInfoPage:
        """Read the fields back from an image (what a user program does with its KIP)."""
        if img[0:4] != KIP_MAGIC:
            raise ValueError("not a KIP")
        ver, flags = struct.unpack_from("<II", img, 0x04)
        (meminfo,) = struct.unpack_from("<I", img, 0x54)
        off, n = meminfo >> 16, meminfo & 0xFFFF
        mem = []
        for i in range(n):
            low, high = struct.unpack_from("<II", img, off + 8 * i)
            base = (low >> 10) << 10
            mem.append((base, ((high >> 10) << 10) + 1024 - base, low & 0xF))
        (clock,) = struct.unpack_from("<I", img, 0xC0)
        ti, pi, proc = struct.unpack_from("<III", img, 0xC4)
        kid = img[0x200:0x220].rstrip(b"\0").decode()
        return cls(ver >> 24, flags, kid, (ti >> 8) & 0xFFF, ti >> 20, ti & 0xFF,
                   pi & ~7, pi & 7, proc + 1, clock, tuple(mem), kip_frame)
