"""9P servers: LP49 programs that serve a file tree over 9P2000 (ramfs, ...).

Each server is a ``lp49fs.lib9p.FileServer`` plus a ``*_main.py`` with ``main(argv) -> int``
registered in ``lp49fs.cli``.
"""
