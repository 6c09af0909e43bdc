"""``[[hostservers]]``: a node starts ``lp49 u9fs`` as a host process, posts it through its
own ``srv`` (dialled through ``#I``) and mounts it; supervised and stopped with the node.

The node is a real ``lp49 node CONFIG --console unix!PATH`` subprocess driven through its
console (``lp49fs.host.demo.console``); the served directory is checked on the Linux side.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator

import pytest

from bench.churn9p import reply
from lp49fs.host.demo.console import LP49, NodeProc
from lp49fs.host.node import namespace
from lp49fs.ninep import NOTAG, Rerror, Tversion, encode
from lp49fs.ninep._codec import parse_message
from lp49fs.node.config import ConfigError, HostServerConf, parse
from lp49fs.node.hostservers import AUTHDIR, sweep
from tests.waiting import wait_until

CONFIG = """
[node]
name = "hs"
[[hostservers]]
name = "unix"
cmd = "u9fs"
args = ["{root}"]
mount = "/n"
"""


def test_config_reads_hostservers() -> None:
    cfg = parse(CONFIG.format(root="/srv/share"))
    assert cfg.hostservers == (HostServerConf("unix", "u9fs", ("/srv/share",), "/n"),)
    assert parse("").hostservers == ()
    cfg = parse('[[hostservers]]\ncmd = "ramfs"\n')
    assert cfg.hostservers == (HostServerConf("ramfs", "ramfs", (), None),)
    assert namespace(cfg) == cfg.namespace  # no mount, no extra line


def test_init_namespace_mounts_each_hostserver_last() -> None:
    cfg = parse(CONFIG.format(root="/x"))
    ns = namespace(cfg)
    assert ns.startswith(cfg.namespace) and ns.endswith("\nmount -c /srv/unix /n\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[hostservers]]\ncmd = "sh"\n', "hostservers[0].cmd: want one of u9fs, ramfs"),
        ('[[hostservers]]\nprog = "u9fs"\n', "hostservers[0]: unknown key 'prog'"),
        ('[[hostservers]]\ncmd = "u9fs"\nmount = "n"\n', "not an absolute path"),
        ('[[hostservers]]\ncmd = "u9fs"\nname = "a/b"\n', "is not a /srv name"),
        ('[[hostservers]]\ncmd = "u9fs"\nargs = "/x"\n', "args: want a list of strings"),
        ('hostservers = 3\n', "hostservers must be an array of tables"),
    ],
)
def test_config_refuses_bad_hostservers(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(text, "n.toml")


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` (every thread's /proc children list)."""
    out: set[int] = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            out.update(int(c) for c in f.read().split())
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def node(tmp_path: pathlib.Path) -> Iterator[tuple[NodeProc, pathlib.Path]]:
    root = tmp_path / "share"
    root.mkdir()
    (root / "hello").write_bytes(b"hello from linux\n")
    conf = tmp_path / "hs.toml"
    conf.write_text(CONFIG.format(root=root))
    cons, log = str(tmp_path / "hs.cons"), str(tmp_path / "hs.log")
    n = NodeProc("hs", [*LP49, "node", str(conf), "--console", f"unix!{cons}"], cons, log)
    try:
        n.attach()
        yield n, root
    finally:
        n.stop()


def test_node_starts_posts_mounts_restarts_and_stops_its_u9fs(
    node: tuple[NodeProc, pathlib.Path],
) -> None:
    n, root = node
    assert n.console is not None
    sh = n.console.run
    assert sh("ls /srv") == ("/srv/ramfs\n/srv/unix\n", "")
    assert sh("ls /n") == ("/n/hello\n", "")  # mounted by init's name space
    assert sh("cat /n/hello") == ("hello from linux\n", "")
    assert sh("echo from the node > /n/new") == ("", "")
    assert (root / "new").read_bytes() == b"from the node\n"

    [u9fs] = children(n.proc.pid)
    os.kill(u9fs, signal.SIGKILL)  # supervised: a new u9fs is started and posted again
    wait_until(lambda: len(children(n.proc.pid) - {u9fs}) == 1, "a new u9fs")
    wait_until(lambda: sh("ls /srv/unix")[1] == "", "/srv/unix posted again")
    # the shell's mount was of the dead connection: #M walked it again on the new one
    assert sh("ls /n") == ("/n/hello\n/n/new\n", "")
    assert sh("cat /n/new") == ("from the node\n", "")

    [again] = children(n.proc.pid)
    assert n.stop() == 0
    assert not alive(again)  # stopped with the node


def test_the_documented_example_entry_parses() -> None:
    """docs/node.example.toml: uncommenting its [[hostservers]] block gives that entry."""
    path = pathlib.Path(__file__).parent.parent / "docs" / "node.example.toml"
    lines = path.read_text().splitlines()
    start = lines.index("# [[hostservers]]")
    block = "\n".join(line[2:] for line in lines[start:] if line.startswith("# "))
    cfg = parse(path.read_text() + block, str(path), str(path.parent))
    assert cfg.hostservers == (HostServerConf("unix", "u9fs", ("/srv/share",), "/n"),)


def test_only_the_node_reaches_its_host_servers(node: tuple[NodeProc, pathlib.Path]) -> None:
    """The u9fs listens on loopback, where any local user can connect: a plain 9P client
    is refused (TLS with the node's private authority is required) and the node's own
    mount works; the private authority's directory is 0700 and gone after the stop."""
    n, _ = node
    assert n.console is not None and n.console.run("cat /n/hello")[1] == ""
    with open(n.log) as f:
        found = re.search(r"hostserver unix: pid \d+ serving on tcp!127\.0\.0\.1!(\d+)", f.read())
    assert found, n.tail()
    with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=30) as s:
        s.sendall(encode(NOTAG, Tversion(8192, "9P2000")))
        _, r = parse_message(reply(s))
    assert isinstance(r, Rerror) and "authentication required" in r.ename, r
    [u9fs] = children(n.proc.pid)
    with open(f"/proc/{u9fs}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    authdir = argv[argv.index(b"--auth") + 1].decode()
    assert stat.S_IMODE(os.stat(authdir).st_mode) == 0o700
    n.stop()
    assert not os.path.exists(authdir)


def test_a_node_killed_with_sigkill_leaves_no_host_server(
    node: tuple[NodeProc, pathlib.Path],
) -> None:
    """SIGKILL gives the node no chance to stop its u9fs (in a session of its own, so not
    in the node's process group either): the u9fs sees end of file on its ``--parent-fd``
    pipe and stops by itself."""
    n, _ = node
    assert n.console is not None and n.console.run("cat /n/hello")[1] == ""
    [u9fs] = children(n.proc.pid)
    with open(f"/proc/{u9fs}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    authdir = argv[argv.index(b"--auth") + 1].decode()
    n.proc.kill()
    n.proc.wait()
    try:
        wait_until(lambda: not alive(u9fs), "the orphaned u9fs stops")
        assert os.path.isdir(authdir)  # the dead node could not remove its keys
        sweep()  # as the next node to start does
        assert not os.path.exists(authdir)
    finally:
        shutil.rmtree(authdir, ignore_errors=True)


def test_sweep_removes_only_the_authorities_of_dead_nodes(tmp_path: pathlib.Path) -> None:
    gone = _dead_pid()
    names = [f"{AUTHDIR}{gone}-a", f"{AUTHDIR}{os.getpid()}-b", f"{AUTHDIR}x-c", "other"]
    for name in names:
        (tmp_path / name).mkdir()
    sweep(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid
