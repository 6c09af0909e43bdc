"""The FUSE view end to end: ``lp49 mount default DIR`` driven by real programs.

One mount per module (a detached daemon, as people run it); every file-system access happens
in a subprocess, never on the test's event loop.  The last test unmounts and checks
that no process is left.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.fuse_view import daemons, mounted, run
from tests.waiting import thread_in_syscall, wait_until

pytestmark = pytest.mark.fuse

def sh(cmd: str) -> subprocess.CompletedProcess[str]:
    return run(["sh", "-c", cmd])


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    with mounted(tmp_path_factory.mktemp("view")) as mnt:
        yield mnt


def test_ls_root_and_sysname(view: pathlib.Path) -> None:
    names = run(["ls", str(view)]).stdout.split()
    assert {"dev", "env", "proc", "srv"} <= set(names)
    assert run(["cat", str(view / "dev" / "sysname")]).stdout == "lp49"
    ls = run(["ls", "-l", str(view / "dev")])
    assert ls.returncode == 0 and "sysname" in ls.stdout


def test_stat_inode_is_stable(view: pathlib.Path) -> None:
    f = str(view / "dev" / "sysname")
    a = run(["stat", "-c", "%i %F %a", f]).stdout
    b = run(["stat", "-c", "%i %F %a", f]).stdout
    assert a == b and "regular" in a
    assert run(["stat", "-c", "%F", str(view / "dev")]).stdout.strip() == "directory"


def test_env_write_append_remove(view: pathlib.Path) -> None:
    f = view / "env" / "fusevar"
    assert sh(f"echo hello > {f}").returncode == 0
    assert run(["cat", str(f)]).stdout == "hello\n"
    assert sh(f"echo more >> {f}").returncode == 0
    assert run(["cat", str(f)]).stdout == "hello\nmore\n"
    assert sh(f"echo x > {f}").returncode == 0  # O_TRUNC became OTRUNC
    assert run(["cat", str(f)]).stdout == "x\n"
    assert run(["rm", str(f)]).returncode == 0
    r = run(["cat", str(f)])
    assert r.returncode != 0 and "No such file or directory" in r.stderr


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("cat {v}/nonexistent", "No such file or directory"),  # ENOENT
        ("echo x > {v}/dev/drivers", "Permission denied"),  # EACCES (read-only file)
        ("ls {v}/dev/sysname/x", "Not a directory"),  # ENOTDIR
        ("mkdir {v}/dev/newdir", ""),  # a servant refuses creation
        ("mv {v}/env {v}/dev/env2", ""),  # across directories: EXDEV, mv cannot copy a dir
    ],
)
def test_errors_reach_programs(view: pathlib.Path, cmd: str, message: str) -> None:
    r = sh(cmd.format(v=view))
    assert r.returncode != 0, r
    assert message in r.stderr


def test_df_works(view: pathlib.Path) -> None:
    r = run(["df", str(view)])
    assert r.returncode == 0 and "default" in r.stdout
    assert run(["stat", "-f", str(view)]).returncode == 0


def test_find_walks_the_tree(view: pathlib.Path) -> None:
    r = run(["find", str(view / "dev"), str(view / "env")])
    assert r.returncode == 0, r.stderr
    assert str(view / "dev" / "sysname") in r.stdout.split()


def blocked_in_read(p: subprocess.Popen[bytes]) -> None:
    """Wait until ``p`` sits in read(2) (``/proc/PID/syscall`` names syscall 0 on x86-64)."""
    wait_until(lambda: p.poll() is not None or thread_in_syscall(p.pid, 0), "the reader to "
               "block in read(2)")
    assert p.poll() is None, "the reader ended before it blocked"


def default_sigint() -> None:
    """In the child: SIGINT kills, even if the test runner was started with it ignored (a
    background job of a non-interactive shell inherits SIG_IGN, and so would ``cat``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_cat_cons_interrupted_by_sigint(view: pathlib.Path) -> None:
    p = subprocess.Popen(["cat", str(view / "dev" / "cons")], stderr=subprocess.DEVNULL,
                         preexec_fn=default_sigint)  # fmt: skip
    try:
        blocked_in_read(p)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
        assert time.monotonic() - t0 < 5  # promptly, not when the console produces a line
    finally:  # never leave a cat behind (its Popen would warn in some later test)
        p.kill()
        p.wait()
    assert run(["cat", str(view / "dev" / "sysname")]).stdout == "lp49"  # mount still serves


def test_binds_show_live_in_the_shown_name_space(view: pathlib.Path) -> None:
    r = run(["cat", str(view / "proc" / "1" / "ns")])
    assert r.returncode == 0 and "#c" in r.stdout


def test_ramfs_tree_operations(view: pathlib.Path, tmp_path: pathlib.Path) -> None:
    tmp = view / "tmp"  # the node's ramfs, mounted with create permission (MCREATE)
    assert "ramfs" in run(["ls", str(view / "srv")]).stdout.split()
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f").write_bytes(os.urandom(100_000))
    (src / "g").write_text("g\n")
    assert run(["cp", "-r", str(src), str(tmp / "copy")]).returncode == 0
    back = tmp_path / "back"
    assert run(["cp", "-r", str(tmp / "copy"), str(back)]).returncode == 0
    assert run(["diff", "-r", str(src), str(back)]).returncode == 0
    assert run(["mkdir", "-p", str(tmp / "x" / "y" / "z")]).returncode == 0
    assert run(["mv", str(tmp / "copy" / "g"), str(tmp / "copy" / "h")]).returncode == 0
    assert run(["cat", str(tmp / "copy" / "h")]).stdout == "g\n"
    assert run(["truncate", "-s", "10", str(tmp / "copy" / "h")]).returncode == 0
    assert run(["stat", "-c", "%s", str(tmp / "copy" / "h")]).stdout.strip() == "10"
    assert run(["chmod", "600", str(tmp / "copy" / "h")]).returncode == 0
    assert run(["stat", "-c", "%a", str(tmp / "copy" / "h")]).stdout.strip() == "600"
    assert sh(f"echo one > {tmp}/x/e && echo two >> {tmp}/x/e").returncode == 0
    assert run(["cat", str(tmp / "x" / "e")]).stdout == "one\ntwo\n"
    found = run(["find", str(tmp)]).stdout.split()
    assert {str(tmp / "x" / "y" / "z"), str(tmp / "copy" / "a" / "b" / "f")} <= set(found)
    assert run(["rm", "-r", str(tmp / "copy"), str(tmp / "x")]).returncode == 0
    assert run(["ls", str(tmp)]).stdout.split() == []


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("cat {t}/nonexistent", "No such file or directory"),  # ENOENT
        ("mkdir {t}/d", "File exists"),  # EEXIST
        ("mkdir {t}/f/x", "Not a directory"),  # ENOTDIR
        ("echo x > {t}/d", "Is a directory"),  # EISDIR
        ("rmdir {t}/d", "Directory not empty"),  # ENOTEMPTY
        ("echo x > {t}/ro", "Permission denied"),  # EACCES: ramfs checks the mode bits
        ("rmdir {v}/tmp", "Permission denied"),  # a mount point in #R cannot be removed
        ('python3 -c \'import os; os.rename("{t}/d", "{t}/f")\'', "Not a directory"),
        ("python3 -c 'import os; os.unlink(\"{t}/d\")'", "Is a directory"),
    ],
)
def test_ramfs_errors_reach_programs(view: pathlib.Path, cmd: str, message: str) -> None:
    t = view / "tmp" / "errs"
    setup = f"mkdir -p {t}/d && touch {t}/d/f {t}/f && echo r > {t}/ro && chmod 444 {t}/ro"
    assert sh(setup).returncode == 0
    try:
        r = sh(cmd.format(v=view, t=t))
        assert r.returncode != 0, r
        assert message in r.stderr, r.stderr
    finally:
        assert run(["rm", "-rf", str(t)]).returncode == 0


def test_unmount_leaves_no_process(view: pathlib.Path) -> None:
    assert daemons(view)
    assert run(["fusermount3", "-u", str(view)]).returncode == 0
    wait_until(lambda: not daemons(view), "the daemon to exit at unmount")
    assert not os.path.ismount(view)
