"""import and exportfs between two real node daemons over real TCP on 127.0.0.1.

Node ``beta`` runs ``lp49 node --listen tcp!127.0.0.1!PORT --auth DIR`` (its exportfs
listener, mutual TLS with an authority made per test); node ``alpha`` runs without one and
imports with ``$auth`` set, so every link here is TLS (``#a`` on alpha's side).
Both are subprocesses driven through their unix-socket consoles by ``lp49fs.host.demo.console``
(a scripted shell user), so every byte goes the whole way: alpha's
``import`` program dialling through its ``#I`` (``/net/tcp``), beta's listener announcing and
accepting on its ``#I``, a per-connection ``exportfs`` process (fd 0 = the call's data file)
relaying 9P to beta's name space, and ``#M`` on alpha.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.host.demo.console import LP49, Console, NodeProc
from lp49fs.host.demo.netns import accepting, free_port
from tests.waiting import DEADLINE, wait_until


def authority(workdir: str) -> str:
    """An authority in ``workdir``: user glenda (both shells' user), node beta on 127.0.0.1."""
    d = os.path.join(workdir, "auth")
    a = Authority(d)
    a.init()
    a.issue(USERS, "glenda")
    a.issue(NODES, "beta", ("127.0.0.1",))
    return d


def start(name: str, workdir: str, listen: str | None, auth: bool = True,
          config: str | None = None) -> NodeProc:
    """A node (booted from ``config`` if given); with ``listen``, its listener is TLS with
    ``workdir/auth`` unless not ``auth`` (then a loopback listener serving everyone as none)."""
    cons, log = os.path.join(workdir, f"{name}.cons"), os.path.join(workdir, f"{name}.log")
    authdir = os.path.join(workdir, "auth")
    argv = [*LP49, "node", *([config] if config else []), "--name", name,
            "--console", f"unix!{cons}"]
    if listen:
        argv += ["--listen", listen]
    if auth:  # the importer too: the node sets $auth for its import and srv
        argv += ["--auth", authdir]
    node = NodeProc(name, argv, cons, log)
    try:
        node.attach()
    except BaseException:  # a node whose shell never answered must not outlive the test
        node.stop()
        raise
    return node


@dataclass
class Pair:
    a: NodeProc  # alpha, the importer
    b: NodeProc  # beta, the exporter
    port: int  # beta's exportfs port
    workdir: str

    @property
    def addr(self) -> str:
        return f"tcp!127.0.0.1!{self.port}"

    def p9(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``lp49 9p`` against beta's authenticated listener."""
        return p9(self.addr, *args, auth=os.path.join(self.workdir, "auth"))

    def sh(self, node: NodeProc, cmd: str, timeout: float = DEADLINE) -> tuple[str, str]:
        assert node.console is not None
        return node.console.run(cmd, timeout)

    def restart_b(self) -> None:
        self.b.stop()  # closes its console client; the process is already gone
        if os.path.exists(self.b.cons):  # the killed node left its socket behind
            os.unlink(self.b.cons)
        self.b = start("beta", self.workdir, self.addr)
        wait_until(lambda: accepting(self.port), "beta's exportfs")


@pytest.fixture
def pair(tmp_path: os.PathLike[str]) -> Iterator[Pair]:
    workdir = str(tmp_path)
    authority(workdir)
    port = free_port()
    b = start("beta", workdir, f"tcp!127.0.0.1!{port}")
    try:
        a = start("alpha", workdir, None)
    except BaseException:  # never leave beta running
        b.stop()
        raise
    p = Pair(a, b, port, workdir)
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        yield p
    finally:
        try:
            p.a.stop()
        finally:
            p.b.stop()


def test_import_dev_reads_the_remote_sysname_and_writes_its_console(pair: Pair) -> None:
    out, status = pair.sh(pair.a, f"import {pair.addr} /dev /n")
    assert (out, status) == ("", "")
    assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")
    assert pair.sh(pair.a, "cat /dev/sysname") == ("alpha", "")
    listing, _ = pair.sh(pair.a, "ls /n")
    assert "/n/cons" in listing.split() and "/n/sysname" in listing.split()
    watcher = Console(pair.b.cons)  # every console client sees beta's output
    try:
        pair.sh(pair.a, "echo hello from alpha > /n/cons")
        seen = ""
        deadline = time.monotonic() + DEADLINE
        while "hello from alpha" not in seen and time.monotonic() < deadline:
            watcher.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                seen += watcher.sock.recv(4096).decode(errors="replace")
            except TimeoutError:
                break
        assert "hello from alpha" in seen
    finally:
        watcher.close()


def test_write_and_read_the_remote_tmp(pair: Pair) -> None:
    assert pair.sh(pair.a, f"import -c {pair.addr} /tmp /mnt") == ("", "")
    assert pair.sh(pair.a, "echo written by alpha > /mnt/f") == ("", "")
    assert pair.sh(pair.a, "cat /mnt/f") == ("written by alpha\n", "")
    assert pair.sh(pair.b, "cat /tmp/f") == ("written by alpha\n", "")  # really on beta
    assert pair.sh(pair.b, "echo from beta > /tmp/g") == ("", "")
    assert pair.sh(pair.a, "cat /mnt/g") == ("from beta\n", "")
    assert pair.sh(pair.a, "rm /mnt/f") == ("", "")
    assert pair.sh(pair.b, "ls /tmp") == ("/tmp/g\n", "")


def test_errors_are_one_clear_line(pair: Pair) -> None:
    dead = free_port()
    out, status = pair.sh(pair.a, f"import tcp!127.0.0.1!{dead} /dev /n")
    assert out.startswith(f"import: tcp!127.0.0.1!{dead} /dev: connection refused")
    assert out.count("\n") == 1 and status
    out, status = pair.sh(pair.a, f"import {pair.addr} /nonexistent /n")
    assert out.count("\n") == 1 and "bad remote tree:" in out and status
    out, status = pair.sh(pair.a, f"import {pair.addr} /dev/sysname /n")
    assert "bad remote tree:" in out and "not a directory" in out and status
    out, status = pair.sh(pair.a, "import tcp!127.0.0.1!notaport /dev /n")
    assert out.count("\n") == 1 and out.startswith("import: ") and status
    assert pair.sh(pair.a, "cat /dev/sysname") == ("alpha", "")  # alpha is fine


def test_remote_killed_and_restarted_the_import_recovers_by_itself(pair: Pair) -> None:
    """kill -9 of the exporting node under a read, then the node again on the same port: the
    read blocked meanwhile and every later one go to the new node, with no re-import."""
    assert pair.sh(pair.a, f"import {pair.addr} /dev /n") == ("", "")
    assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")
    cons = pair.a.console
    assert cons is not None
    os.killpg(pair.b.proc.pid, signal.SIGKILL)
    pair.b.proc.wait()
    wait_until(lambda: "/srv/import." not in pair.sh(pair.a, "ls /srv")[0],
               "alpha to see the link break (its /srv entry goes)")
    cons.sock.sendall(b"cat /n/sysname; echo @@x $status @@\n")  # waits for beta's return
    pair.restart_b()
    buf = ""
    deadline = time.monotonic() + DEADLINE  # a hang guard: the read must end, not hang
    while "@@x " not in buf.replace("@@x $status", ""):
        left = deadline - time.monotonic()
        assert left > 0, f"no answer after the remote came back: {buf!r}"
        cons.sock.settimeout(left)
        buf += cons.sock.recv(4096).decode(errors="replace")
    assert "beta@@x  @@" in buf.replace("\r\n", ""), buf
    cons.buf = ""
    pair.sh(pair.a, "echo sync")  # the rest of that exchange (its prompt) goes here
    for _ in range(3):  # a read loop carries on
        assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")
    assert pair.sh(pair.a, "cat /dev/sysname") == ("alpha", "")


def test_unmount_ends_the_redialler(pair: Pair) -> None:
    """The re-dialler an import leaves behind ends with the mount (redial.py Rule 4), and
    takes the /srv entry (so the link) with it."""

    def redialler() -> bool:
        return "import -R " in pair.sh(pair.a, "ps -a")[0]

    assert pair.sh(pair.a, f"import {pair.addr} /dev /n") == ("", "")
    assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")
    wait_until(redialler, "the re-dialler")
    assert pair.sh(pair.a, "unmount /n") == ("", "")
    wait_until(lambda: not redialler(), "the re-dialler to end")
    assert "/srv/import." not in pair.sh(pair.a, "ls /srv")[0]
    assert pair.sh(pair.a, "cat /dev/sysname") == ("alpha", "")


def test_a_frozen_remote_fails_a_pending_read_and_the_import_thaws_by_itself(
    pair: Pair, tmp_path: os.PathLike[str]
) -> None:
    """beta stopped (SIGSTOP) keeps its TCP connection up but answers nothing: alpha's #M pings
    it after peer_timeout of silence and fails the pending read instead of waiting for ever;
    after SIGCONT the import's re-dialler has the mount working again, with no re-import."""
    conf = os.path.join(str(tmp_path), "alpha.toml")
    with open(conf, "w") as f:
        f.write("[node]\npeer_timeout = 1\n")
    pair.a.stop()  # a clean stop removes its console socket
    pair.a = start("alpha", pair.workdir, None, config=conf)
    cons = pair.a.console
    assert cons is not None
    assert pair.sh(pair.a, f"import {pair.addr} /dev /n") == ("", "")
    pid, _ = pair.sh(pair.a, "cat /n/cons & echo $apid")
    wait_until(lambda: "/n/cons" in pair.sh(pair.a, f"cat /proc/{pid.strip()}/fd")[0],
               "cat to open the remote /n/cons")
    os.killpg(pair.b.proc.pid, signal.SIGSTOP)
    try:
        out, _ = pair.sh(pair.a, "wait", timeout=DEADLINE)  # a hang guard: must end
        assert "i/o on hungup channel" in out, out
    finally:
        os.killpg(pair.b.proc.pid, signal.SIGCONT)
    assert pair.sh(pair.a, "cat /n/sysname", timeout=DEADLINE) == ("beta", "")  # beta thawed


def test_srv_dials_and_posts_a_plain_9p_connection(pair: Pair) -> None:
    assert pair.sh(pair.a, f"srv {pair.addr} beta /n") == ("", "")
    assert pair.sh(pair.a, "cat /n/dev/sysname") == ("beta", "")
    listing, _ = pair.sh(pair.a, "ls /srv")
    assert "/srv/beta" in listing.split()
    out, status = pair.sh(pair.a, f"srv tcp!127.0.0.1!{free_port()} nobody")
    assert out.startswith("srv: tcp!127.0.0.1!") and "connection refused" in out and status


def test_import_refused_after_revoke(pair: Pair) -> None:
    assert pair.sh(pair.a, f"import {pair.addr} /dev /n") == ("", "")  # glenda, over TLS
    Authority(os.path.join(pair.workdir, "auth")).revoke("glenda")
    out, status = pair.sh(pair.a, f"import {pair.addr} /dev /mnt")
    assert out == f"import: {pair.addr} /dev: tls: certificate revoked\n" and status
    assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")  # the open link lives on


def p9(addr: str, *args: str, auth: str | None = None) -> subprocess.CompletedProcess[str]:
    """plan9port-style 9p against ``addr``; with ``auth``, TLS as glenda first."""
    tls = ["--auth", auth, "-u", "glenda"] if auth else []
    return subprocess.run([*LP49, "9p", "-a", addr, *tls, *args], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip


def test_host_9p_client_attaches_to_the_export_listener(pair: Pair) -> None:
    done = pair.p9("-A", "/", "read", "/dev/sysname")
    assert (done.stdout, done.returncode) == ("beta", 0), done.stderr
    done = pair.p9("-A", "/dev", "ls", "/")
    assert "sysname" in done.stdout.split()


def test_exportfs_confinement_and_read_only(pair: Pair) -> None:
    # .. at the exported root stays there; # paths and absolute escapes are refused
    done = pair.p9("-A", "/dev", "read", "../../../sysname")
    assert (done.stdout, done.returncode) == ("beta", 0), done.stderr
    done = pair.p9("-A", "/dev", "ls", "..")
    assert "sysname" in done.stdout.split() and "tmp" not in done.stdout.split()
    done = pair.p9("-A", "/../../dev/..", "ls", "/")
    assert "dev" in done.stdout.split() and "tmp" in done.stdout.split()
    done = pair.p9("-A", "#c", "read", "sysname")
    assert done.returncode != 0 and "bad character in file name" in done.stderr
    # a read-only exportfs of /tmp started from beta's shell
    ro = free_port()
    pair.sh(pair.b, "echo kept > /tmp/k")
    pair.sh(pair.b, f"exportfs -R -r /tmp -l tcp!127.0.0.1!{ro} &")
    wait_until(lambda: accepting(ro), "the read-only exportfs")
    addr = f"tcp!127.0.0.1!{ro}"
    assert p9(addr, "read", "/k").stdout == "kept\n"
    assert p9(addr, "read", "../../dev/sysname").returncode != 0  # /tmp is the top
    for cmd in (["create", "/new"], ["rm", "/k"]):
        done = p9(addr, *cmd)
        assert done.returncode != 0 and "permission denied" in done.stderr, cmd
    done = subprocess.run([*LP49, "9p", "-a", addr, "write", "/k"], input="x",
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode != 0 and "permission denied" in done.stderr
    assert pair.sh(pair.b, "cat /tmp/k") == ("kept\n", "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def _listener(pair: Pair) -> tuple[str, str]:
    """(pid, restarts) of beta's export listener, from its /dev/servers row."""
    out, _ = pair.sh(pair.b, "cat /dev/servers")
    row = next(r.split() for r in out.splitlines() if r.split()[:1] == ["exportfs"])
    return row[3], row[5]


def test_a_killed_export_listener_is_restarted_and_serves_again(pair: Pair) -> None:
    """exportfs -l is supervised like the other servers: killed, it is started again (with
    the budget, shown in /dev/servers) on the same port; a connection it had accepted lives."""
    assert pair.sh(pair.a, f"import {pair.addr} /dev /n") == ("", "")
    pid, restarts = _listener(pair)
    assert restarts == "0"
    assert pair.sh(pair.b, f"echo kill > /proc/{pid}/ctl") == ("", "")
    wait_until(lambda: _listener(pair)[0] not in (pid, "0"), "beta's listener restarted")
    assert _listener(pair)[1] == "1"
    assert pair.sh(pair.a, "cat /n/sysname") == ("beta", "")  # the served link lived on
    wait_until(lambda: accepting(pair.port), "beta's exportfs listening again")
    assert pair.sh(pair.a, f"import {pair.addr} /dev /mnt") == ("", "")
    assert pair.sh(pair.a, "cat /mnt/sysname") == ("beta", "")
