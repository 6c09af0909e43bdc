"""The ATA controller model (hwsim.ata) and the #S servant on a booted node, checked against
the image file on the host (os.pread) and an MBR made by sfdisk."""

from __future__ import annotations

import os
import pathlib
import random
import subprocess

import pytest

from hwsim.ata import (
    ABRT,
    COMMAND,
    COUNT,
    DEVICE,
    DRQ,
    ERR,
    ERROR,
    IDNF,
    LBA0,
    READ,
    WRITE,
    AtaController,
)
from hwsim.irq import InterruptController
from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR, OREAD, OWRITE
from lp49fs.node.boot import boot
from tests.lib_helpers import run_as

MiB = 1 << 20


def image(tmp_path: pathlib.Path, size: int = 4 * MiB, name: str = "d.img") -> pathlib.Path:
    p = tmp_path / name
    rnd = random.Random(7)
    p.write_bytes(rnd.randbytes(size))
    return p


def test_controller_registers(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path, 64 * 1024)
    irqc = InterruptController()
    lines: list[int] = []
    irqc.connect(lambda n: (lines.append(n), irqc.eoi(n)))
    c = AtaController(irqc, 14)
    c.attach(0, str(img))
    c.outb(COUNT, 2)
    c.outb(LBA0, 3)
    c.outb(DEVICE, 0xE0)
    c.outb(COMMAND, READ)
    assert lines == [14] and c.intrq
    st = c.inb(COMMAND)
    assert st & DRQ and not st & ERR and not c.intrq
    assert c.data_in(1024) == img.read_bytes()[3 * 512 : 5 * 512]
    assert not c.inb(COMMAND) & DRQ
    # write: DRQ without an interrupt, then one after the data; the file has the bytes
    c.outb(COUNT, 1)
    c.outb(COMMAND, WRITE)
    assert c.status & DRQ and lines == [14]
    c.data_out(b"x" * 512)
    assert lines == [14, 14] and img.read_bytes()[3 * 512 : 4 * 512] == b"x" * 512
    # past the end -> IDNF; unit 1 missing -> ABRT; both interrupt
    c.outb(LBA0, 200)
    c.outb(COMMAND, READ)
    assert c.inb(COMMAND) & ERR and c.inb(ERROR) == IDNF
    c.outb(DEVICE, 0xF0)
    c.outb(COMMAND, READ)
    assert c.inb(ERROR) == ABRT and lines == [14] * 4
    c.close()


def test_controller_readonly(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path, 8192)
    before = img.read_bytes()
    c = AtaController()
    assert c.attach(0, str(img), readonly=True).readonly
    c.outb(COUNT, 1)
    c.outb(DEVICE, 0xE0)
    c.outb(COMMAND, WRITE)
    assert c.inb(COMMAND) & ERR and c.inb(ERROR) == ABRT
    assert c.data_out(b"y" * 512) == 0 and img.read_bytes() == before
    c.close()
    img.chmod(0o444)
    if os.geteuid() != 0:  # root can write anything: the mode is honoured only for others
        c2 = AtaController()
        assert c2.attach(0, str(img)).readonly
        c2.close()


def mbr(img: pathlib.Path) -> None:
    script = "label: dos\nstart=2048, size=2048, type=6\nstart=4096, size=2048, type=83\n"
    subprocess.run(["sfdisk", "-q", str(img)], input=script.encode(), check=True)


async def test_sd_tree_and_ctl(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path, 4 * MiB)
    async with boot(ram=8 << 20, disks=(str(img),)) as node:

        async def body() -> None:
            names = sorted(d.name for d in await lib.dirreadall(await lib.open("/dev/sdC0", OREAD)))
            assert names == ["ctl", "data", "raw"]
            assert "sdctl" in [d.name for d in await lib.dirreadall(await lib.open("/dev", OREAD))]
            ctl = (await lib.readall(await lib.open("/dev/sdC0/ctl", OREAD))).decode()
            assert "inquiry LP49 HWSIM DISK\n" in ctl
            assert "geometry 8192 512\n" in ctl and "part data 0 8192\n" in ctl
            assert (await lib.stat("/dev/sdC0/data")).length == 4 * MiB
            fd = await lib.open("/dev/sdC0/ctl", OWRITE)
            await lib.write(fd, b"part dos 2048 4096\npart x 10 20\n")
            await lib.write(fd, b"delpart x\n")
            for bad in (b"part y 10 9000\n", b"part dos 1 2\n", b"delpart data\n", b"frob\n"):
                with pytest.raises(Error):
                    await lib.write(fd, bad)
            ctl = (await lib.readall(await lib.open("/dev/sdC0/ctl", OREAD))).decode()
            assert ctl.endswith("part data 0 8192\npart dos 2048 4096\n")
            d = await lib.stat("/dev/sdC0/dos")
            assert d.length == 2048 * 512
            pfd = await lib.open("/dev/sdC0/dos", OREAD)
            with pytest.raises(Error, match="in use"):
                await lib.write(fd, b"delpart dos\n")
            await lib.close(pfd)
            await lib.write(fd, b"delpart dos\n")
            with pytest.raises(Error):
                await lib.stat("/dev/sdC0/dos")
            sdctl = (await lib.readall(await lib.open("/dev/sdctl", OREAD))).decode()
            assert sdctl == "sdC ata port 0x1f0 irq 14 units 1\n"

        await run_as(node, body)
        assert node.machine.irqc.count[14] > 0  # completions came as interrupts


