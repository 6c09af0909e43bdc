"""9P2000 constants, with the names of Plan 9's fcall.h and libc.h.

Everything here is a plain ``int`` or ``str`` so that the fast codec can use it without
indirection.  The message type numbers (``TVERSION`` ... ``RWSTAT``) are the wire values of
the ``type[1]`` byte; an R-message is always its T-message plus one, and ``Terror`` (106)
does not exist on the wire.  See intro(5) and stat(5).
"""

from __future__ import annotations

VERSION9P = "9P2000"  # the protocol; every peer speaks it
VERSIONLP49 = "9P2000.lp49"  # the same messages, pipelining allowed (docs/ninep.md)
NOTAG = 0xFFFF  # tag of Tversion/Rversion
NOFID = 0xFFFFFFFF  # "no fid", e.g. Tattach's afid without authentication
MAXWELEM = 16  # most names in one Twalk
IOHDRSZ = 24  # room for Twrite/Rread headers: iounit = msize - IOHDRSZ
STATFIXLEN = 49  # fixed bytes of a stat entry, its size[2] included
STATMAX = 65535  # largest stat entry
DEFAULT_MSIZE = 8192 + IOHDRSZ  # the Plan 9 kernel's msize
MAXMSIZE = 1 << 20  # largest msize we accept (the Plan 9 kernel's limit too)
MINMSIZE = 256  # the Plan 9 kernel refuses a smaller msize
HDRSZ = 7  # size[4] type[1] tag[2]

# message types (fcall.h)
TVERSION = 100
RVERSION = 101
TAUTH = 102
RAUTH = 103
TATTACH = 104
RATTACH = 105
TERROR = 106  # illegal on the wire
RERROR = 107
TFLUSH = 108
RFLUSH = 109
TWALK = 110
RWALK = 111
TOPEN = 112
ROPEN = 113
TCREATE = 114
RCREATE = 115
TREAD = 116
RREAD = 117
TWRITE = 118
RWRITE = 119
TCLUNK = 120
RCLUNK = 121
TREMOVE = 122
RREMOVE = 123
TSTAT = 124
RSTAT = 125
TWSTAT = 126
RWSTAT = 127

# open modes (libc.h)
OREAD = 0  # open for read
OWRITE = 1  # write
ORDWR = 2  # read and write
OEXEC = 3  # execute, == read but check execute permission
OTRUNC = 0x10  # or'ed in (except for exec), truncate file first
OCEXEC = 0x20  # or'ed in, close on exec (client side only)
ORCLOSE = 0x40  # or'ed in, remove on close
OEXCL = 0x1000  # or'ed in, exclusive use (create only; not sent in 9P)

# qid.type bits
QTDIR = 0x80  # directory
QTAPPEND = 0x40  # append-only file
QTEXCL = 0x20  # exclusive-use file
QTMOUNT = 0x10  # mounted channel
QTAUTH = 0x08  # authentication file
QTTMP = 0x04  # not-backed-up file
QTFILE = 0x00  # plain file

# Dir.mode bits
DMDIR = 0x80000000  # directory
DMAPPEND = 0x40000000  # append-only file
DMEXCL = 0x20000000  # exclusive-use file
DMMOUNT = 0x10000000  # mounted channel
DMAUTH = 0x08000000  # authentication file
DMTMP = 0x04000000  # not-backed-up file
DMREAD = 0x4  # mode bit for read permission
DMWRITE = 0x2  # mode bit for write permission
DMEXEC = 0x1  # mode bit for execute permission

# "don't touch" values of a Twstat Dir (stat(5))
NOTOUCH16 = 0xFFFF
NOTOUCH32 = 0xFFFFFFFF
NOTOUCH64 = 0xFFFFFFFFFFFFFFFF
NOTOUCHQT = 0xFF
