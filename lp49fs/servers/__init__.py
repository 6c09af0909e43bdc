"""9P servers: LP49 programs that serve a file tree over 9P2000 (ramfs, ...).

Each server is a ``lp49fs.lib9p.FileServer``; one that also runs as a Linux process has its
``lp49 NAME`` command in ``lp49fs.host`` (``ramfs.py``, ``u9fs.py``).
"""
