"""The operand loop cp, mv, rm and mkdir share (``_util.each``/``fromto``), through the programs."""

from __future__ import annotations

from lp49fs.node.boot import Node
from tests.lib_helpers import node
from tests.sh_helpers import run

__all__ = ["node"]


async def test_from_to_operands(node: Node) -> None:
    for prog in ("cp", "mv"):
        r = await run(node, prog, ["/env/x"])
        assert r.err == f"usage: {prog} from ... to\n" and r.status == "usage"
        r = await run(node, prog, ["/dev/time", "/dev/pid", "/env/notadir"])
        assert r.err == f"usage: {prog} from ... to  (to must be a directory)\n"
        assert r.status == "usage"


async def test_a_failing_operand_does_not_stop_the_rest(node: Node) -> None:
    r = await run(node, "mv", ["/env/none", "/env/other"])
    assert r.err.startswith("mv: /env/none: ") and r.status == "errors"
    r = await run(node, "rm", ["-f", "/env/none", "/dev/time"])
    assert r.err == "" and r.status == ""  # -f: neither printed nor counted
    r = await run(node, "mkdir", ["/dev/a", "/dev/b"])
    assert r.err.startswith("mkdir: /dev/a: ") and r.status == "error"
    assert "\nmkdir: /dev/b: " in r.err  # the second operand was still tried
