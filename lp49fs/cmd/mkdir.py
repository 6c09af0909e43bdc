"""mkdir [-p] dir ...: create directories (mode DMDIR|0777, trimmed by the parent's).

An existing name is an error, in Plan 9's words (``mkdir: x already exists``), unless
``-p``, which also creates missing parents.
"""

from __future__ import annotations

from lp49fs import lib
from lp49fs.cmd._util import each, eprint, getflags, usage
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, OREAD, QTDIR


async def mkdir(path: str) -> None:
    await lib.close(await lib.create(path, OREAD, DMDIR | 0o777))


async def mkdirp(path: str) -> None:
    """Create ``path`` and its missing parents; an existing directory is fine."""
    parts = [p for p in path.split("/") if p]
    root = "/" if path.startswith("/") else ""
    for i in range(len(parts)):
        prefix = root + "/".join(parts[: i + 1])
        try:
            d = await lib.stat(prefix)
        except Error:
            await mkdir(prefix)
            continue
        if not d.qid.type & QTDIR:
            raise Error(f"{prefix}: not a directory")


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "p", "mkdir [-p] dir ...")
    if not args:
        await usage("mkdir [-p] dir ...")
    existed = False
    if "p" not in flags:
        for name in list(args):
            try:
                await lib.stat(name)
            except Error:
                continue
            await eprint(f"mkdir: {name} already exists\n")
            args.remove(name)
            existed = True
    await each("mkdir", args, mkdirp if "p" in flags else mkdir, exits="error")
    if existed:
        raise Error("error")
