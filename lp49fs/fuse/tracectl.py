"""``lp49 trace -- CMD ...``: trace the FUSE requests of one Linux command through the node.

Theory of operation.  The view's daemon listens on a control socket named after its mount
point (``sockpath``: ``/run/lp49/view-HASH.sock``, HASH of the real path).  ``lp49 trace``
finds the lp49 mount the command touches (``/proc/self/mountinfo``, or ``-m DIR``), forks
the command held on a pipe, tells the daemon ``trace PID``, lets the command run, and when
it has exited says ``end``; the daemon answers with the finished traces, one JSON line
each, and the command prints them (``lp49fs.tracefmt.text``, on stderr so the command's
own output stays clean) and draws them (``--svg FILE``).

In the daemon, ``Operations``' ``syscall`` wrapper hands each request to ``traced`` while
tracing is on: a request from a traced Linux process (its pid, or an ancestor's, from the
request context or from the process that opened the fh) runs under a ``Trace`` of its own,
so its lib calls and everything below are recorded (``lp49fs.trace``).

Rules:
1. A session is one ``TraceLog`` held while the client is connected; a client that goes
   away without ``end`` releases it too.
2. Requests of processes nobody traces run exactly as without tracing.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pyfuse3
import trio

from lp49fs import trace as _t
from lp49fs import tracefmt

RUNDIR = "/run/lp49"
ANCESTORS = 16  # how far up the process tree a traced pid is looked for
sessions: dict[int, _t.TraceLog] = {}  # traced Linux pid -> its log (Rule 1)


def sockpath(mountpoint: str) -> str:
    """The control socket of the view on ``mountpoint``.  Only the parent directory is
    resolved: a stat of the mount itself from the daemon's event loop would wait on itself."""
    mp = os.path.abspath(mountpoint)
    real = os.path.join(os.path.realpath(os.path.dirname(mp)), os.path.basename(mp))
    h = hashlib.sha1(real.encode()).hexdigest()[:16]
    return f"{RUNDIR}/view-{h}.sock"


# -- the daemon's side --------------------------------------------------------------------


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def log_for(pid: int) -> _t.TraceLog | None:
    for _ in range(ANCESTORS):
        if pid <= 1:
            return None
        log = sessions.get(pid)
        if log is not None:
            return log
        pid = _ppid(pid)
    return None


def _requester(ops: Any, args: tuple[Any, ...]) -> int:
    for a in args:
        if isinstance(a, pyfuse3.RequestContext):
            return int(a.pid)
    f = ops._files.get(args[0]) if args and isinstance(args[0], int) else None
    return f.pid if f is not None else 0


def _describe(ops: Any, f: Callable[..., Any], args: tuple[Any, ...]) -> str:
    names = list(inspect.signature(f).parameters)[1:]
    out = []
    for name, a in zip(names, args, strict=False):
        if isinstance(a, pyfuse3.RequestContext):
            continue
        if name in ("inode", "parent_inode"):
            with contextlib.suppress(Exception):
                a = ops.inodes.get(a).path
        out.append(f"{name}={a!r}" if not isinstance(a, bytes) else f"{name}={a.decode()!r}")
    return f"{f.__name__}({', '.join(out)})"


def _reply(r: Any) -> str:
    """A FUSE reply in a few words (pyfuse3's reply objects print as bare addresses)."""
    if isinstance(r, tuple):
        return ", ".join(map(_reply, r))
    if isinstance(r, pyfuse3.FileInfo):
        return f"fh {r.fh} direct_io {r.direct_io}"
    if isinstance(r, pyfuse3.EntryAttributes):
        return f"ino {r.st_ino} size {r.st_size} mode {r.st_mode:o}"
    return _t.summary(r)[:80]


async def traced(ops: Any, f: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...],
                 kw: dict[str, Any]) -> Any:  # fmt: skip
    """Run request handler ``f`` under a Trace if its requester is traced (Rule 2)."""
    pid = _requester(ops, args)
    log = log_for(pid) if pid else None
    if log is None:
        return await f(ops, *args, **kw)
    what = _describe(ops, f, args)
    outer = _t.current()  # the -o debug trace, if any: its watch sees these calls too
    tr = _t.Trace(f"FUSE {what}", log, watch=outer.watch if outer is not None else None)
    tr.add("Linux", "FUSE", f"{what} from pid {pid}")
    tok = _t.begin(tr)
    try:
        r = await f(ops, *args, **kw)
        tr.add("FUSE", "Linux", _reply(r))
        return r
    except BaseException as e:
        tr.add("FUSE", "Linux", f"error: {e}")
        raise
    finally:
        _t.end(tr, tok)


