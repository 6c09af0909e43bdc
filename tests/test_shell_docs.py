"""docs/shell.md's sessions run as written: each ```rc block in a fresh shell on a fresh node."""

from __future__ import annotations

import pathlib
import re

import pytest

from lp49fs.node.boot import Node
from tests.lib_helpers import node
from tests.sh_helpers import run

__all__ = ["node"]

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "shell.md"


def sessions() -> list[tuple[str, str]]:
    """(typed text, expected output) of every ```rc block."""
    out = []
    for block in re.findall(r"```rc\n(.*?)```", DOC.read_text(), re.S):
        typed, want = [], []
        for line in block.splitlines(keepends=True):
            if line.startswith("% "):
                typed.append(line[2:])
            else:
                want.append(line)
        out.append(("".join(typed), "".join(want)))
    return out


def test_the_doc_has_sessions_for_each_feature() -> None:
    text = "".join(t for t, _ in sessions())
    for feature in ("if(", "if not", "for(", "while(", "switch(", "fn ", "`{", "~ ", "! ",
                    "/env/g*", "<>", ">[2=1]", "#!/bin/rc", "rc -c", "$#", "$x("):
        assert feature in text, feature


@pytest.mark.parametrize(("typed", "want"), sessions(), ids=lambda s: s.split("\n")[0][:30])
async def test_session(node: Node, typed: str, want: str) -> None:
    r = await run(node, "sh", [], stdin=typed.encode())
    assert r.out == want, r.err
