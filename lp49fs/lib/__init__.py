"""lp49fs.lib: the user library -- Plan 9 libc's system calls as L4 IPC to the core.

Programs (``lp49fs.cmd``, servers, the FUSE bridge) reach the core only through this
package.  Every call is one IPC ``call`` to the core's Mngr thread (``lp49fs.syscall`` has the
numbers and message layouts); errors raise ``lp49fs.errors.Error`` and are kept for
``errstr()``.  Modules: ``uctx`` (who am I, buffers, the call itself, worker states),
``workers`` (which thread runs a call: a task's own or a borrowed worker), ``sys`` (file
calls), ``proc`` (process calls), ``link`` (an fd as a 9P link), ``runtime`` (the entries
the process manager starts), ``dial`` (dial(2) over ``/net``), ``auth`` (becoming another
user through cap(3)), ``segment`` (retained memory, segattach).
"""

from __future__ import annotations

from lp49fs.lib.auth import become as become
from lp49fs.lib.auth import sysname as sysname
from lp49fs.lib.auth import whoami as whoami
from lp49fs.lib.dial import accept as accept
from lp49fs.lib.dial import announce as announce
from lp49fs.lib.dial import dial as dial
from lp49fs.lib.dial import dialctl as dialctl
from lp49fs.lib.dial import listen as listen
from lp49fs.lib.dial import netmkaddr as netmkaddr
from lp49fs.lib.dial import reject as reject
from lp49fs.lib.link import FdLink as FdLink
from lp49fs.lib.proc import RFCENVG as RFCENVG
from lp49fs.lib.proc import RFCFDG as RFCFDG
from lp49fs.lib.proc import RFCNAMEG as RFCNAMEG
from lp49fs.lib.proc import RFENVG as RFENVG
from lp49fs.lib.proc import RFFDG as RFFDG
from lp49fs.lib.proc import RFMEM as RFMEM
from lp49fs.lib.proc import RFNAMEG as RFNAMEG
from lp49fs.lib.proc import RFNOMNT as RFNOMNT
from lp49fs.lib.proc import RFNOTEG as RFNOTEG
from lp49fs.lib.proc import RFNOWAIT as RFNOWAIT
from lp49fs.lib.proc import RFPROC as RFPROC
from lp49fs.lib.proc import RFREND as RFREND
from lp49fs.lib.proc import Waitmsg as Waitmsg
from lp49fs.lib.proc import exits as exits
from lp49fs.lib.proc import getpid as getpid
from lp49fs.lib.proc import notify as notify
from lp49fs.lib.proc import postnote as postnote
from lp49fs.lib.proc import rfork as rfork
from lp49fs.lib.proc import sleep as sleep
from lp49fs.lib.proc import spawn as spawn
from lp49fs.lib.proc import wait as wait
from lp49fs.lib.segment import Segment as Segment
from lp49fs.lib.segment import segattach as segattach
from lp49fs.lib.sys import bind as bind
from lp49fs.lib.sys import chdir as chdir
from lp49fs.lib.sys import close as close
from lp49fs.lib.sys import create as create
from lp49fs.lib.sys import createat as createat
from lp49fs.lib.sys import dirread as dirread
from lp49fs.lib.sys import dirreadall as dirreadall
from lp49fs.lib.sys import dup as dup
from lp49fs.lib.sys import fd2path as fd2path
from lp49fs.lib.sys import fprint as fprint
from lp49fs.lib.sys import fstat as fstat
from lp49fs.lib.sys import fwstat as fwstat
from lp49fs.lib.sys import getwd as getwd
from lp49fs.lib.sys import iounit as iounit
from lp49fs.lib.sys import mount as mount
from lp49fs.lib.sys import nsvers as nsvers
from lp49fs.lib.sys import open as open
from lp49fs.lib.sys import openat as openat
from lp49fs.lib.sys import pipe as pipe
from lp49fs.lib.sys import pread as pread
from lp49fs.lib.sys import print as print
from lp49fs.lib.sys import pwrite as pwrite
from lp49fs.lib.sys import read as read
from lp49fs.lib.sys import readall as readall
from lp49fs.lib.sys import remove as remove
from lp49fs.lib.sys import removeat as removeat
from lp49fs.lib.sys import seek as seek
from lp49fs.lib.sys import stat as stat
from lp49fs.lib.sys import unmount as unmount
from lp49fs.lib.sys import walk as walk
from lp49fs.lib.sys import walkstat as walkstat
from lp49fs.lib.sys import write as write
from lp49fs.lib.sys import wstat as wstat
from lp49fs.lib.uctx import errstr as errstr
from lp49fs.lib.workers import newthread as newthread
from lp49fs.syscall import MAFTER as MAFTER
from lp49fs.syscall import MBEFORE as MBEFORE
from lp49fs.syscall import MCACHE as MCACHE
from lp49fs.syscall import MCREATE as MCREATE
from lp49fs.syscall import MREPL as MREPL
from lp49fs.syscall import NOFD as NOFD
