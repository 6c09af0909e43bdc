"""The system-call interface shared by the user library and the core: numbers and layouts.

Theory of operation: a system call is one L4 IPC ``call`` from a process's
thread to the core's Mngr thread.  This module is the contract both sides read; it holds no
code that runs, only the numbers and the message layouts, so ``lp49fs.lib`` (user side) and
``lp49fs.core`` (kernel side) can agree without importing each other.

Request: ``Msg(label=Sys.X, words, items)``
  * small arguments by value in ``words`` (fd, mode, offset, flags ...), in the order the
    per-call comment below gives;
  * names (paths, notes, program names, argv joined by NUL) as ``StringItem``s, in order;
  * a buffer as one ``MapItem`` of the caller's own pages, with its address and length as the
    last two words (``addr``, ``n``): R rights when the core only reads it (write, wstat),
    R|W when the core fills it (read, stat, dirread).  The core finds the bytes at
    ``item.rcv_base + (addr - item.fpage.base)`` in its receive window.

Reply: ``Msg(label=OK, words=results, items=strings)`` or ``Msg(label=ERR, items=(ename,))``;
the library raises ``Error(ename)`` and keeps the string for ``errstr()``.

Rules:
1. A caller's buffer lives inside one window-sized, window-aligned region of its space
   (``WINDOW``), so one fpage covers it and it lands in the clerk's window without wrapping.
2. At most ``MAXIO`` bytes move per call; ``read`` returns at most that, ``write`` loops.
3. Strings are at most ``MAXSTR`` bytes (both sides accept that much).
"""

from __future__ import annotations

from enum import IntEnum

WINDOW_LOG2 = 20  # a clerk's receive window: 1 MiB, aligned to its size
WINDOW = 1 << WINDOW_LOG2
MAXIO = WINDOW // 2  # bytes per read/write call; the rest leaves room for an unaligned start
MAXSTR = 8192  # longest string item accepted (paths, argv, error strings)

NOFD = -1  # "no fd": the dirfd of an *at call that resolves its path as open does
OK = 0  # reply label: success
ERR = 1  # reply label: failure, one StringItem with the error string

BUFBASE = 0x4000_0000  # where the library puts thread k's buffer: BUFBASE + k * WINDOW

# rfork(2) flags: which of the process's groups a new process shares, copies or clears
RFNAMEG = 1 << 0  # copy the name space
RFENVG = 1 << 1  # copy the environment
RFFDG = 1 << 2  # copy the fd table
RFNOTEG = 1 << 3  # new note group
RFPROC = 1 << 4  # make a new process
RFMEM = 1 << 5  # share data segments (accepted, meaningless here)
RFNOWAIT = 1 << 6  # no wait record for the parent
RFCNAMEG = 1 << 10  # empty name space
RFCENVG = 1 << 11  # empty environment
RFCFDG = 1 << 12  # empty fd table
RFREND = 1 << 13  # new rendezvous group
RFNOMNT = 1 << 14  # no more mounts, few # paths

# bind(2)/mount(2) flags
MREPL = 0x0000  # mount replaces object
MBEFORE = 0x0001  # mount goes before others in union directory
MAFTER = 0x0002  # mount goes after others in union directory
MORDER = 0x0003  # mask for bits defining order of mounting
MCREATE = 0x0004  # permit creation in mounted directory
MCACHE = 0x0010  # cache some data
MMASK = 0x0017  # all bits on


class Sys(IntEnum):
    """System-call numbers (the IPC label).  Comment: words | strings | buffer -> result."""

    OPEN = 1  # mode | path -> fd
    CREATE = 2  # mode, perm | path -> fd
    READ = 3  # fd | | buf(W) -> n
    PREAD = 4  # fd, offset | | buf(W) -> n
    WRITE = 5  # fd | | buf(R) -> n
    PWRITE = 6  # fd, offset | | buf(R) -> n
    CLOSE = 7  # fd ->
    SEEK = 8  # fd, offset, whence -> offset
    STAT = 9  # | path | buf(W) -> n (one stat entry)
    FSTAT = 10  # fd | | buf(W) -> n
    WSTAT = 11  # | path | buf(R) ->
    FWSTAT = 12  # fd | | buf(R) ->
    REMOVE = 13  # | path ->
    CHDIR = 14  # | path ->
    GETWD = 15  # -> | dir
    BIND = 16  # flag | new, old -> id
    MOUNT = 17  # fd, afd, flag | old, aname -> id
    UNMOUNT = 18  # hasnew | [new,] old ->
    PIPE = 19  # -> fd0, fd1
    DUP = 20  # oldfd, newfd -> fd
    FD2PATH = 21  # fd -> | path
    RFORK = 22  # flags -> 0
    SPAWN = 23  # flags, (childfd, parentfd)* | prog, argv(NUL-joined) -> pid
    EXITS = 24  # | msg -> (no reply)
    WAIT = 25  # -> pid, utime, stime, rtime (ms) | msg
    SLEEP = 26  # ms ->
    POSTNOTE = 27  # pid | note ->
    GETPID = 28  # -> pid
    NEWTHREAD = 29  # -> (a new L4 thread of the caller's process starts)
    ERRSTR = 30  # (reserved: errstr is kept by the library)
    INTERRUPT = 31  # tid -> (that thread's system call, if in progress, fails interrupted)
    NOTIFY = 32  # on -> (on: notes interrupt the caller's calls and wait in /proc/N/note)
    SEGATTACH = 33  # npages, pct | name -> base, npages (a retained region: lp49fs.hvm.retain)
    BUSSERVE = 34  # fd -> (the caller becomes the service-bus endpoint of the 9P it serves on fd)
    # the *at calls (lp49fs.core.sysat): dirfd NOFD resolves the path as open does, else a
    # relative path starts at dirfd's walked (unopened) file instead of the current directory
    # (nsvers: the caller's name space version, the qid.vers of #p/N/ns)
    WALK = 35  # dirfd | path | [buf(W)] -> fd, nsvers, n (fd: the walked, unopened file; stat)
    OPENAT = 36  # dirfd, mode | path -> fd, nsvers ("" or "." opens dirfd's file itself)
    CREATEAT = 37  # dirfd, mode, perm | path -> fd, nsvers
    REMOVEAT = 38  # dirfd | path ->


class Bus(IntEnum):
    """Service-bus messages to a server's bus endpoint thread (docs/servicebus.md).

    GRANT and REVOKE come from the core, sent on the Mngr's behalf (propagation) and never
    answered; READ and WRITE come from the process the core granted the channel to, and are
    answered ``OK (seq, n)`` or ``ERR (seq,) | ename`` like a system call.
    """

    GRANT = 0x40  # fid, badge -> (none): the holder of badge may read/write fid directly
    REVOKE = 0x41  # -> (none): every grant of the connection ends
    READ = 0x42  # seq, fid, badge, offset | | buf(W) -> seq, n
    WRITE = 0x43  # seq, fid, badge, offset | | buf(R) -> seq, n
