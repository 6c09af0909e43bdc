"""The mount helper end to end: real FUSE mounts made by ``lp49fs.host.mount.main`` in
subprocesses, real ``fusermount3 -u``, real signals, real ``mount(8)``.

The node is not built yet, so ``mount.resolve`` refuses every SOURCE.  To test the daemon
mechanics this module doubles as the helper: run as a script it calls ``mount.main`` with
``hello_resolve``, whose Session serves ``HelloOps`` (one read-only file) and whose SOURCE
``boot-fails.toml`` fails while "booting", after the mount was made.

No test here touches a mount from a trio event loop: they are plain functions, and every
mount lives in another process.
"""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pyfuse3
import pytest
import trio
from waiting import DEADLINE, wait_until  # not tests.waiting: this file also runs as a script

from lp49fs.errors import Error
from lp49fs.fuse.options import MountArgs
from lp49fs.host import mount

HELLO = b"hello from lp49\n"
HERE = pathlib.Path(__file__).resolve()
LP49 = pathlib.Path(sys.executable).parent / "lp49"

pytestmark = pytest.mark.fuse


class HelloOps(pyfuse3.Operations):
    """A root directory holding one read-only file, ``hello``.  Nothing else."""

    HELLO_INO = pyfuse3.ROOT_INODE + 1

    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        a = pyfuse3.EntryAttributes()
        a.st_ino = inode
        if inode == pyfuse3.ROOT_INODE:
            a.st_mode, a.st_nlink, a.st_size = stat.S_IFDIR | 0o555, 2, 0
        elif inode == self.HELLO_INO:
            a.st_mode, a.st_nlink, a.st_size = stat.S_IFREG | 0o444, 1, len(HELLO)
        else:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return a

    async def lookup(self, parent: int, name: bytes, ctx: Any = None) -> pyfuse3.EntryAttributes:
        if parent != pyfuse3.ROOT_INODE or name != b"hello":
            raise pyfuse3.FUSEError(errno.ENOENT)
        return await self.getattr(self.HELLO_INO)

    async def opendir(self, inode: int, ctx: Any) -> int:
        if inode != pyfuse3.ROOT_INODE:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return inode

    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        if start_id == 0:
            pyfuse3.readdir_reply(token, b"hello", await self.getattr(self.HELLO_INO), 1)

    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        if inode != self.HELLO_INO:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise pyfuse3.FUSEError(errno.EACCES)
        return pyfuse3.FileInfo(fh=inode)

    async def read(self, fh: int, off: int, size: int) -> bytes:
        return HELLO[off : off + size]


class HelloSession:
    def __init__(self, fsname: str, boot_fails: bool) -> None:
        self.fsname = fsname
        self.operations = HelloOps()
        self.boot_fails = boot_fails

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self.boot_fails:
            raise Error("node failed to boot: no disk")
        task_status.started()
        await trio.sleep_forever()


def hello_resolve(args: MountArgs) -> HelloSession:
    return HelloSession(args.source.text, args.source.text.endswith("boot-fails.toml"))


