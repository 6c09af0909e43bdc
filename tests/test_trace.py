"""lp49fs.trace on a booted node: one read of a ramfs file followed through every layer.

The node is real (L4 model, Mngr and clerks, namec, ``#M``, ramfs as an LP49 process on a
pipe); the classic path is followed on a node with the service bus off, the bus path on one
with it on (docs/servicebus.md); the test marks one task's calls with a ``Trace`` the way
the FUSE bridge does for a traced request, and checks the arrows the layers reported, in
order.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest
import trio
from lib_helpers import rnode, run_as

from kernel import trace as ktrace
from lp49fs import lib, tracefmt
from lp49fs import trace as t
from lp49fs.errors import Error
from lp49fs.ninep import OREAD
from lp49fs.node.boot import Node, boot
from lp49fs.node.servers import start_servers, stop_servers

__all__ = ["rnode"]


def _node(bus: bool) -> object:
    @pytest.fixture
    async def fixture() -> AsyncIterator[Node]:
        with trio.fail_after(30):  # a guard against a hang, never a timing assertion
            async with boot(bus=bus) as n, trio.open_nursery() as nursery:
                svs = await start_servers(n, nursery)
                yield n
                await stop_servers(n, svs)

    return fixture


cnode = _node(False)  # the classic path: every read crosses the core
bnode = _node(True)  # the service bus



def arrows(tr: t.Trace) -> list[tuple[str, str]]:
    return [(e.frm, e.to) for e in tr.events]


def subsequence(want: list[tuple[str, str]], got: list[tuple[str, str]]) -> bool:
    it = iter(got)
    return all(w in it for w in want)


async def traced(node: Node, body: object) -> t.Trace:
    """Run ``body()`` (lib calls) in a process, its calls marked by one trace."""
    tr = t.Trace("test")

    async def prog() -> None:
        tr.add("Linux", "FUSE", "request")
        tok = t.begin(tr)
        try:
            await body()  # type: ignore[operator]
        finally:
            t.end(tr, tok)

    t.enable()
    try:
        assert await run_as(node, prog) == ""
    finally:
        t.disable()
    return tr


async def make_x() -> None:
    """/tmp/x holding ``hello``: the file the traced reads read."""
    fd = await lib.create("/tmp/x", 1, 0o644)
    await lib.write(fd, b"hello")
    await lib.close(fd)


async def read_x() -> None:
    fd = await lib.open("/tmp/x", OREAD)
    assert await lib.read(fd, 100) == b"hello"


async def test_a_ramfs_read_goes_through_every_layer(cnode: Node) -> None:
    assert await run_as(cnode, make_x) == ""
    tr = await traced(cnode, read_x)
    got = arrows(tr)
    want = [
        ("FUSE", "lib"),  # the program's call into the library
        ("lib", "L4"),  # the L4 message to the Mngr
        ("L4", "Mngr"),
        ("Mngr", "clerk"),  # the clerk that drove the Mngr's receive takes the call
        ("clerk", "namec"),
        ("namec", "namec"),  # the mount table: / is a union
        ("namec", "#M"),  # the walk reaches ramfs's mount
        ("#M", "9P"),  # Twalk on the link
        ("9P", "server"),  # ramfs handles it
        ("server", "9P"),
        ("9P", "#M"),  # Rwalk
        ("#M", "namec"),
        ("namec", "clerk"),
        ("clerk", "L4"),  # the reply
        ("L4", "lib"),
        ("lib", "FUSE"),
    ]
    assert subsequence(want, got), "\n".join(f"{e.frm} -> {e.to}: {e.text}" for e in tr.events)
    texts = [e.text for e in tr.events]
    assert any(x.startswith("ipc ") and "open" in x and "'/tmp/x'" in x for x in texts)
    assert any(x.startswith("Twalk tag ") and "0:x" in x for x in texts)
    assert any(x.startswith("Tread tag ") for x in texts)
    assert any(x.startswith("Rread tag ") and "hello" in x for x in texts)
    assert any("serves Tread" in x for x in texts), texts
    spent = tr.layers()
    assert {"lib", "L4", "Mngr", "clerk", "namec", "#M", "9P", "server"} <= spent.keys()
    assert all(v >= 0 for v in spent.values())
    assert tr.done and not ktrace.on and not t.pending


async def test_a_watch_reads_each_system_call_off_the_trace(rnode: Node) -> None:
    lines: list[str] = []

    async def body() -> None:
        fd = await lib.open("/dev/sysname", OREAD)
        await lib.close(fd)
        try:
            await lib.stat("/nonexistent")
        except Error:
            pass

    tr = t.Trace("watched", watch=lines.append)
    tok = t.begin(tr)
    t.enable()
    try:
        assert await run_as(rnode, body) == ""
    finally:
        t.disable()
        t.end(tr, tok)
    assert lines[0].startswith("open('/dev/sysname', 0) -> (") and lines[1].startswith("close(")
    assert lines[2].startswith("stat('/nonexistent'")
    assert lines[2].endswith("-> error \"'/nonexistent' does not exist\"")
    assert len(lines) == 3 and not t.on


async def test_a_bus_read_goes_from_the_library_to_the_server(bnode: Node) -> None:
    assert await run_as(bnode, make_x) == ""
    tr = await traced(bnode, read_x)
    got = arrows(tr)
    want = [
        ("clerk", "bus"),  # the open grants the channel
        ("FUSE", "lib"),  # the read
        ("lib", "L4"),  # straight to the server's endpoint thread
        ("L4", "bus"),
        ("bus", "server"),  # Ramfs's File.read
        ("server", "bus"),
        ("bus", "L4"),  # the reply
        ("L4", "lib"),
        ("lib", "FUSE"),
    ]
    assert subsequence(want, got), "\n".join(f"{e.frm} -> {e.to}: {e.text}" for e in tr.events)
    read = got[got.index(("clerk", "bus")) :]
    assert ("L4", "Mngr") not in read  # after the open, nothing reaches the core
    texts = [e.text for e in tr.events]
    assert any("read words" in x and "label" not in x for x in texts), texts
    assert any("Ramfs serves READ" in x for x in texts), texts
    assert not any(x.startswith("Tread tag ") for x in texts)  # no 9P for the read


async def test_untraced_calls_leave_no_events_and_tracing_is_off(rnode: Node) -> None:
    assert not t.on and not ktrace.on
    tr = t.Trace("idle")
    t.enable()
    try:
        async def body() -> None:
            await lib.stat("/tmp")  # not under the trace's mark

        assert await run_as(rnode, body) == ""
    finally:
        t.disable()
    assert tr.events == [] and not t.on and not ktrace.on


def sample() -> t.Trace:
    tr = t.Trace("open /tmp/x")
    for frm, to, text in [("Linux", "FUSE", "open"), ("FUSE", "lib", "open"),
                          ("lib", "L4", "ipc 61.1 -> 52.1: open"), ("L4", "Mngr", "deliver"),
                          ("namec", "namec", "mount table: tmp is a mount point <&>"),
                          ("L4", "lib", "deliver"), ("lib", "FUSE", "OK")]:  # fmt: skip
        tr.add(frm, to, text)
    return tr


def test_text_has_a_line_per_arrow_and_the_time_per_layer() -> None:
    tr = sample()
    lines = tracefmt.text([tr]).splitlines()
    assert lines[0] == "trace: open /tmp/x"
    assert len(lines) == 1 + len(tr.events) + 1
    assert lines[3].split()[1:4] == ["lib", "->", "L4"]
    assert lines[-1].startswith("  time per layer: FUSE ") and "(total " in lines[-1]
    back = t.Trace.from_json(tr.to_json())
    assert [e[1:] for e in back.events] == [e[1:] for e in tr.events]


def test_svg_is_well_formed_and_draws_each_lane_and_arrow(tmp_path: pathlib.Path) -> None:
    doc = tracefmt.svg([sample()])
    root = ET.fromstring(doc)
    ns = "{http://www.w3.org/2000/svg}"
    texts = [x.text for x in root.iter(ns + "text")]
    for lane in ("Linux", "FUSE", "lib", "L4", "Mngr", "namec"):
        assert lane in texts
    arrows = [x for x in root.iter(ns + "line") if x.get("marker-end")]
    assert len(arrows) == 6  # the namec self-arrow is a note
    assert "mount table: tmp is a mount point <&>" in texts
    tool = shutil.which("rsvg-convert")  # librsvg2-bin, from scripts/setup.sh
    assert tool, "rsvg-convert missing: run scripts/setup.sh"
    f = tmp_path / "t.svg"
    f.write_text(doc)
    out = tmp_path / "t.png"
    subprocess.run([tool, str(f), "-o", str(out)], check=True, capture_output=True, timeout=60)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_of_page_faults_fold_into_two_arrows() -> None:
    tr = t.Trace("read")
    tr.add("FUSE", "lib", "pread")
    for _ in range(3):
        tr.add("lib", "L4", "ipc 61.1 -> 51.1: pagefault words (1, 0)")
        tr.add("L4", "HVM", "deliver to 51.1")
        tr.add("HVM", "L4", "ipc 51.1 -> 61.1: OK items [map 0x1000/4096 rwx]")
        tr.add("L4", "lib", "deliver to 61.1")
    tr.add("lib", "L4", "ipc 61.1 -> 52.1: pread\nwith a newline")
    rows = tracefmt.fold(tr.events)
    assert [(e.frm, e.to) for e in rows] == [("FUSE", "lib"), ("lib", "HVM"), ("HVM", "lib"),
                                             ("lib", "L4")]  # fmt: skip
    assert rows[1].text.startswith("3 page fault(s)")
    assert rows[-1].text.endswith("pread\\nwith a newline")  # one event, one line
    assert "HVM" in tr.layers()  # the time is still charged to each layer
