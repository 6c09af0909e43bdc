"""#S sd: the machine's ATA disks as files (Plan 9 ``devsd.c`` with ``sdata.c``).

Tree (Plan 9 sd(3))::

    #S/sdctl              one line per controller: sdC ata port 0x1f0 irq 14 units 2
    #S/sdC0/ctl           inquiry, config, geometry and part lines; write part/delpart
    #S/sdC0/raw           write a command block, read its data (see below)
    #S/sdC0/data          the whole disk
    #S/sdC0/<part>        each partition written to ctl (``fdisk -p`` at boot)

Boot binds ``#S`` after ``#c`` on ``/dev``, so these are ``/dev/sdctl`` and ``/dev/sdC0/...``.

Theory of operation.  ``reset`` finds the ``hwsim.ata.AtaController`` devices on the machine's
bus (``ata0`` = channel C, ``ata1`` = D) and makes one driver (``sdata.Ata``) per channel.
The boot makes a driver thread per channel that receives its interrupt IPC and calls
``interrupt(line)``; only then can commands complete, so the units are probed
(IDENTIFY DEVICE) by ``probe()``, which the boot awaits and ``attach`` runs if needed.
Reads and writes of partition files go through ``sdunit.SdUnit`` (any offset and length,
read-modify-write of partial sectors); a unit whose image is read-only has files mode 0440.

Qid paths: root 0, sdctl 1; unit ``k`` (in probe order) is ``(k+1) << 24`` plus a kind in
bits 20-23 (0 the directory, 1 ctl, 2 raw, 3 a partition whose id is bits 0-19).

``raw``: a write of 6 bytes ``command count lba0 lba1 lba2 lba3`` runs IDENTIFY (0xEC), READ
SECTORS (0x20) or FLUSH CACHE (0xE7) on the unit; the next reads return the command's data.
Other commands -> ``Error(Ebadarg)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from hwsim.ata import FLUSH, IDENTIFY, READ, AtaController
from lp49fs.core.chan import COPEN, Chan, Walkqid
from lp49fs.core.dev import Servant
from lp49fs.errors import Ebadarg, Eio, Enonexist, Eperm, Error, Ewprotect
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Dir, Qid
from lp49fs.servants.sdata import Ata
from lp49fs.servants.sdunit import Part, SdUnit

KDIR, KCTL, KRAW, KPART = 0, 1, 2, 3
QSDCTL = 1
ROOTQID = Qid(QTDIR, 0, 0)


def _qpath(k: int, kind: int, pid: int = 0) -> int:
    return (k + 1) << 24 | kind << 20 | pid


def _split(path: int) -> tuple[int, int, int]:
    """(unit index or -1 for the root level, kind, partition id)."""
    return (path >> 24) - 1, path >> 20 & 0xF, path & 0xFFFFF


class Sd(Servant):
    """``#S``: disks on the machine's ATA channels."""

    dc = "S"
    name = "sd"

    def __init__(self, core: object) -> None:
        super().__init__(core)  # type: ignore[arg-type]
        self.channels: list[tuple[str, AtaController, Ata]] = []  # (sdC, controller, driver)
        self.units: list[SdUnit] = []
        self.probed = False

    def reset(self) -> None:
        machine = self.core.machine
        if machine is None:
            return
        for i, (_, ctlr) in enumerate(machine.bus.find(AtaController)):
            self.channels.append((f"sd{'CDEF'[i]}", ctlr, Ata(ctlr)))

    def interrupt(self, line: int) -> None:
        """The driver thread's call for an interrupt IPC of ``line``."""
        for _, ctlr, ata in self.channels:
            if ctlr.line == line:
                ata.interrupt()

    async def probe(self) -> None:
        """IDENTIFY every attached unit (needs the driver threads running)."""
        if self.probed:
            return
        self.probed = True
        for prefix, ctlr, ata in self.channels:
            for u, unit in enumerate(ctlr.units):
                if unit is None:
                    continue
                ident = await ata.identify(u)
                self.units.append(SdUnit(f"{prefix}{u}", ata, u, ident, unit.readonly))

    def unit(self, name: str) -> SdUnit | None:
        for u in self.units:
            if u.name == name:
                return u
        return None

    # ---- the tree ---------------------------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        k, kind, _ = _split(c.qid.path)
        if c.qid.path == 0:
            if i == 0:
                return self.devdir(c, Qid(QTFILE, 0, QSDCTL), "sdctl", 0, self.core.eve, 0o640)
            if i - 1 < len(self.units):
                u = self.units[i - 1]
                return self.devdir(c, Qid(QTDIR, 0, _qpath(i - 1, KDIR)), u.name, 0,
                                   self.core.eve, DMDIR | 0o555)  # fmt: skip
            return None
        if kind != KDIR or not 0 <= k < len(self.units):
            return None
        u = self.units[k]
        rw = 0o440 if u.readonly else 0o640
        if i == 0:
            return self.devdir(c, Qid(QTFILE, 0, _qpath(k, KCTL)), "ctl", 0, self.core.eve, 0o640)
        if i == 1:
            return self.devdir(c, Qid(QTFILE, 0, _qpath(k, KRAW)), "raw", 0, self.core.eve, 0o600)
        if i - 2 < len(u.parts):
            p = u.parts[i - 2]
            return self.devdir(c, Qid(QTFILE, 0, _qpath(k, KPART, p.id)), p.name,
                               p.sectors * u.secsize, self.core.eve, rw)  # fmt: skip
        return None

    def parent(self, c: Chan) -> Qid:
        k, kind, _ = _split(c.qid.path)
        if k < 0 or c.qid.path == 0:
            return ROOTQID
        return ROOTQID if kind == KDIR else Qid(QTDIR, 0, _qpath(k, KDIR))

    def _part(self, c: Chan) -> tuple[SdUnit, Part]:
        k, _, pid = _split(c.qid.path)
        if not 0 <= k < len(self.units):
            raise Error(Enonexist)
        u = self.units[k]
        p = u.byid(pid)
        if p is None:
            raise Error(Enonexist)
        return u, p

    # ---- the method table ---------------------------------------------------------------

    async def attach(self, spec: str) -> Chan:
        await self.probe()
        c = self.devattach(spec)
        c.qid = ROOTQID
        if spec:  # #SsdC0: the unit's directory
            u = self.unit(spec)
            if u is None:
                raise Error(Enonexist)
            c.qid = Qid(QTDIR, 0, _qpath(self.units.index(u), KDIR))
        return c

    async def walk(self, c: Chan, names: Sequence[str]) -> Walkqid:
        return self.devwalk(c, names)

    async def stat(self, c: Chan) -> Dir:
        return self.devstat(c)

    async def open(self, c: Chan, omode: int) -> Chan:
        c = self.devopen(c, omode)
        if _split(c.qid.path)[1] == KPART:
            self._part(c)[1].nopen += 1
        return c

    async def close(self, c: Chan) -> None:
        if c.flag & COPEN and _split(c.qid.path)[1] == KPART:
            try:
                self._part(c)[1].nopen -= 1
            except Error:
                pass

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.qid.type & QTDIR:
            return self.devdirread(c, count, offset)
        if c.qid.path == QSDCTL:
            text = "".join(f"{p} ata port {0x1F0 if p == 'sdC' else 0x170:#x} irq {ctlr.line}"
                           f" units {sum(u is not None for u in ctlr.units)}\n"
                           for p, ctlr, _ in self.channels)  # fmt: skip
            return text.encode()[offset : offset + count]
        k, kind, _ = _split(c.qid.path)
        if kind == KCTL:
            return self.units[k].ctltext().encode()[offset : offset + count]
        if kind == KRAW:
            data: bytes = c.aux or b""
            return data[offset : offset + count]
        u, p = self._part(c)
        return await u.read(p, count, offset)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.qid.path == QSDCTL:
            raise Error(Eperm)
        k, kind, _ = _split(c.qid.path)
        if kind == KCTL:
            self.units[k].ctl(data.decode("utf-8", "replace"))
            return len(data)
        if kind == KRAW:
            c.aux = await self._raw(self.units[k], data)
            return len(data)
        u, p = self._part(c)
        if u.readonly:
            raise Error(Ewprotect)
        return await u.write(p, data, offset)

    async def _raw(self, u: SdUnit, cmd: bytes) -> bytes:
        if len(cmd) != 6:
            raise Error(Ebadarg)
        op, count = cmd[0], cmd[1] or 256
        lba = int.from_bytes(cmd[2:6], "little")
        if op == IDENTIFY:
            return await u.ata.identify_block(u.unit)
        if op == READ:
            if lba + count > u.ident.sectors:
                raise Error(Eio)
            return await u.ata.read(u.unit, lba, count)
        if op == FLUSH:
            await u.ata.flush(u.unit)
            return b""
        raise Error(Ebadarg)
