"""lp49fs.ninep: 9P2000 without I/O (bytes in, messages out).

The public surface, re-exported from private modules:

* messages (``_messages``): ``Tversion`` ... ``Rwstat``, ``Rerror``, ``Qid``, ``Dir``, and the
  ``Message`` union; constants (``_constants``) with their fcall.h/libc.h names;
* the codec (``_wire``): ``encode(tag, msg)``, ``decode(frame)``, ``encode_dir``,
  ``decode_dirs``; ``Framer`` and ``NEED_DATA`` (``_framing``) cut a byte stream into frames;
* ``ServerConn`` / ``ClientConn`` (``_state``): the version, tag and fid rules of 9P2000;
* ``ProtocolError`` for bytes that are not 9P2000 (the connection is then closed).

Nothing here does I/O or imports trio or socket; transports live in ``lp49fs.transport``.
"""

from __future__ import annotations

from ._constants import (
    DMAPPEND as DMAPPEND,
)
from ._constants import (
    DMAUTH as DMAUTH,
)
from ._constants import (
    DMDIR as DMDIR,
)
from ._constants import (
    DMEXCL as DMEXCL,
)
from ._constants import (
    DMEXEC as DMEXEC,
)
from ._constants import (
    DMMOUNT as DMMOUNT,
)
from ._constants import (
    DMREAD as DMREAD,
)
from ._constants import (
    DMTMP as DMTMP,
)
from ._constants import (
    DMWRITE as DMWRITE,
)
from ._constants import (
    HDRSZ as HDRSZ,
)
from ._constants import (
    IOHDRSZ as IOHDRSZ,
)
from ._constants import (
    MAXMSIZE as MAXMSIZE,
)
from ._constants import (
    MAXWELEM as MAXWELEM,
)
from ._constants import (
    MINMSIZE as MINMSIZE,
)
from ._constants import (
    NOFID as NOFID,
)
from ._constants import (
    NOTAG as NOTAG,
)
from ._constants import (
    NOTOUCH16 as NOTOUCH16,
)
from ._constants import (
    NOTOUCH32 as NOTOUCH32,
)
from ._constants import (
    NOTOUCH64 as NOTOUCH64,
)
from ._constants import (
    NOTOUCHQT as NOTOUCHQT,
)
from ._constants import (
    OCEXEC as OCEXEC,
)
from ._constants import (
    OEXCL as OEXCL,
)
from ._constants import (
    OEXEC as OEXEC,
)
from ._constants import (
    ORCLOSE as ORCLOSE,
)
from ._constants import (
    ORDWR as ORDWR,
)
from ._constants import (
    OREAD as OREAD,
)
from ._constants import (
    OTRUNC as OTRUNC,
)
from ._constants import (
    OWRITE as OWRITE,
)
from ._constants import (
    QTAPPEND as QTAPPEND,
)
from ._constants import (
    QTAUTH as QTAUTH,
)
from ._constants import (
    QTDIR as QTDIR,
)
from ._constants import (
    QTEXCL as QTEXCL,
)
from ._constants import (
    QTFILE as QTFILE,
)
from ._constants import (
    QTMOUNT as QTMOUNT,
)
from ._constants import (
    QTTMP as QTTMP,
)
from ._constants import (
    RATTACH as RATTACH,
)
from ._constants import (
    RAUTH as RAUTH,
)
from ._constants import (
    RCLUNK as RCLUNK,
)
from ._constants import (
    RCREATE as RCREATE,
)
from ._constants import (
    RERROR as RERROR,
)
from ._constants import (
    RFLUSH as RFLUSH,
)
from ._constants import (
    ROPEN as ROPEN,
)
from ._constants import (
    RREAD as RREAD,
)
from ._constants import (
    RREMOVE as RREMOVE,
)
from ._constants import (
    RSTAT as RSTAT,
)
from ._constants import (
    RVERSION as RVERSION,
)
from ._constants import (
    RWALK as RWALK,
)
from ._constants import (
    RWRITE as RWRITE,
)
from ._constants import (
    RWSTAT as RWSTAT,
)
from ._constants import (
    STATFIXLEN as STATFIXLEN,
)
from ._constants import (
    STATMAX as STATMAX,
)
from ._constants import (
    TATTACH as TATTACH,
)
from ._constants import (
    TAUTH as TAUTH,
)
from ._constants import (
    TCLUNK as TCLUNK,
)
from ._constants import (
    TCREATE as TCREATE,
)
from ._constants import (
    TERROR as TERROR,
)
from ._constants import (
    TFLUSH as TFLUSH,
)
from ._constants import (
    TOPEN as TOPEN,
)
from ._constants import (
    TREAD as TREAD,
)
from ._constants import (
    TREMOVE as TREMOVE,
)
from ._constants import (
    TSTAT as TSTAT,
)
from ._constants import (
    TVERSION as TVERSION,
)
from ._constants import (
    TWALK as TWALK,
)
from ._constants import (
    TWRITE as TWRITE,
)
from ._constants import (
    TWSTAT as TWSTAT,
)
from ._constants import (
    VERSION9P as VERSION9P,
)
from ._errors import (
    ProtocolError as ProtocolError,
)
from ._framing import (
    NEED_DATA as NEED_DATA,
)
from ._framing import (
    Framer as Framer,
)
from ._framing import (
    NeedData as NeedData,
)
from ._messages import (
    MESSAGE_CLASSES as MESSAGE_CLASSES,
)
from ._messages import (
    NULLQID as NULLQID,
)
from ._messages import (
    R_CLASSES as R_CLASSES,
)
from ._messages import (
    T_CLASSES as T_CLASSES,
)
from ._messages import (
    Dir as Dir,
)
from ._messages import (
    Message as Message,
)
from ._messages import (
    Qid as Qid,
)
from ._messages import (
    Rattach as Rattach,
)
from ._messages import (
    Rauth as Rauth,
)
from ._messages import (
    Rclunk as Rclunk,
)
from ._messages import (
    Rcreate as Rcreate,
)
from ._messages import (
    Rerror as Rerror,
)
from ._messages import (
    Rflush as Rflush,
)
from ._messages import (
    RMessage as RMessage,
)
from ._messages import (
    Ropen as Ropen,
)
from ._messages import (
    Rread as Rread,
)
from ._messages import (
    Rremove as Rremove,
)
from ._messages import (
    Rstat as Rstat,
)
from ._messages import (
    Rversion as Rversion,
)
from ._messages import (
    Rwalk as Rwalk,
)
from ._messages import (
    Rwrite as Rwrite,
)
from ._messages import (
    Rwstat as Rwstat,
)
from ._messages import (
    Tattach as Tattach,
)
from ._messages import (
    Tauth as Tauth,
)
from ._messages import (
    Tclunk as Tclunk,
)
from ._messages import (
    Tcreate as Tcreate,
)
from ._messages import (
    Tflush as Tflush,
)
from ._messages import (
    TMessage as TMessage,
)
from ._messages import (
    Topen as Topen,
)
from ._messages import (
    Tread as Tread,
)
from ._messages import (
    Tremove as Tremove,
)
from ._messages import (
    Tstat as Tstat,
)
from ._messages import (
    Tversion as Tversion,
)
from ._messages import (
    Twalk as Twalk,
)
from ._messages import (
    Twrite as Twrite,
)
from ._messages import (
    Twstat as Twstat,
)
from ._messages import (
    is_reply_to as is_reply_to,
)
from ._wire import (
    decode as decode,
)
from ._wire import (
    decode_dirs as decode_dirs,
)
from ._wire import (
    encode as encode,
)
from ._wire import (
    encode_dir as encode_dir,
)

