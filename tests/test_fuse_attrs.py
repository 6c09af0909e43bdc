"""Attributes, ownership and tree-copying tools through the FUSE view (one real mount).

ls -la agrees with stat (mount points included), ``.`` and ``..`` are listed, mtime and
ctime move as POSIX says where 9P2000 can carry them, chown/chgrp behave as chown(2), the
mount is open to other Linux users, and cp -a, tar and rsync -a copy a tree with its modes
and times into the node's /tmp, checked with diff -r and stat.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
from collections.abc import Iterator

import pytest

from tests.fuse_view import mounted, run
from tests.waiting import wait_until

pytestmark = pytest.mark.fuse


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    with mounted(tmp_path_factory.mktemp("attrs")) as mnt:
        yield mnt


@pytest.fixture
def tmp(view: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[pathlib.Path]:
    d = view / "tmp" / request.node.name.replace("[", "_").replace("]", "")
    d.mkdir()
    yield d
    shutil.rmtree(d)


def test_listing_agrees_with_stat(view: pathlib.Path) -> None:
    """readdirplus of / shows the mounted ramfs root at tmp, as stat does (not #R's entry)."""
    with os.scandir(view) as it:
        listed = {e.name: e.stat(follow_symlinks=False) for e in it}
    for name in ("tmp", "dev", "env", "srv"):
        st = os.stat(view / name)
        assert (listed[name].st_mode, listed[name].st_ino) == (st.st_mode, st.st_ino), name
    ls = run(["ls", "-la", str(view)]).stdout.splitlines()
    line = next(x for x in ls if x.endswith(" tmp"))
    assert line.startswith(stat.filemode(os.stat(view / "tmp").st_mode))


def test_dot_and_dotdot_are_listed(view: pathlib.Path, tmp: pathlib.Path) -> None:
    (tmp / "sub").mkdir()
    names = run(["ls", "-a", str(tmp)]).stdout.split()
    assert names[:2] == [".", ".."] and "sub" in names
    ls = run(["ls", "-lai", str(tmp)]).stdout.splitlines()[1:]
    inos = {x.split()[-1]: int(x.split()[0]) for x in ls}
    assert inos["."] == os.stat(tmp).st_ino
    assert inos[".."] == os.stat(tmp.parent).st_ino


def test_mtime_and_ctime_move_with_changes(tmp: pathlib.Path) -> None:
    f = tmp / "f"
    f.write_text("one")
    os.utime(f, (1_000_000_000, 1_000_000_000))
    st = os.stat(f)
    assert st.st_mtime == 1_000_000_000 and st.st_ctime > st.st_mtime
    steps = [
        ("write", lambda: f.write_text("two")),
        ("truncate", lambda: os.truncate(f, 1)),
        ("chmod", lambda: os.chmod(f, 0o600)),
        ("rename", lambda: os.rename(f, tmp / "g")),
    ]
    for what, change in steps:
        os.utime(f, (1_000_000_000, 1_000_000_000))  # 9P2000 times are whole seconds
        before = os.stat(f)
        change()
        path = tmp / "g" if what == "rename" else f
        old = before.st_ctime_ns
        wait_until(lambda p=path, t=old: os.stat(p).st_ctime_ns > t, f"ctime after {what}")
        if what in ("write", "truncate"):
            assert os.stat(path).st_mtime > 1_000_000_000, what
    assert os.stat(tmp / "g").st_size == 1 and stat.S_IMODE(os.stat(tmp / "g").st_mode) == 0o600


def test_chown_and_chgrp(tmp: pathlib.Path) -> None:
    f = tmp / "f"
    f.write_text("x")
    st = os.stat(f)
    os.chown(f, st.st_uid, st.st_gid)  # to the owner shown: a no-op
    os.chown(f, -1, 1)  # chgrp by the owner: a wstat of gid, which ramfs accepts
    assert os.stat(f).st_gid == 1 and os.stat(f).st_uid == st.st_uid
    os.chown(f, 65534, 65534)  # root acts as the host owner, who may change owners
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (65534, 65534)
    os.chown(f, st.st_uid, st.st_gid)  # and back
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (st.st_uid, st.st_gid)


def test_other_users_may_use_the_mount(view: pathlib.Path, tmp: pathlib.Path) -> None:
    """Mounted by root, the view is allow_other: uid 65534 reads and writes (as its own
    LP49 user, nobody: test_fuse_users.py)."""
    mounts = pathlib.Path("/proc/mounts").read_text().splitlines()
    assert "allow_other" in next(x for x in mounts if str(view) in x)
    os.chmod(tmp, 0o777)
    # started in tmp: the path above the mount (pytest's 0700 directory) is not searchable
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
             "echo hi > n && cat n && cat ../../dev/sysname"], cwd=tmp)  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "hi\nlp49"), r


def make_tree(src: pathlib.Path) -> None:
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "f").write_text("hi\n")
    (src / "a" / "b" / "big").write_bytes(os.urandom(300_000))
    (src / "empty").write_bytes(b"")
    (src / "x").write_text("x")
    os.chmod(src / "a" / "f", 0o640)
    os.chmod(src / "x", 0o755)
    os.chmod(src / "a", 0o750)
    for i, p in enumerate(["a/f", "a/b/big", "empty", "x", "a/b", "a"]):
        os.utime(src / p, (1_500_000_000 + i, 1_500_000_000 + i * 1000))


def modes_and_times(root: pathlib.Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = pathlib.Path(dirpath) / name
            st = os.stat(p)
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            out[str(p.relative_to(root))] = (st.st_mode, int(st.st_mtime), size)
    return out


@pytest.mark.parametrize("tool", ["cp -a", "tar", "rsync -a"], ids=["cp", "tar", "rsync"])
def test_tree_copy_tools(tmp: pathlib.Path, tmp_path: pathlib.Path, tool: str) -> None:
    src = tmp_path / "src"
    make_tree(src)
    dst = tmp / "dst"
    cmd = {
        "cp -a": f"cp -a {src} {dst}",
        "tar": f"mkdir {dst} && tar -C {src} -cf - . | tar -C {dst} -xpf -",
        "rsync -a": f"rsync -a {src}/ {dst}/",
    }[tool]
    r = run(["sh", "-c", cmd])
    assert (r.returncode, r.stderr) == (0, ""), r
    assert run(["diff", "-r", str(src), str(dst)]).returncode == 0
    assert modes_and_times(dst) == modes_and_times(src)