async def _client(stream: trio.SocketStream) -> None:
    log: _t.TraceLog | None = None
    pid = 0
    buf = b""
    try:
        async with stream:
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    words = line.decode(errors="replace").split()
                    if words[:1] == ["trace"] and len(words) == 2 and words[1].isdigit():
                        if log is None:
                            pid, log = int(words[1]), _t.TraceLog(limit=100000).hold()
                            sessions[pid] = log
                        await stream.send_all(b"ok\n")
                    elif words == ["end"] and log is not None:
                        sessions.pop(pid, None)
                        out = b"".join(json.dumps(tr.to_json()).encode() + b"\n"
                                       for tr in log.take())  # fmt: skip
                        await stream.send_all(out)
                        return
                    else:
                        await stream.send_all(b"error: trace PID | end\n")
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        if log is not None:  # Rule 1
            if sessions.get(pid) is log:
                del sessions[pid]
            log.release()


async def serve(mountpoint: str) -> None:
    """Serve the view's trace control socket until cancelled (then remove it)."""
    path = sockpath(mountpoint)
    os.makedirs(RUNDIR, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen(8)
    try:
        await trio.serve_listeners(_client, [trio.SocketListener(sock)])
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


# -- the command ----------------------------------------------------------------------------


def lp49_mounts() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["fuse.lp49"]:
                out.append(left.split()[4].replace("\\040", " "))
    return out


def find_mount(cmd: list[str]) -> str | None:
    """The lp49 mount that an argument of ``cmd`` lies under, or the only one."""
    mounts = lp49_mounts()
    for a in cmd[1:]:
        if a.startswith("/"):
            p = os.path.abspath(a)
            best = max((m for m in mounts if p == m or p.startswith(m.rstrip("/") + "/")),
                       key=len, default=None)  # fmt: skip
            if best is not None:
                return best
    return mounts[0] if len(mounts) == 1 else None


def run_traced(mountpoint: str, cmd: list[str]) -> tuple[int, list[_t.Trace]]:
    """Run ``cmd`` with its requests to ``mountpoint`` traced; (exit status, traces)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sockpath(mountpoint))
    f = s.makefile("rwb")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command: wait for the go, then become it
        try:
            os.close(w)
            s.close()
            os.read(r, 1)
            os.close(r)
            os.execvp(cmd[0], cmd)
        except OSError as e:
            print(f"lp49 trace: {cmd[0]}: {e.strerror}", file=sys.stderr)
        os._exit(127)
    os.close(r)
    try:
        f.write(f"trace {pid}\n".encode())
        f.flush()
        if f.readline() != b"ok\n":
            raise OSError("the view refused the trace")
    finally:
        os.write(w, b"g")
        os.close(w)
    _, status = os.waitpid(pid, 0)
    f.write(b"end\n")
    f.flush()
    traces = [_t.Trace.from_json(json.loads(x)) for x in f if x.strip()]
    s.close()
    return os.waitstatus_to_exitcode(status), traces


USAGE = "usage: lp49 trace [-m DIR] [--svg FILE] -- CMD [ARG ...]"


def main(argv: list[str]) -> int:
    args = list(argv)
    mnt = svg = None
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt in ("-m", "--svg") and args:
            val = args.pop(0)
            mnt, svg = (val, svg) if opt == "-m" else (mnt, val)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    cmd = args[1:]
    if not cmd:
        print(USAGE, file=sys.stderr)
        return 2
    mnt = mnt or find_mount(cmd)
    if mnt is None:
        print("lp49 trace: no lp49 mount found: give one with -m DIR", file=sys.stderr)
        return 1
    try:
        code, traces = run_traced(mnt, cmd)
    except OSError as e:
        print(f"lp49 trace: {mnt}: {e.strerror or e}", file=sys.stderr)
        return 1
    sys.stderr.write(tracefmt.text(traces))
    if svg:
        with open(svg, "w") as out:
            out.write(tracefmt.svg(traces))
    return code
