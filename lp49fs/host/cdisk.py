"""The default node's disk: a small FAT image kept in a state directory, so /n/c persists.

Theory of operation:

1. ``lp49 node`` without a config and ``lp49 mount default DIR`` boot the default node.
   When it is given no disk (no ``--disk``, no ``-o disk=``), ``with_cdisk`` adds one: the
   image ``c.img`` in the state directory, which the boot partitions and serves like any
   other (``lp49fs/node/disks.py``), its FAT partition mounted on ``/n/c``.
2. The state directory is ``$LP49_STATE`` when set; else ``/var/lib/lp49`` when it is (or
   can be made) writable, as it is for root; else ``$XDG_STATE_HOME/lp49`` or
   ``~/.local/state/lp49``.
3. At first use the image is made: ``SIZE`` bytes, an MBR written here with one FAT16
   partition (type 0x06) from sector ``START`` to the end, formatted by ``mkfs.fat
   --offset``.  It is made under a temporary name and renamed into place, so a half-made
   image is never used.  Later boots reuse it: what was written to /n/c is still there.
4. dossrv assumes it is its partition's only writer, so a node holds an exclusive
   ``flock`` on the image for its life.  A node that finds it taken waits up to ``GRACE``
   for it (a node just unmounted may still be stopping), then gets a fresh image of its
   own in a temporary directory, removed when its process exits (logged; that /n/c does
   not persist).

Failure: a state directory that cannot be made or an image that cannot be formatted (no
``mkfs.fat``) is logged and the node boots without a disk.
"""

from __future__ import annotations

import atexit
import dataclasses
import fcntl
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import time

from lp49fs.node.config import NodeConfig

log = logging.getLogger(__name__)

SIZE = 16 << 20  # the image's bytes
START = 2048  # the partition's first sector (1 MiB aligned, as sfdisk puts it)
SECTOR = 512
NAME = "c.img"
SYSTEM = "/var/lib/lp49"
GRACE = 1.0  # seconds a node waits for the image's lock before it takes a temporary one
_held: list[int] = []  # the fds whose flocks this process holds (Rule 4)


def statedir() -> str:
    """Rule 2: where the default node keeps its disk (made if missing)."""
    env = os.environ.get("LP49_STATE")
    if env:
        os.makedirs(env, exist_ok=True)
        return env
    try:
        os.makedirs(SYSTEM, exist_ok=True)
        if os.access(SYSTEM, os.W_OK):
            return SYSTEM
    except OSError:
        pass
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    path = os.path.join(xdg, "lp49")
    os.makedirs(path, exist_ok=True)
    return path


def mbr(total: int, start: int = START, ptype: int = 0x06) -> bytes:
    """Sector 0: no boot code, one primary partition from ``start`` to sector ``total``."""
    chs = b"\xfe\xff\xff"  # past 1024 cylinders: LBA only, as sfdisk writes
    entry = b"\x00" + chs + bytes([ptype]) + chs + struct.pack("<II", start, total - start)
    return bytes(446) + entry + bytes(48) + b"\x55\xaa"


def make(path: str, size: int = SIZE) -> None:
    """Rule 3: a partitioned, formatted image at ``path`` (renamed into place when done)."""
    tmp = f"{path}.{os.getpid()}.new"
    try:
        with open(tmp, "wb") as f:
            f.truncate(size)
            f.write(mbr(size // SECTOR))
        kib = (size // SECTOR - START) * SECTOR // 1024
        argv = ["mkfs.fat", "-F", "16", "-n", "LP49", "--offset", str(START), tmp, str(kib)]
        subprocess.run(argv, check=True, capture_output=True, text=True)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def take(path: str, grace: float = 0.0) -> bool:
    """Rule 4: hold an exclusive lock on ``path`` for this process's life (waiting up to
    ``grace`` seconds for it); False if it stayed taken."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    end = time.monotonic() + grace
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= end:
                os.close(fd)
                return False
            time.sleep(0.02)
    _held.append(fd)
    return True


def cdisk() -> str | None:
    """Rules 1-4: the image the default node boots with, or None (logged) if there is none."""
    try:
        path = os.path.join(statedir(), NAME)
        if not os.path.exists(path):
            make(path)
            log.info("default disk: made %s", path)
        if take(path, GRACE):
            return path
        tmpdir = tempfile.mkdtemp(prefix="lp49-c-")
        atexit.register(shutil.rmtree, tmpdir, True)
        path2 = os.path.join(tmpdir, NAME)
        make(path2)
        take(path2)
        log.warning("default disk: %s is in use by another node; /n/c is %s until exit",
                    path, path2)  # fmt: skip
        return path2
    except (OSError, subprocess.CalledProcessError) as e:
        why = e.stderr.strip() if isinstance(e, subprocess.CalledProcessError) else str(e)
        log.warning("default disk: none (%s)", why)
        return None


def with_cdisk(cfg: NodeConfig) -> NodeConfig:
    """Rule 1: ``cfg`` with the default disk added when it is the default node with none."""
    if cfg.disks or cfg.source != NodeConfig.source:
        return cfg
    path = cdisk()
    return dataclasses.replace(cfg, disks=(path,)) if path else cfg
