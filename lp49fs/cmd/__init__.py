"""LP49 programs: each ``lp49fs/cmd/<name>.py`` has ``async def main(argv: list[str]) -> None``.

``PROGRAMS`` is the program table ``spawn`` looks names up in: program name -> module path
(imported when first run, so listing a program costs nothing).  It is an explicit dict, not a
directory scan: add a program with one line.  Servers (``ramfs`` ...) are programs too.
"""

from __future__ import annotations

PROGRAMS: dict[str, str] = {}