__all__ = [
    "DMAPPEND",
    "DMAUTH",
    "DMDIR",
    "DMEXCL",
    "DMEXEC",
    "DMMOUNT",
    "DMREAD",
    "DMTMP",
    "DMWRITE",
    "HDRSZ",
    "IOHDRSZ",
    "MAXMSIZE",
    "MAXWELEM",
    "MESSAGE_CLASSES",
    "MINMSIZE",
    "NEED_DATA",
    "NOFID",
    "NOTAG",
    "NOTOUCH16",
    "NOTOUCH32",
    "NOTOUCH64",
    "NOTOUCHQT",
    "NULLQID",
    "OCEXEC",
    "OEXCL",
    "OEXEC",
    "ORCLOSE",
    "ORDWR",
    "OREAD",
    "OTRUNC",
    "OWRITE",
    "QTAPPEND",
    "QTAUTH",
    "QTDIR",
    "QTEXCL",
    "QTFILE",
    "QTMOUNT",
    "QTTMP",
    "RATTACH",
    "RAUTH",
    "RCLUNK",
    "RCREATE",
    "RERROR",
    "RFLUSH",
    "ROPEN",
    "RREAD",
    "RREMOVE",
    "RSTAT",
    "RVERSION",
    "RWALK",
    "RWRITE",
    "RWSTAT",
    "R_CLASSES",
    "STATFIXLEN",
    "STATMAX",
    "TATTACH",
    "TAUTH",
    "TCLUNK",
    "TCREATE",
    "TERROR",
    "TFLUSH",
    "TOPEN",
    "TREAD",
    "TREMOVE",
    "TSTAT",
    "TVERSION",
    "TWALK",
    "TWRITE",
    "TWSTAT",
    "T_CLASSES",
    "VERSION9P",
    "Dir",
    "Framer",
    "Message",
    "NeedData",
    "ProtocolError",
    "Qid",
    "RMessage",
    "Rattach",
    "Rauth",
    "Rclunk",
    "Rcreate",
    "Rerror",
    "Rflush",
    "Ropen",
    "Rread",
    "Rremove",
    "Rstat",
    "Rversion",
    "Rwalk",
    "Rwrite",
    "Rwstat",
    "TMessage",
    "Tattach",
    "Tauth",
    "Tclunk",
    "Tcreate",
    "Tflush",
    "Topen",
    "Tread",
    "Tremove",
    "Tstat",
    "Tversion",
    "Twalk",
    "Twrite",
    "Twstat",
    "decode",
    "decode_dirs",
    "encode",
    "encode_dir",
    "is_reply_to",
]
