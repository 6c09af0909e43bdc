"""The partition dossrv serves, reached with system calls (``Volume``'s ``Disk``).

``opendisk(path)`` opens the partition file (``/dev/sdC0/dos``, or any file of the name
space holding a FAT image) for reading and writing, or for reading only when that is all it
allows (a ``:ro`` disk: its partition files are mode 0440); the length comes from ``fstat``.
Reads and writes are ``pread``/``pwrite`` on the fd (the library moves MAXIO a call); ``#S``
does the sector arithmetic (any offset and length), so the server works in bytes.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.errors import Error, Ewprotect
from lp49fs.ninep import ORDWR, OREAD


class FdDisk:
    """A partition file open in this process."""

    def __init__(self, fd: int, size: int, readonly: bool) -> None:
        self.fd = fd
        self.size = size
        self.readonly = readonly

    async def read(self, offset: int, count: int) -> bytes:
        parts = []
        while count > 0:
            got = await lib.pread(self.fd, count, offset)  # at most MAXIO a call
            if not got:
                break
            parts.append(got)
            offset += len(got)
            count -= len(got)
        return b"".join(parts)

    async def write(self, offset: int, data: bytes) -> None:
        if self.readonly:
            raise Error(Ewprotect)
        await lib.pwrite(self.fd, data, offset)

    async def close(self) -> None:
        await lib.close(self.fd)


async def opendisk(path: str) -> FdDisk:
    """The partition file ``path``, read-write if it may be written, else read-only."""
    try:
        fd, ro = await lib.open(path, ORDWR), False
    except Error:
        fd, ro = await lib.open(path, OREAD), True
    try:
        size = (await lib.fstat(fd)).length
    except Error:
        await lib.close(fd)
        raise
    return FdDisk(fd, size, ro)
