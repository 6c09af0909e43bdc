"""fdisk -p on disks partitioned by the real sfdisk: the part lines, and the #S files they make
when written to the unit's ctl (as the boot does)."""

from __future__ import annotations

import pathlib
import struct
import subprocess

import pytest
import trio
from sh_helpers import run

from lp49fs.node.boot import boot

MiB = 1 << 20


def sfdisk(img: pathlib.Path, size: int, script: str) -> None:
    img.write_bytes(b"")
    with img.open("r+b") as f:
        f.truncate(size)
    subprocess.run(["sfdisk", "-q", str(img)], input=script.encode(), check=True,
                   capture_output=True)  # fmt: skip


async def fdisk(img: pathlib.Path, write_ctl: bool = False) -> tuple[str, str, list[str]]:
    """(stdout, stderr) of fdisk -p on the image as sdC0, and with ``write_ctl`` the unit's
    files after its output was written to the ctl."""
    async with boot(disks=(str(img),)) as node:
        r = await run(node, "fdisk", ["-p", "/dev/sdC0/data"])
        assert r.status == "", r
        files: list[str] = []
        if write_ctl:
            w = await run(node, "sh", ["-c", "fdisk -p /dev/sdC0/data >/dev/sdC0/ctl; "
                                             "cd /dev/sdC0; ls"])  # fmt: skip
            assert w.status == "", w
            files = sorted(w.out.split())
        return r.out, r.err, files


async def test_primaries_of_each_family(tmp_path: pathlib.Path) -> None:
    img = tmp_path / "d.img"
    sfdisk(img, 16 * MiB, "label: dos\n"
           "start=2048, size=4096, type=6\nstart=6144, size=4096, type=83\n"
           "start=10240, size=4096, type=c\nstart=14336, type=83\n")  # fmt: skip
    out, err, files = await fdisk(img, write_ctl=True)
    assert out.splitlines() == ["part dos 2048 6144", "part linux 6144 10240",
                                "part dos1 10240 14336", "part linux1 14336 32768"]  # fmt: skip
    assert err == ""
    assert files == ["ctl", "data", "dos", "dos1", "linux", "linux1", "raw"]


@pytest.mark.parametrize("ptype", ["1", "4", "6", "b", "c", "e"])
async def test_every_fat_type_is_dos(tmp_path: pathlib.Path, ptype: str) -> None:
    img = tmp_path / "d.img"
    sfdisk(img, 4 * MiB, f"label: dos\nstart=2048, size=2048, type={ptype}\n")
    out, _, _ = await fdisk(img)
    assert out == "part dos 2048 4096\n"


async def test_logical_partitions(tmp_path: pathlib.Path) -> None:
    """An extended partition's EBR chain, as sfdisk lays it out, gives the logical ones in
    order after the primaries."""
    img = tmp_path / "d.img"
    sfdisk(img, 16 * MiB, "label: dos\nstart=2048, size=4096, type=83\n"
           "start=6144, type=5\nstart=8192, size=4096, type=6\n"
           "start=14336, size=4096, type=83\nstart=20480, type=b\n")  # fmt: skip
    listed = subprocess.run(["sfdisk", "-d", str(img)], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert "type=5" in listed
    out, err, _ = await fdisk(img)
    assert out.splitlines() == ["part linux 2048 6144", "part dos 8192 12288",
                                "part linux1 14336 18432", "part dos1 20480 32768"]  # fmt: skip
    assert err == ""


async def test_no_mbr_gives_no_lines(tmp_path: pathlib.Path) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(MiB))
    fat = tmp_path / "fat.img"
    subprocess.run(["mkfs.fat", "-C", str(fat), "1024"], check=True, capture_output=True)
    for img in (blank, fat):
        out, err, files = await fdisk(img, write_ctl=True)
        assert (out, err) == ("", ""), img
        assert files == ["ctl", "data", "raw"]


async def test_bad_entries_are_reported_and_skipped(tmp_path: pathlib.Path) -> None:
    """A partition past the end of the disk (the image was cut after sfdisk wrote it) and one
    overlapping another are not printed; fdisk says why and the good one is still there."""
    img = tmp_path / "d.img"
    sfdisk(img, 8 * MiB, "label: dos\nstart=2048, size=2048, type=6\n"
           "start=8192, size=4096, type=83\n")  # fmt: skip
    raw = bytearray(img.read_bytes())
    # a third entry overlapping the first
    raw[446 + 32 : 462 + 32] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 3000, 100)
    img.write_bytes(bytes(raw[: 5 * MiB]))  # the linux one now ends past the disk
    with trio.fail_after(30):
        out, err, _ = await fdisk(img)
    assert out == "part dos 2048 4096\n"
    assert "past the disk's 10240 sectors" in err and "overlaps another partition" in err
