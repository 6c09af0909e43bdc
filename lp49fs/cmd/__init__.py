"""LP49 programs: each ``lp49fs/cmd/<name>.py`` has ``async def main(argv: list[str]) -> None``.

``PROGRAMS`` is the program table ``spawn`` looks names up in: program name -> module path
(imported when first run, so listing a program costs nothing).  It is an explicit dict, not a
directory scan: add a program with one line.  Servers (``ramfs`` ...) are programs too.
"""

from __future__ import annotations

PROGRAMS: dict[str, str] = {
    "addns": "lp49fs.cmd.addns",
    "bind": "lp49fs.cmd.bind",
    "cat": "lp49fs.cmd.cat",
    "cp": "lp49fs.cmd.cp",
    "date": "lp49fs.cmd.date",
    "dossrv": "lp49fs.cmd.dossrv",
    "echo": "lp49fs.cmd.echo",
    "exportfs": "lp49fs.cmd.exportfs",
    "fdisk": "lp49fs.cmd.fdisk",
    "ext2srv": "lp49fs.cmd.ext2srv",
    "import": "lp49fs.cmd.import",
    "init": "lp49fs.cmd.init",
    "kill": "lp49fs.cmd.kill",
    "ls": "lp49fs.cmd.ls",
    "mkdir": "lp49fs.cmd.mkdir",
    "mount": "lp49fs.cmd.mount",
    "mv": "lp49fs.cmd.mv",
    "newns": "lp49fs.cmd.newns",
    "ns": "lp49fs.cmd.ns",
    "ping": "lp49fs.cmd.ping",
    "ps": "lp49fs.cmd.ps",
    "servers": "lp49fs.cmd.servers",
    "pwd": "lp49fs.cmd.pwd",
    "ramfs": "lp49fs.cmd.ramfs",
    "rc": "lp49fs.cmd.sh",
    "rm": "lp49fs.cmd.rm",
    "sh": "lp49fs.cmd.sh",
    "sleep": "lp49fs.cmd.sleep",
    "srv": "lp49fs.cmd.srv",
    "trace": "lp49fs.cmd.trace",
    "unmount": "lp49fs.cmd.unmount",
    "wc": "lp49fs.cmd.wc",
}
