"""A bounded, seeded 9P fuzz (bench/fuzz9p.py): 50,000 random and malformed frames, 35,000
against a host ``lp49 ramfs`` and 15,000 against a node's loopback export listener, each
beside an honest client.  Both servers live through it, the honest client's every answer is
right, malformed frames are refused by closing their connection with a logged reason, and
nothing logs a traceback.  ``python bench/fuzz9p.py`` runs a million."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_import import accepting, free_port, start

from bench.fuzz9p import fuzz
from tests.waiting import wait_until

SEED = 49


@pytest.fixture
def ramfs(tmp_path: pathlib.Path) -> Iterator[tuple[int, subprocess.Popen[bytes], pathlib.Path]]:
    """A host ramfs on a loopback port, its stderr (every warning) in a file."""
    port, log = free_port(), tmp_path / "ramfs.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen",
                                 f"tcp!127.0.0.1!{port}", "--maxsize", str(64 << 20)],
                                stdin=subprocess.DEVNULL, stderr=f)  # fmt: skip
    try:
        wait_until(lambda: accepting(port), "ramfs")
        yield port, proc, log
    finally:
        proc.kill()
        proc.wait()


def check(text: str, tally_malformed: int) -> None:
    closes = text.count("closing connection:")
    # every malformed frame but a corrupted byte that stayed valid is certain to be refused
    assert closes >= tally_malformed // 2, (closes, tally_malformed)
    for bad in ("Traceback", "backend failed", "died"):
        assert bad not in text, text[text.find(bad) - 500 : text.find(bad) + 2000]


def test_fuzz_ramfs(ramfs: tuple[int, subprocess.Popen[bytes], pathlib.Path]) -> None:
    port, proc, log = ramfs
    t, honest = fuzz(port, 35_000, SEED, ramfs=True)
    assert honest.error is None and honest.ops > 0
    assert t.frames >= 35_000 and proc.poll() is None
    check(log.read_text(errors="replace"), t.malformed)


def test_fuzz_node_listener(tmp_path: pathlib.Path) -> None:
    port = free_port()
    node = start("fuzz", str(tmp_path), f"tcp!127.0.0.1!{port}", auth=False)
    try:
        wait_until(lambda: accepting(port), "the node's exportfs")
        t, honest = fuzz(port, 15_000, SEED, ramfs=False)
        assert honest.error is None and honest.ops > 0
        assert t.frames >= 15_000 and node.proc.poll() is None
        assert node.console is not None and node.console.run("echo alive") == ("alive\n", "")
        with open(node.log, errors="replace") as f:
            check(f.read(), t.malformed)
    finally:
        node.stop()
