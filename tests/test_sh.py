"""sh end to end: scripts run by a real sh process on a booted node, output read from pipes."""

from __future__ import annotations

import pytest

from lp49fs.node.boot import Node
from tests.lib_helpers import node
from tests.sh_helpers import run, sh

__all__ = ["node"]

# (script, expected stdout)
SCRIPTS = [
    ("echo hello", "hello\n"),
    ("echo -n a; echo b", "ab\n"),
    ("echo 'a  b' c", "a  b c\n"),
    ("echo it''s 'it''s'", "its it's\n"),
    ("echo a # comment", "a\n"),
    ("x=(a b c); echo $x $#x; echo $x(2)", "a b c 3\nb\n"),
    ("x=1; echo $x; x=(); echo $#x", "1\n0\n"),
    ("f=(x y); echo $f.c", "x.c y.c\n"),
    ("echo hi > /env/v; cat /env/v", "hi\n"),
    ("echo a > /env/v; echo b >> /env/v; cat < /env/v", "a\nb\n"),
    ("echo one two three | wc -w", "      3\n"),
    ("echo x | cat | cat | cat", "x\n"),
    ("echo a; echo b | cat; echo c", "a\nb\nc\n"),
    ("x=(p q); echo $x > /env/w; cat /env/w", "p q\n"),
    ("bind -a '#c' /env; ls /env/sysname /env/time", "/env/sysname\n/env/time\n"),
    ("cd /dev; pwd; cd; pwd", "/dev\n/\n"),
    ("nosuch && echo yes || echo no", "no\n"),
    ("echo ok && echo yes || echo no", "ok\nyes\n"),
    ("echo a >[2=1]", "a\n"),
    ("echo $status; nosuch; echo $#status", "\n1\n"),
    ("ls /srv /nonexistent; echo $status", "errors\n"),
    ("x=outer; x=inner echo $x; echo $x", "outer\nouter\n"),
    ("sleep 5 & x=$apid; kill $x; wait; echo done", "done\n"),
    ("exit; echo not reached", ""),
]


@pytest.mark.parametrize(("script", "want"), SCRIPTS)
async def test_script(node: Node, script: str, want: str) -> None:
    r = await sh(node, script)
    assert r.out == want, r.err


async def test_variables_live_in_env_nul_separated(node: Node) -> None:
    """x=(a b c) is the file /env/x holding a\\0b\\0c\\0, and /env files are variables."""
    r = await sh(node, "x=(a b c); cat /env/x; echo -n plain > /env/y; echo $y $#y")
    assert r.out == "a\0b\0c\0plain 1\n"


async def test_unknown_command_reports_and_goes_on(node: Node) -> None:
    r = await sh(node, "nosuch arg; echo after")
    assert r.err == "sh: nosuch: file does not exist\n"
    assert r.out == "after\n"
    assert r.status == ""


async def test_errors_do_not_end_the_shell(node: Node) -> None:
    r = await sh(node, "cat /nonexistent\necho $status\nls | | x\necho still\n"
                       "echo > /nonexistent/dir/f\necho end")
    assert r.out.splitlines()[1:] == ["still", "end"]
    assert "can't open /nonexistent" in r.out.splitlines()[0]
    assert "syntax error" in r.err


async def test_exit_status(node: Node) -> None:
    assert (await sh(node, "exit 'bad thing'")).status == "bad thing"
    assert (await sh(node, "cat /nonexistent")).status.startswith("can't open")
    assert (await sh(node, "cat /nonexistent; echo ok")).status == ""


async def test_reads_commands_from_stdin(node: Node) -> None:
    """Lines arrive in pieces; a quote and a pipe left open continue on the next line."""
    text = b"echo one\necho 'two\nlines'\necho three |\ncat\nx=(a\nb)\necho $x\n"
    r = await run(node, "sh", [], stdin=text)
    assert r.out == "one\ntwo\nlines\nthree\na b\n"


async def test_interactive_prompts(node: Node) -> None:
    r = await run(node, "sh", ["-i"], stdin=b"echo hi\necho 'a\nb'\n")
    assert r.out == "% hi\n% \ta\nb\n% "


async def test_script_file_and_args(node: Node) -> None:
    setup = "echo 'echo $#* $1 $2' > /env/script; echo 'x=dot' > /env/dotted"
    assert (await sh(node, setup)).status == ""
    r = await run(node, "sh", ["/env/script", "p", "q"])
    assert r.out == "2 p q\n"
    r = await sh(node, ". /env/dotted; echo $x")
    assert r.out == "dot\n"


async def test_pipeline_status_joins_failures(node: Node) -> None:
    r = await sh(node, "cat /nonexistent | wc -l; echo $status")
    lines = r.out.splitlines()
    assert lines[0] == "      0"
    assert lines[1].startswith("can't open /nonexistent") and lines[1].endswith("|")


async def test_background_and_apid(node: Node) -> None:
    r = await sh(node, "echo bg > /env/bgout & echo $apid; wait; cat /env/bgout")
    pid, out = r.out.splitlines()
    assert pid.isdigit() and out == "bg"


async def test_namespace_changes_are_shared_with_children(node: Node) -> None:
    """bind in one program, seen by the next: sh and its children share the name space."""
    r = await sh(node, "bind '#c' /srv; ls /srv/sysname; ns | cat")
    first, *ns = r.out.splitlines()
    assert first == "/srv/sysname"
    assert "bind  '#c' /srv" in ns
    assert ns[-1] == "cd /"


async def test_rfork_n_keeps_binds_private(node: Node) -> None:
    r = await sh(node, "rfork n; bind '#c' /srv; ls /srv/time")
    assert r.out == "/srv/time\n"
    r = await sh(node, "ls /srv/time")
    assert "does not exist" in r.err
