"""Small points where the node now behaves as Plan 9 does: rfork m, consctl, echo's and
mkdir's messages, /srv posting errors, and ps states from the system call a process is in."""

from __future__ import annotations

import trio

from lp49fs import lib
from lp49fs.node.boot import Node
from lp49fs.node.servers import ServerSpec, start_servers
from tests.lib_helpers import node
from tests.sh_helpers import sh
from tests.waiting import await_until

__all__ = ["node"]


async def test_rfork_m_refuses_mounts_and_sharp_paths_not_binds(node: Node) -> None:
    r = await sh(node, "rfork m; bind /dev /n && echo bind ok; ls /n/sysname\n"
                       "bind '#s' /n >[2=1]; bind '#c' /n && echo cons ok\n"
                       "echo -n >/env/x; mount /env/x /n >[2=1]")
    lines = r.out.splitlines()
    assert lines[:2] == ["bind ok", "/n/sysname"], r.err
    assert "mount/attach disallowed" in lines[2]  # '#s' is not among Plan 9's "|decp"
    assert lines[3] == "cons ok"
    assert "mount/attach disallowed" in lines[4]


async def test_consctl_rejects_garbage(node: Node) -> None:
    r = await sh(node, "echo rawon rawoff > /dev/consctl && echo good\n"
                       "echo bogus > /dev/consctl; echo $status")
    assert r.out.startswith("good\n")
    assert "bad process or channel control request" in r.err


async def test_echo_reports_a_failed_write(node: Node) -> None:
    r = await sh(node, "echo bogus > /dev/consctl; echo $status")
    assert r.err == "echo: write error: bad process or channel control request\n"
    assert r.out == "write error\n"


async def test_echo_of_a_bad_fd_to_srv_is_refused_with_a_message(node: Node) -> None:
    r = await sh(node, "echo 7 > /srv/bad2; echo $status")
    assert r.err.startswith("echo: write error: ")
    assert r.out == "write error\n"


async def test_mkdir_of_an_existing_name_says_already_exists(node: Node) -> None:
    r = await sh(node, "mkdir /env; echo $status")
    assert r.err == "mkdir: /env already exists\n"
    assert r.out == "error\n"


async def test_a_second_ramfs_on_a_live_name_is_refused(node: Node) -> None:
    async with trio.open_nursery() as nursery:
        await start_servers(node, nursery, (ServerSpec("ramfs", "ramfs", ("ramfs",)),))
        r = await sh(node, "ramfs; echo $status; mount -c /srv/ramfs /tmp && echo still ok")
        assert "file already exists" in r.err
        assert r.out.splitlines() == [r.out.splitlines()[0], "still ok"]
        assert "file already exists" in r.out.splitlines()[0]
        nursery.cancel_scope.cancel()


async def test_ps_shows_the_call_a_process_waits_in(node: Node) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sh, node, "sleep 100000 & cat /dev/cons")

        def states() -> dict[str, str]:
            return {p.name: p.state for p in node.core.procs.values()}

        await await_until(lambda: {"sleep", "cat"} <= states().keys(), "sleep and cat")
        r = await sh(node, "ps")
        table = {f[-1]: f[-2] for f in (line.split() for line in r.out.splitlines())}
        assert table["sleep"] == "Sleep" and table["cat"] == "Pread"
        assert table["sh"] in ("Await", "Pread")
        assert table["ps"] == "Pread"  # reading its own status, as Plan 9's ps shows itself
        nursery.cancel_scope.cancel()


async def test_proc_ctl_stop_waitstop_start(node: Node) -> None:
    """stop halts a process at its next system call, waitstop waits for that, start resumes."""
    ticks: list[int] = []

    async def ticker(_: list[str]) -> None:
        while True:
            ticks.append(1)
            await lib.sleep(1)

    node.programs["ticker"] = ticker
    pid = await node.spawn("ticker", ["ticker"])
    await await_until(lambda: len(ticks) > 3, "ticks")
    r = await sh(node, f"echo start > /proc/{pid}/ctl; echo $status\n"
                       f"echo stop > /proc/{pid}/ctl; echo waitstop > /proc/{pid}/ctl")
    assert r.out.splitlines()[0] == "write error"
    assert "process not stopped" in r.err
    assert node.core.procs[pid].state == "Stopped"
    frozen = len(ticks)
    await lib_sleep_in_node(node)
    assert len(ticks) == frozen  # no system call got through while stopped
    await sh(node, f"echo start > /proc/{pid}/ctl")
    await await_until(lambda: len(ticks) > frozen + 2, "ticks again")
    await sh(node, f"kill {pid}")


async def lib_sleep_in_node(node: Node) -> None:
    """Let the node run a while (a sleeping program, not a host sleep)."""
    async def nap(_: list[str]) -> None:
        await lib.sleep(50)

    node.programs["nap"] = nap
    assert await node.run("nap") == ""