# ---- helpers -------------------------------------------------------------------------


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def helper(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this module as the mount helper (daemonizing unless told otherwise)."""
    return run([sys.executable, str(HERE), *args])


def mount_entry(path: pathlib.Path) -> list[str] | None:
    """The /proc/self/mounts fields for ``path`` (dead FUSE mounts included), or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            if line.split()[1] == str(path):
                return line.split()
    return None


def mounted(path: pathlib.Path) -> bool:
    return mount_entry(path) is not None


def pids_mentioning(path: pathlib.Path) -> list[int]:
    """Processes whose command line names ``path`` (the daemons serving it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if str(path).encode() in argv:
            found.append(int(entry))
    return found


def one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode != 0, proc
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("lp49 mount: ")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr


@pytest.fixture
def mnt(require_fuse: None, tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """An empty mountpoint, unmounted (and its daemons gone) after the test."""
    path = tmp_path / "mnt"
    path.mkdir()
    yield path
    if mounted(path):
        run(["fusermount3", "-u", "-z", str(path)])
    for pid in pids_mentioning(path):
        os.kill(pid, signal.SIGKILL)


# ---- serving and stopping ------------------------------------------------------------


def test_daemon_serves_and_fusermount_unmounts(mnt: pathlib.Path) -> None:
    r = helper("default", str(mnt), "-o", "rw,_netdev,nofail,x-systemd.automount,msize=8192")
    assert (r.returncode, r.stderr) == (0, "")
    assert mounted(mnt)  # the parent returned only once the child was serving
    assert run(["cat", str(mnt / "hello")]).stdout == HELLO.decode()
    assert run(["ls", str(mnt)]).stdout.split() == ["hello"]
    assert mount_entry(mnt)[:3] == ["default", str(mnt), "fuse.lp49"]  # type: ignore[index]
    (daemon_pid,) = pids_mentioning(mnt)
    assert os.getsid(daemon_pid) == daemon_pid  # setsid: detached from our session
    assert os.readlink(f"/proc/{daemon_pid}/cwd") == "/"
    assert run(["fusermount3", "-u", str(mnt)]).returncode == 0
    wait_until(lambda: not pids_mentioning(mnt), "the daemon to exit after fusermount3 -u")
    assert not mounted(mnt)


def test_sigterm_unmounts_cleanly(mnt: pathlib.Path) -> None:
    assert helper("default", str(mnt)).returncode == 0
    (daemon_pid,) = pids_mentioning(mnt)
    os.kill(daemon_pid, signal.SIGTERM)
    wait_until(lambda: not mounted(mnt), "SIGTERM to unmount")
    wait_until(lambda: not pids_mentioning(mnt), "the daemon to exit after SIGTERM")


def test_killed_daemon_leaves_a_mount_fusermount_clears(mnt: pathlib.Path) -> None:
    assert helper("default", str(mnt)).returncode == 0
    (daemon_pid,) = pids_mentioning(mnt)
    os.kill(daemon_pid, signal.SIGKILL)
    wait_until(lambda: not pids_mentioning(mnt), "the killed daemon to go")
    assert mounted(mnt)
    with pytest.raises(OSError) as info:
        os.stat(mnt)
    assert info.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)  # kernels differ
    again = helper("default", str(mnt))  # the helper names the problem and the cure
    one_line_error(again, "dead FUSE mount", "fusermount3 -u")
    assert run(["fusermount3", "-u", str(mnt)]).returncode == 0
    assert not mounted(mnt)
    assert helper("default", str(mnt)).returncode == 0  # and the directory is usable again


@pytest.mark.parametrize("flags", [["-f"], ["-d"], ["-o", "debug"], ["-o", "ro,debug"]])
def test_foreground_flags_do_not_fork(mnt: pathlib.Path, flags: list[str]) -> None:
    argv = [sys.executable, str(HERE), "default", str(mnt), *flags]
    # the with-block closes the stderr pipe and reaps the helper on every path, failures too
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            wait_until(lambda: mounted(mnt) or proc.poll() is not None, "the foreground mount")
            assert proc.poll() is None, "a foreground helper must keep serving, not exit"
            assert pids_mentioning(mnt) == [proc.pid]  # no fork: the process we started serves
            assert run(["cat", str(mnt / "hello")]).stdout == HELLO.decode()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=DEADLINE)
        finally:
            proc.kill()
    assert proc.returncode == 0
    assert not mounted(mnt)
    debug = "-d" in flags or any("debug" in f for f in flags)
    assert (b"INIT" in err) == debug  # libfuse traces requests only with debug


def test_foreground_under_systemd_notifies_ready_and_stopping(
    mnt: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """``lp49 mount -f`` as a Type=notify service: READY=1 once served, STOPPING=1 on SIGTERM."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(DEADLINE)
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
        proc = subprocess.Popen([sys.executable, str(HERE), "default", str(mnt), "-f"], env=env)
        try:
            assert sock.recv(4096) == f"READY=1\nSTATUS=serving default on {mnt}".encode()
            assert mounted(mnt)  # ready means mounted and served
            assert run(["cat", str(mnt / "hello")]).stdout == HELLO.decode()
            proc.send_signal(signal.SIGTERM)
            assert sock.recv(4096) == b"STOPPING=1\nSTATUS=unmounting"
            assert proc.wait(timeout=DEADLINE) == 0
        finally:
            proc.kill()
    assert not mounted(mnt)


# ---- failures: one line, non-zero, nothing left behind -------------------------------


def test_missing_mountpoint(mnt: pathlib.Path) -> None:
    one_line_error(helper("default", str(mnt / "nope")), "does not exist")


def test_mountpoint_not_a_directory(mnt: pathlib.Path) -> None:
    (mnt / "f").write_text("")
    one_line_error(helper("default", str(mnt / "f")), "not a directory")


def test_busy_mountpoint(mnt: pathlib.Path) -> None:
    assert helper("default", str(mnt)).returncode == 0
    one_line_error(helper("default", str(mnt)), "busy")
    assert len(pids_mentioning(mnt)) == 1  # the first mount still serves, alone


def test_node_failing_to_boot_unmounts_and_exits(mnt: pathlib.Path) -> None:
    one_line_error(helper("/x/boot-fails.toml", str(mnt)), "node failed to boot: no disk")
    assert not mounted(mnt)
    wait_until(lambda: not pids_mentioning(mnt), "the failed daemon to exit")


def test_node_failing_to_boot_in_the_foreground(mnt: pathlib.Path) -> None:
    r = helper("/x/boot-fails.toml", str(mnt), "-f")
    one_line_error(r, "node failed to boot: no disk")
    assert r.returncode == 1 and not mounted(mnt)


@pytest.mark.parametrize(
    ("argv", "status", "fragment"),
    [
        (["bogus", "DIR"], 1, "SOURCE 'bogus'"),
        (["foo!bar", "DIR"], 1, "unknown network 'foo'"),
        (["default", "DIR", "-o", "frobnicate"], 1, "unknown mount option 'frobnicate'"),
        (["default", "DIR", "-o", "pid=1,proc=rc"], 1, "give one"),
        (["default", "DIR", "-o", "msize=12"], 1, "msize=12"),
        (["default"], 2, "want SOURCE and DIR"),
        (["default", "DIR", "-x"], 2, "unknown flag '-x'"),
        (["/no/such/node.toml", "DIR"], 1, "no such node config file"),
        (["default", "DIR", "-o", "console=stdio"], 1, "a mount daemon has no terminal"),
        (["default", "DIR", "-o", "console=tty"], 1, "is not stdio, none or unix!PATH"),
        (["BADTOML", "DIR"], 1, "bad.toml"),  # a bad config file: one line naming it
        (["default", "DIR", "-o", "pid=999"], 1, "option pid=999: no such LP49 process"),
        (["tcp!127.0.0.1!1", "DIR"], 1, "import tcp!127.0.0.1!1"),  # nobody listens there
        (["unix!/x", "DIR"], 1, "only tcp! and net!"),
    ],
)
def test_lp49_mount_refuses(mnt: pathlib.Path, argv: list[str], status: int, fragment: str) -> None:
    """The real command (the real resolver): bad input and the missing node, one line each."""
    bad = mnt.parent / "bad.toml"
    bad.write_text("[node]\nname = 3\n")
    argv = [{"DIR": str(mnt), "BADTOML": str(bad)}.get(a, a) for a in argv]
    r = run([str(LP49), "mount", *argv])
    one_line_error(r, fragment)
    assert r.returncode == status
    assert not mounted(mnt)


# ---- the forms mount(8) runs ---------------------------------------------------------


def require_link(path: str) -> None:
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run bash scripts/setup.sh")


def test_mount_t_fuse_lp49_runs_our_helper(mnt: pathlib.Path) -> None:
    """mount(8) finds /sbin/mount.fuse.lp49; fstab-only options are dropped on the way."""
    require_link("/sbin/mount.fuse.lp49")
    if os.geteuid() != 0:
        pytest.skip("mount(8) with a helper needs root")
    r = run(["mount", "-t", "fuse.lp49", "default", str(mnt), "-o", "_netdev,nofail,x-a=b"])
    assert (r.returncode, r.stderr) == (0, "")  # the built-in node is served
    assert run(["cat", str(mnt / "dev" / "sysname")]).stdout == "lp49"
    assert run(["umount", str(mnt)]).returncode == 0
    r = run(["mount", "-t", "fuse.lp49", "default", str(mnt), "-o", "frobnicate"])
    one_line_error(r, "unknown mount option 'frobnicate'")
    r = run(["mount", "-t", "fuse.lp49", "default", str(mnt / "nope")])
    one_line_error(r, "does not exist")


def test_fstab_line_reaches_our_helper(mnt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """``default DIR fuse.lp49 defaults,_netdev 0 0``: mount(8) -T FSTAB DIR uses the line."""
    require_link("/sbin/mount.fuse.lp49")
    if os.geteuid() != 0:
        pytest.skip("mount(8) with a helper needs root")
    fstab = tmp_path / "fstab"
    fstab.write_text(f"default {mnt} fuse.lp49 defaults,_netdev,x-systemd.device-timeout=5 0 0\n")
    r = run(["mount", "-T", str(fstab), str(mnt)])
    assert (r.returncode, r.stderr) == (0, "")
    assert mounted(mnt)


def test_mount_fuse3_runs_lp49_with_system_path(mnt: pathlib.Path) -> None:
    """mount.fuse3 runs ``lp49 SOURCE DIR -o OPTS`` with PATH reset (the /usr/local/bin link)."""
    require_link("/usr/local/bin/lp49")
    mount_fuse3 = shutil.which("mount.fuse3", path="/sbin:/usr/sbin")
    if mount_fuse3 is None or os.geteuid() != 0:
        pytest.skip("needs mount.fuse3 and root")
    r = run([mount_fuse3, "default", str(mnt), "-t", "lp49", "-o", "_netdev,defaults,users"])
    assert (r.returncode, r.stderr) == (0, "")
    assert mounted(mnt)


if __name__ == "__main__":
    sys.exit(mount.main(sys.argv[1:], resolve=hello_resolve))
