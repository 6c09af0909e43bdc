"""docs/servant.md's worked example, taken from the document itself, built and run.

The one ``python`` block of the document is compiled as a module; its ``Tally`` servant is
installed in a core (system calls and the shared tree suite) and in a booted node whose
shell runs the console line the document gives.  So the document cannot drift from what a
servant needs: if the defaults of ``lp49fs.core.dev.Servant`` stopped serving a dirtab,
or the example stopped working, this fails.
"""

from __future__ import annotations

import pathlib
import re
import types

import pytest
from conformance import check_tree
from servant_tree import SysTree, boot, err
from sh_helpers import sh

from lp49fs.core import sysfile
from lp49fs.core.dev import Servant
from lp49fs.errors import Ebadarg, Eperm
from lp49fs.ninep import ORDWR, OREAD, OWRITE
from lp49fs.node.boot import boot as bootnode
from lp49fs.servants import CONFIG, REGISTRY

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "servant.md"


def example() -> type[Servant]:
    """The document's servant class, compiled from its one python block."""
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), re.S | re.M)
    assert len(blocks) == 1, "docs/servant.md should hold exactly one python block"
    assert len(blocks[0].splitlines()) < 100, "the example is a servant in under 100 lines"
    mod = types.ModuleType("servant_doc_example")
    exec(compile(blocks[0], str(DOC), "exec"), mod.__dict__)
    cls: type[Servant] = mod.Tally
    return cls


def test_the_example_is_its_tree_and_its_read_write() -> None:
    own = set(vars(example())) & {"attach", "walk", "stat", "open", "close", "read", "write"}
    assert own == {"read", "write"}  # the rest are the defaults the document describes


async def test_the_example_serves_its_files_to_system_calls() -> None:
    p = await boot(example())
    fd = await sysfile.open(p, "#z/hello", OREAD)
    assert await sysfile.read(p, fd, 100) == f"hello, {p.user}\n".encode()
    assert await err(sysfile.open(p, "#z/hello", OWRITE)) == Eperm  # mode 0444
    fd = await sysfile.open(p, "#z/count", ORDWR)
    assert await sysfile.pwrite(p, fd, b"41\n", 0) == 3
    await sysfile.pwrite(p, fd, b"+1", 0)
    assert await sysfile.pread(p, fd, 100, 0) == b"         42 "
    assert await err(sysfile.pwrite(p, fd, b"forty", 0)) == Ebadarg
    await check_tree(SysTree(p, "#z"), {"": "dir", "hello": "file", "count": "file"})


async def test_the_console_line_of_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "tally", example())  # step 2 of "Putting it in a node"
    async with bootnode(config=(*CONFIG, "tally")) as node:
        r = await sh(node, "bind -a '#z' /dev; cat /dev/hello; echo 41 > /dev/count; "
                           "echo +1 > /dev/count; cat /dev/count")  # fmt: skip
    assert (r.err, r.status) == ("", "")
    assert r.out == f"hello, {node.bootproc.user}\n         42 "
