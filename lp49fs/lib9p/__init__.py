"""lp49fs.lib9p: the lib9p-style 9P2000 server framework (and, in ``client``, a client).

Server side::

    from lp49fs.lib9p import serve, serve_forever, FileServer, NotImplementedFile

    await serve(link, fs)                       # one connection, until EOF
    await serve_forever(listener, fs)            # accept and serve every connection

A backend implements ``FileServer.attach`` and per-fid ``File`` objects (``file.py``);
``srv.py`` owns fids, tags, version, msize, flush, validation and the reply writer.  The
client session lives in ``lp49fs.lib9p.client`` and ``lp49fs.lib9p.clientfid`` and is not
imported here.
"""

from __future__ import annotations

from lp49fs.ninep import DEFAULT_MSIZE as DEFAULT_MSIZE

from .dispatch import DISPATCH as DISPATCH
from .file import File as File
from .file import FileServer as FileServer
from .file import NotImplementedFile as NotImplementedFile
from .file import ReadOnlyFile as ReadOnlyFile
from .srv import LINK_MSIZE as LINK_MSIZE
from .srv import serve as serve
from .srv import serve_forever as serve_forever

__all__ = [
    "DEFAULT_MSIZE",
    "DISPATCH",
    "File",
    "FileServer",
    "NotImplementedFile",
    "ReadOnlyFile",
    "serve",
    "serve_forever",
]
