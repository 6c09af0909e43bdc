"""``lp49 demo multihost --check`` end to end, and its pieces: emulated hosts (network
namespaces joined by veths; loopback ports) and the scripted console client.

The namespace tests need root (``require_root``: in CI they fail rather than skip).  Traffic
stays inside namespaces this test makes (10.249.0.0/24 on their veths) or on 127.0.0.1."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from lp49fs.host.demo.console import LP49, NodeProc
from lp49fs.host.demo.netns import Hosts, NetnsError, sweep

CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], 9), timeout=2)"


def namespaces() -> set[str]:
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def connect_error(hosts: Hosts, host: str, addr: str) -> str:
    """The last line of a TCP connect from ``host`` to ``addr`` port 9 (nobody listens)."""
    r = subprocess.run(hosts.argv(host, [sys.executable, "-c", CONNECT, addr]),
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    return r.stderr.strip().splitlines()[-1]


def test_namespaces_reach_only_their_links(require_root: None) -> None:
    with Hosts(["a", "b", "c"], netns=True) as hosts:
        hosts.link("a", "b")
        hosts.link("a", "c")
        made = {h.netns for h in hosts.hosts.values()}
        assert made <= namespaces()
        assert hosts["b"].dial(hosts["a"]) == "tcp!10.249.0.2!17007"
        assert hosts["a"].dial(hosts["c"]) == "tcp!10.249.0.5!17007"
        with pytest.raises(NetnsError, match="no link"):
            hosts["c"].dial(hosts["b"])
        # a's address is up on b's link (refused: nobody listens); c is unreachable from b
        assert "ConnectionRefusedError" in connect_error(hosts, "b", "10.249.0.1")
        assert "Network is unreachable" in connect_error(hosts, "b", "10.249.0.6")
    assert not made & namespaces()


def test_namespaces_are_deleted_when_the_block_fails(require_root: None) -> None:
    with pytest.raises(RuntimeError), Hosts(["x", "y"], netns=True) as hosts:
        made = {h.netns for h in hosts.hosts.values()}
        hosts.link("x", "y")
        raise RuntimeError("a step failed")
    assert made and not made & namespaces()


def test_sweep_removes_namespaces_of_dead_runs(require_root: None) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"lp49-{dead.pid}-a"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in sweep()
        mine = Hosts(["z"], netns=True)
        try:
            assert mine["z"].netns not in sweep()  # this process is alive
        finally:
            mine.close()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)
    assert stale not in namespaces()


def test_loopback_hosts_have_distinct_ports() -> None:
    with Hosts(["a", "b"], netns=False) as hosts:
        hosts.link("a", "b")
        a, b = hosts["a"], hosts["b"]
        assert a.port != b.port
        assert a.dial(b) == f"tcp!127.0.0.1!{a.port}"
        assert hosts.argv("a", ["ls"]) == ["ls"]


def test_console_client_reports_output_and_status(tmp_path: pathlib.Path) -> None:
    node = NodeProc(
        "t", [*LP49, "node", "--name", "t", "--console", f"unix!{tmp_path / 'cons'}"],
        str(tmp_path / "cons"), str(tmp_path / "log"),
    )  # fmt: skip
    try:
        cons = node.attach()
        assert cons.run("cat /dev/sysname") == ("t", "")
        assert cons.run("echo one; echo two") == ("one\ntwo\n", "")
        out, status = cons.run("cat /nonexistent")
        assert status and "does not exist" in out
    finally:
        assert node.stop() == 0, node.tail()


def test_demo_multihost_check(
    require_root: None, require_fuse: None, tmp_path: pathlib.Path
) -> None:
    # Another run of the suite may make namespaces meanwhile: look only at this demo's own
    # (netns.py names them lp49-<pid>-<host>) and at mounts under its own work directory.
    with subprocess.Popen([*LP49, "demo", "multihost", "--check", "--dir", str(tmp_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        try:
            out, err = p.communicate(timeout=120)
        finally:
            p.kill()
    lines = out.splitlines()
    assert p.returncode == 0, out + err
    steps = [ln.split(":")[0] for ln in lines]
    assert steps == [
        "ok   hosts", "ok   boot", "ok   a imports b's /dev", "ok   a imports c's ramfs",
        "ok   b has no route to c", "ok   b dials out through a's /net",
        "ok   host FUSE view of a", "ok   teardown",
    ]  # fmt: skip
    assert not {n for n in namespaces() if n.startswith(f"lp49-{p.pid}-")}  # none left
    with open("/proc/mounts") as f:
        assert str(tmp_path) not in f.read()  # the FUSE view is unmounted


def test_demo_multihost_own_stack_check(tmp_path: pathlib.Path) -> None:
    """The scenario over the nodes' own IP stacks: a-b and a-c each on an ``lp49 hub``."""
    with subprocess.Popen([*LP49, "demo", "multihost", "--stack", "own", "--check", "--dir",
                           str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as p:  # fmt: skip
        try:
            out, err = p.communicate(timeout=120)
        finally:
            p.kill()
    lines = out.splitlines()
    assert p.returncode == 0, out + err
    assert [ln.split(":")[0] for ln in lines] == [
        "ok   hosts", "ok   boot", "ok   a imports b's /dev", "ok   a imports c's ramfs",
        "ok   b has no route to c", "ok   b dials out through a's /net",
        "skip host FUSE view of a", "ok   teardown",
    ]  # fmt: skip
    assert "10.250.0.1" in lines[0] and "hubs stopped" in lines[-1]
    assert not list(tmp_path.glob("hub-*"))  # the hubs removed their sockets
