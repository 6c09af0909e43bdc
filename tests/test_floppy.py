"""The floppy controller model (hwsim.fdc) and #f on a booted node, checked against the image
file on the host; a FAT floppy made by mkfs.fat served by dossrv from /dev/fd0disk."""

from __future__ import annotations

import pathlib
import random
import subprocess

import pytest
from dos_helpers import fsck, mget, mput
from lib_helpers import run_as

from hwsim.fdc import (
    DISKSIZE,
    DOR,
    FIFO,
    IRQEN,
    MSR,
    NDMA,
    NRESET,
    READ,
    RQM,
    SEEK,
    SENSEINT,
    WRITE,
    FloppyController,
)
from hwsim.irq import InterruptController
from lp49fs import lib
from lp49fs.core.mount import MCREATE, MREPL
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD, OWRITE
from lp49fs.node.boot import boot


def image(tmp: pathlib.Path, seed: int = 5) -> pathlib.Path:
    p = tmp / "fd.img"
    p.write_bytes(random.Random(seed).randbytes(DISKSIZE))
    return p


def test_controller_commands(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path)
    raw = img.read_bytes()
    irqc = InterruptController()
    lines: list[int] = []
    irqc.connect(lambda n: (lines.append(n), irqc.eoi(n)))
    c = FloppyController(irqc, 6)
    c.attach(0, str(img))
    c.outb(DOR, NRESET | IRQEN)
    assert lines == [6]  # leaving reset interrupts (Rule 4)
    c.outb(FIFO, SENSEINT)
    assert (c.inb(FIFO), c.inb(FIFO)) == (0xC0, 0)
    for b in (SEEK, 0, 3):
        c.outb(FIFO, b)
    assert lines == [6, 6]
    c.outb(FIFO, SENSEINT)
    assert (c.inb(FIFO), c.inb(FIFO)) == (0x20, 3)
    # read cylinder 3, head 1, sectors 5..7
    for b in (READ | 0x40, 4, 3, 1, 5, 2, 7, 0x1B, 0xFF):
        c.outb(FIFO, b)
    assert c.inb(MSR) & NDMA and lines == [6] * 3
    lba = (3 * 2 + 1) * 18 + 4
    assert c.data_in(3 * 512) == raw[lba * 512 : (lba + 3) * 512]
    assert lines == [6] * 4
    res = bytes(c.inb(FIFO) for _ in range(7))
    assert res == bytes((4, 0, 0, 3, 1, 8, 2)) and c.inb(MSR) == RQM
    # a write goes to the file before its result interrupt
    for b in (WRITE | 0x40, 0, 3, 0, 1, 2, 1, 0x1B, 0xFF):
        c.outb(FIFO, b)
    c.data_out(b"w" * 512)
    assert img.read_bytes()[3 * 36 * 512 : 3 * 36 * 512 + 512] == b"w" * 512
    assert bytes(c.inb(FIFO) for _ in range(7))[:2] == b"\0\0"
    # the head is on cylinder 3: asking for 4 there is "no data"; a sector 19 likewise
    for cmd in ((READ | 0x40, 0, 4, 0, 1, 2, 1, 0x1B, 0xFF),
                (READ | 0x40, 0, 3, 0, 19, 2, 19, 0x1B, 0xFF)):  # fmt: skip
        for b in cmd:
            c.outb(FIFO, b)
        res = bytes(c.inb(FIFO) for _ in range(7))
        assert res[0] & 0x40 and res[1] == 0x04
    c.close()


def test_controller_readonly_and_empty(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path)
    before = img.read_bytes()
    c = FloppyController()
    c.attach(0, str(img), readonly=True)
    c.outb(DOR, NRESET)
    for b in (WRITE | 0x40, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF):
        c.outb(FIFO, b)
    res = bytes(c.inb(FIFO) for _ in range(7))
    assert res[0] & 0x40 and res[1] == 0x02  # not writable
    c.eject(0)
    for b in (READ | 0x40, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF):
        c.outb(FIFO, b)
    assert bytes(c.inb(FIFO) for _ in range(7))[0] & 0x48 == 0x48  # not ready
    assert img.read_bytes() == before
    with pytest.raises(ValueError):
        (tmp_path / "small.img").write_bytes(bytes(1000))
        c.attach(1, str(tmp_path / "small.img"))


async def test_fd0disk_reads_and_writes_at_any_offset(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path)
    model = bytearray(img.read_bytes())
    rnd = random.Random(11)

    async def body() -> None:
        assert sorted(d.name for d in await lib.dirreadall(await lib.open("#f", OREAD))) == [
            "fd0ctl", "fd0disk"]  # fmt: skip
        assert (await lib.stat("/dev/fd0disk")).length == DISKSIZE
        fd = await lib.open("/dev/fd0disk", ORDWR)
        for _ in range(25):
            off = rnd.randrange(DISKSIZE - 30000)
            data = rnd.randbytes(rnd.randrange(1, 30000))
            assert await lib.pwrite(fd, data, off) == len(data)
            model[off : off + len(data)] = data
            roff = rnd.randrange(DISKSIZE)
            assert await lib.pread(fd, 20000, roff) == bytes(model[roff : roff + 20000])
        assert await lib.pread(fd, 100, DISKSIZE) == b""
        await lib.close(fd)
        ctl = await lib.open("/dev/fd0ctl", ORDWR)
        assert await lib.read(ctl, 100) == "3½HD\n".encode()
        await lib.write(ctl, b"reset")
        await lib.close(ctl)

    async with boot(floppy=str(img)) as node:
        assert await run_as(node, body, timeout=60) == ""
    assert img.read_bytes() == bytes(model)


async def test_readonly_floppy_and_eject(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path)
    before = img.read_bytes()

    async def body() -> None:
        fd = await lib.open("/dev/fd0disk", OREAD)
        assert await lib.pread(fd, 10, 512) == before[512:522]
        await lib.close(fd)
        with pytest.raises(Error):
            await lib.open("/dev/fd0disk", OWRITE)  # mode 0440
        ctl = await lib.open("/dev/fd0ctl", OWRITE)
        await lib.write(ctl, b"eject")
        with pytest.raises(Error):
            await lib.write(ctl, "format 3½DD".encode())
        await lib.close(ctl)
        assert (await lib.stat("/dev/fd0disk")).length == 0
        fd = await lib.open("/dev/fd0disk", OREAD)
        with pytest.raises(Error):
            await lib.pread(fd, 10, 0)

    async with boot(floppy=f"{img}:ro") as node:
        assert await run_as(node, body, timeout=60) == ""
    assert img.read_bytes() == before


async def test_dossrv_on_a_fat_floppy(tmp_path: pathlib.Path) -> None:
    """mkfs.fat makes the floppy, mtools puts a file on it; dossrv serves /dev/fd0disk."""
    img = tmp_path / "fd.img"
    subprocess.run(["mkfs.fat", "-C", str(img), "1440"], check=True, capture_output=True)
    mput(img, "ON FLOPPY.TXT", b"a floppy file\n", tmp_path)

    async def body() -> None:
        await lib.spawn("dossrv", ["dossrv", "-f", "/dev/fd0disk", "floppy"], lib.RFPROC, None)
        while True:
            try:
                fd = await lib.open("/srv/floppy", ORDWR)
                break
            except Error:
                await lib.sleep(10)
        await lib.mount(fd, -1, "/tmp", MREPL | MCREATE, "")
        f = await lib.open("/tmp/on floppy.txt", OREAD)
        assert await lib.read(f, 100) == b"a floppy file\n"
        await lib.close(f)
        f = await lib.create("/tmp/written.bin", OWRITE, 0o644)
        await lib.write(f, bytes(range(256)) * 100)
        await lib.close(f)

    async with boot(floppy=str(img)) as node:
        assert await run_as(node, body, timeout=60) == ""
    fsck(img)
    assert mget(img, "written.bin") == bytes(range(256)) * 100
