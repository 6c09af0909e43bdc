"""``lp49 trace -- cat MNT/tmp/x`` against a real FUSE mount of the default node.

The daemon is ``lp49 mount default DIR`` (a real node, ramfs on /tmp); the trace command runs
``cat`` as a Linux process, the daemon traces the FUSE requests of that pid only, and the
printed sequence must reach from the FUSE request down to Ramfs and back.  Every file-system
access runs in a subprocess.
"""

from __future__ import annotations

import os
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from lp49fs.fuse.tracectl import sockpath
from tests.fuse_view import LP49, daemons, mounted, run
from tests.waiting import wait_until

pytestmark = pytest.mark.fuse

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    base = tmp_path_factory.mktemp("tview")
    with pytest.MonkeyPatch.context() as mp:  # the classic path, as docs/tour.md follows it
        mp.setenv("LP49_BUS", "0")
        with mounted(base, f"debugcons=unix!{base / 'kdb.sock'}") as mnt:
            mp.undo()  # only the view's daemon runs without the bus
            wait_until(lambda: os.path.exists(sockpath(str(mnt))), "the view's trace socket")
            yield mnt


def test_trace_cat_prints_every_layer_and_draws_it(view: pathlib.Path,
                                                   tmp_path: pathlib.Path) -> None:  # fmt: skip
    assert run(["sh", "-c", f"echo hello > {view}/tmp/x"]).returncode == 0
    svg = tmp_path / "cat.svg"
    r = run([str(LP49), "trace", "--svg", str(svg), "--", "cat", f"{view}/tmp/x"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"  # the command's own output is untouched
    titles = [x for x in r.stderr.splitlines() if x.startswith("trace: FUSE ")]
    ops = [x.split()[2].split("(")[0] for x in titles]
    assert "open" in ops and "read" in ops, ops
    pids = {x.rsplit("from pid ", 1)[1] for x in r.stderr.splitlines() if "from pid " in x}
    assert len(pids) == 1  # the cat process only
    read = r.stderr.split(titles[ops.index("read")])[1].split("\ntrace: ")[0]
    arrows = [tuple(x.split()[1:4:2]) for x in read.splitlines() if " -> " in x]
    for hop in [("Linux", "FUSE"), ("FUSE", "lib"), ("lib", "L4"), ("L4", "Mngr"),
                ("Mngr", "clerk"), ("clerk", "#M"), ("#M", "9P"), ("9P", "server"),
                ("server", "9P"), ("9P", "#M"), ("clerk", "L4"), ("lib", "FUSE"),
                ("FUSE", "Linux")]:  # fmt: skip
        assert hop in arrows, (hop, read)
    assert "Tread tag " in read and "'hello\\n'" in read and "time per layer: " in read
    root = ET.parse(svg).getroot()
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"FUSE", "lib", "L4", "Mngr", "clerk", "#M", "9P", "server"} <= texts


def arrows(block: str) -> list[tuple[str, str]]:
    """The (from, to) lanes of a trace's lines, page faults left out (how many a read takes
    depends on which of the bridge's threads serves it and what it touched before)."""
    out = []
    for m in re.finditer(r"^\s+\d+us\s+(\S+) -> (\S+)", block, re.M):
        if "HVM" not in m.groups():
            out.append((m.group(1), m.group(2)))
    return out


def first_read(text: str) -> str:
    return "trace: FUSE read(fh=" + text.split("trace: FUSE read(fh=", 1)[1].split("\ntrace: ")[0]


def test_tour_shows_the_shape_of_a_real_trace(view: pathlib.Path) -> None:
    doc = (ROOT / "docs" / "tour.md").read_text()
    shown = first_read(doc.split("```text\n", 1)[1].split("```", 1)[0])
    assert run(["sh", "-c", f"echo hello > {view}/tmp/x"]).returncode == 0
    r = run([str(LP49), "trace", "--", "cat", f"{view}/tmp/x"])
    assert r.returncode == 0, r.stderr
    real = first_read(r.stderr)
    # the whole read, down to Ramfs and back, the second pread answered by the page cache
    assert len(arrows(shown)) >= 21
    assert "off=0" in real and arrows(real) == arrows(shown), real
    for name in set(re.findall(r"(?:lp49fs|kernel|tests)/[\w/]+\.py", doc)):
        assert (ROOT / name).exists(), name  # every file the tour names is there


def test_trace_needs_a_mount_and_a_command(view: pathlib.Path, tmp_path: pathlib.Path) -> None:
    r = run([str(LP49), "trace", "-m", str(tmp_path), "--", "true"])
    assert r.returncode == 1 and "lp49 trace: " in r.stderr
    r = run([str(LP49), "trace"])
    assert r.returncode == 2 and r.stderr.startswith("usage: lp49 trace")


def test_the_views_debug_console_shows_the_bridge(view: pathlib.Path) -> None:
    kdb = view.parent / "kdb.sock"
    r = run([str(LP49), "console", "--debug", f"unix!{kdb}"], input="procs\nmounts\nclerks\n")
    assert r.returncode == 0, r.stderr
    assert " fuse " in r.stdout, r.stdout  # the bridge process, as procs lists it
    assert "/tmp" in r.stdout and "#M " in r.stdout and "Mngr " in r.stdout


def test_socket_removed_at_unmount(view: pathlib.Path) -> None:
    assert run(["fusermount3", "-u", str(view)]).returncode == 0
    wait_until(lambda: not daemons(view), "the daemon to exit at unmount")
    assert not os.path.exists(sockpath(str(view)))
    assert not (view.parent / "kdb.sock").exists()