async def test_sd_read_write_any_offset(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path, 2 * MiB)
    model = bytearray(img.read_bytes())
    rnd = random.Random(3)
    async with boot(ram=8 << 20, disks=(str(img),)) as node:

        async def body() -> None:
            fd = await lib.open("/dev/sdC0/ctl", OWRITE)
            await lib.write(fd, b"part p 100 3000\n")
            pfd = await lib.open("/dev/sdC0/p", ORDWR)
            base = 100 * 512
            for _ in range(60):
                n = rnd.choice([1, 7, 511, 512, 513, 1500, 4096, 70000])
                off = rnd.randrange(0, 2900 * 512 - n)
                data = rnd.randbytes(n)
                assert await lib.pwrite(pfd, data, off) == n
                model[base + off : base + off + n] = data
                # acknowledged -> in the image file (write-through)
                assert img.read_bytes()[base + off : base + off + n] == data
                rn = rnd.choice([1, 100, 512, 1000, 9000])
                roff = rnd.randrange(0, 2900 * 512 - rn)
                want = bytes(model[base + roff : base + roff + rn])
                assert await lib.pread(pfd, rn, roff) == want
            end = 2900 * 512
            assert await lib.pread(pfd, 100, end - 10) == bytes(model[base + end - 10 : base + end])
            assert await lib.pread(pfd, 100, end) == b""
            assert await lib.pwrite(pfd, b"z" * 20, end - 5) == 5
            with pytest.raises(Error):
                await lib.pwrite(pfd, b"z", end)
            model[base + end - 5 : base + end] = b"z" * 5

        await run_as(node, body, timeout=60)
    assert img.read_bytes() == bytes(model)


async def test_sd_readonly_and_two_units(tmp_path: pathlib.Path) -> None:
    a, b = image(tmp_path, MiB, "a.img"), image(tmp_path, MiB // 2, "b.img")
    before = b.read_bytes()
    async with boot(ram=8 << 20, disks=(str(a), f"{b}:ro")) as node:

        async def body() -> None:
            assert (await lib.stat("/dev/sdC1/data")).mode & 0o777 == 0o440
            assert (await lib.stat("/dev/sdC0/data")).mode & 0o777 == 0o640
            with pytest.raises(Error):
                await lib.open("/dev/sdC1/data", OWRITE)
            ctl = (await lib.readall(await lib.open("/dev/sdC1/ctl", OREAD))).decode()
            assert " ro\n" in ctl and "geometry 1024 512" in ctl
            fd = await lib.open("/dev/sdC1/data", OREAD)
            assert await lib.pread(fd, 600, 300) == before[300:900]
            raw = await lib.open("/dev/sdC1/raw", ORDWR)
            await lib.write(raw, bytes([READ, 2, 5, 0, 0, 0]))
            assert await lib.pread(raw, 1024, 0) == before[5 * 512 : 7 * 512]
            await lib.write(raw, bytes([0xEC, 0, 0, 0, 0, 0]))
            ident = await lib.pread(raw, 512, 0)
            assert int.from_bytes(ident[120:124], "little") == 1024

        await run_as(node, body)
    assert b.read_bytes() == before


async def test_no_disk_node_has_empty_sd() -> None:
    async with boot(ram=8 << 20) as node:

        async def body() -> None:
            assert (await lib.readall(await lib.open("#S/sdctl", OREAD))) == b""
            names = [d.name for d in await lib.dirreadall(await lib.open("#S", OREAD))]
            assert names == ["sdctl"]

        await run_as(node, body)


def test_sfdisk_mbr_helper(tmp_path: pathlib.Path) -> None:
    img = image(tmp_path, 4 * MiB)
    mbr(img)
    assert img.read_bytes()[510:512] == b"\x55\xaa"

