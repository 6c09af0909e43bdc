"""The rc shell's control flow, functions, substitution and patterns, run by a real sh
process on a booted node (output read from pipes)."""

from __future__ import annotations

import pytest

from lp49fs.node.boot import Node
from tests.lib_helpers import node
from tests.sh_helpers import run, sh

__all__ = ["node"]

# (script, expected stdout)
SCRIPTS = [
    # if / if not
    ("if(~ a a) echo yes", "yes\n"),
    ("if(~ a b) echo yes\nif not echo no", "no\n"),
    ("if(~ a b) echo yes; if not echo no", "no\n"),
    ("x=b; if(~ $x a b c) echo in; if not echo out", "in\n"),
    ("if(cat /nonexistent >[2=]) echo yes; if not echo failed", "failed\n"),
    ("if(~ a a)\n\techo next line", "next line\n"),
    ("if(~ a a) echo one && echo two", "one\ntwo\n"),
    # for
    ("for(i in a b c) echo $i", "a\nb\nc\n"),
    ("for(i in a b c) { echo -n $i; echo -n . }; echo", "a.b.c.\n"),
    ("for(i in ()) echo never; echo done", "done\n"),
    ("x=(1 2); for(i in $x) for(j in a b) echo $i$j", "1a\n1b\n2a\n2b\n"),
    # while
    ("x=(a b c); while(! ~ $#x 0) { echo $#x; x=() }", "3\n"),
    ("n=(); while(! ~ $#n 3) { n=($n x); echo $#n }", "1\n2\n3\n"),
    # switch
    ("switch(b){case a; echo A\ncase b; echo B\ncase *; echo other}", "B\n"),
    ("switch(zz){case a; echo A\ncase *; echo other}", "other\n"),
    ("x=foo.c; switch($x){\ncase *.h\n\techo header\ncase *.c\n\techo source\n}", "source\n"),
    ("switch(q){case a b; echo ab}; echo $status", "no match\n"),
    # ~ and !
    ("~ abc a*; echo $status", "\n"),
    ("~ abc b*; echo $status", "no match\n"),
    ("~ abc '*'; echo $status", "no match\n"),
    ("~ '*' '*'; echo $status", "\n"),
    ("~ x [a-z]; echo $status; ~ X [a-z]; echo $status", "\nno match\n"),
    ("~ x [~a-m]; echo $status", "\n"),
    ("~ a.b ?.?; echo $status", "\n"),
    ("! ~ a b && echo inverted", "inverted\n"),
    ("! echo x; echo $status", "x\nfalse\n"),
    # blocks
    ("{echo a; echo b} | wc -l", "      2\n"),
    ("{echo a; echo b} > /env/blk; cat /env/blk", "a\nb\n"),
    ("{echo x >[1=2]} >[2=1] | cat", "x\n"),
    # fn
    ("fn greet {echo hello $1}; greet world", "hello world\n"),
    ("fn count {echo $#*}; count a b c; count", "3\n0\n"),
    ("fn f {echo in f}; fn f; f >[2=]; echo $status", "f: file does not exist\n"),
    ("fn lines {for(i) echo $i}; lines p q | wc -l", "      2\n"),
    ("fn ex {echo $*}; x=`{ex a b}; echo $#x", "2\n"),
    # `{} substitution
    ("x=`{echo a b c}; echo $#x $x(2)", "3 b\n"),
    ("echo `{echo one; echo two}", "one two\n"),
    ("for(w in `{echo p q}) echo [$w]", "[p]\n[q]\n"),
    ("ifs=:; x=`{echo -n a:b:c}; echo $#x", "3\n"),
    ("echo `{echo a}^.c", "a.c\n"),
    # $#x, $x(n), $"x
    ("x=(a b c); echo $#x $x(2) $x(3 1); echo $\"x", "3 b c a\na b c\n"),
    # ranges
    ("x=(a b c d e); echo $x(2-4); echo $x(4-); echo $x(1 5-)", "b c d\nd e\na e\n"),
    # here documents
    ("cat <<EOF\nhello\n  world\nEOF\necho after", "hello\n  world\nafter\n"),
    ("x=(th ere); cat <<EOF\nhi $x.\nEOF", "hi th ere.\n"),
    ("x=there; cat <<'EOF'\nhi $x\nEOF", "hi $x\n"),
    ("cat <<A; cat <<B\na\nA\nb\nB", "a\nb\n"),
    ("wc -l <<EOF | cat\n1\n2\nEOF", "      2\n"),
    # |[n]: another fd into the pipe
    ("cat /nonexistent |[2] wc -l", "      1\n"),
    ("{echo err >[1=2]} |[2] cat", "err\n"),
    ("{echo x; echo err >[1=2]} |[2] wc -l; echo $status", "x\n      1\n\n"),
    # eval, shift
    ("eval echo '$x' x=1; x=2; eval 'echo $x'", "x=1\n2\n"),
    ("fn s {shift; echo $*}; s a b c", "b c\n"),
    # background compound
    ("{echo bg} & wait; echo after", "bg\nafter\n"),
    # @ subshell
    ("@ echo sub", "sub\n"),
]


@pytest.mark.parametrize(("script", "want"), SCRIPTS)
async def test_script(node: Node, script: str, want: str) -> None:
    r = await sh(node, script)
    assert r.out == want, r.err


async def test_glob_reads_the_name_space(node: Node) -> None:
    """* ? [...] match names read from the directory through lib; sorted; quoted = literal."""
    r = await sh(node, "gb=1; ga=2; gc=3; hx=4\n"
                       "echo /env/g*\n"
                       "echo /env/g[ab]\n"
                       "echo /env/?x\n"
                       "echo '/env/g*'\n"
                       "p='/env/g*'; echo $p\n"
                       "echo /env/nomatch*\n"
                       "for(f in /env/g*) echo -n $f\n"
                       "echo\n"
                       "cd /env; echo g?\n"
                       "echo /e*/hx /env/*/x\n")
    assert r.out.splitlines() == [
        "/env/ga /env/gb /env/gc",
        "/env/ga /env/gb",
        "/env/hx",
        "/env/g*",
        "/env/g*",
        "/env/nomatch*",
        "/env/ga/env/gb/env/gc",
        "ga gb gc",
        "/env/hx /env/*/x",
    ], r.err


async def test_glob_sees_a_union(node: Node) -> None:
    """A pattern on a union directory lists every member: bind -a '#c' onto /env."""
    r = await sh(node, "bind -a '#c' /env; echo /env/sysn*")
    assert r.out == "/env/sysname\n", r.err


async def test_rdwr_redirection(node: Node) -> None:
    """<> opens for reading and writing on fd 0 without truncating."""
    r = await sh(node, "echo -n abc > /env/rw; cat <>/env/rw; echo\n"
                       "{echo -n XY >[1=0]} <>/env/rw; cat /env/rw; echo\n"
                       "cat <>/env/none; echo $status")
    lines = r.out.splitlines()
    assert lines[:2] == ["abc", "XYc"], r.err
    assert "does not exist" in lines[2]


async def test_redirect_fd2(node: Node) -> None:
    r = await sh(node, "cat /nonexistent >[2]/env/err; echo -n; cat /env/err")
    assert "/nonexistent" in r.out and r.err == ""


async def test_rc_c_and_args(node: Node) -> None:
    r = await run(node, "rc", ["-c", "echo $#* $2", "a", "b"])
    assert r.out == "2 b\n", r.err


async def test_hash_bang_script(node: Node) -> None:
    """A file whose first line is #!/bin/rc runs under rc with the file and args after."""
    script = "#!/bin/rc\necho script $0 args $*\nfor(i) echo arg $i\n"
    r = await sh(node, f"echo -n {quote(script)} > /env/s1; /env/s1 x y; echo $status\n"
                       "echo -n plain > /env/s2; /env/s2; echo $status")
    lines = r.out.splitlines()
    assert lines == ["script /env/s1 args x y", "arg x", "arg y", "",
                     "/env/s2: exec header invalid"]
    assert r.err == "sh: /env/s2: exec header invalid\n"


def quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


async def test_functions_reach_child_shells(node: Node) -> None:
    """fn is kept in /env as fn#name (rc text), so a pipeline's child shell can call it."""
    r = await sh(node, "fn up {echo UP $*}; cat /env/'fn#up'; up a | cat; {up b} | cat\n"
                       "fn up; echo /env/fn*")
    assert r.out.splitlines() == ["fn up {echo UP $*}", "UP a", "UP b", "/env/fn*"], r.err


async def test_interactive_blocks_continue(node: Node) -> None:
    """An open brace or an if(...) at the end of a line asks for more (a tab prompt)."""
    text = b"for(i in 1 2) {\n echo $i\n}\nif(~ a a)\necho yes\nfn f {\necho f\n}\nf\n"
    r = await run(node, "sh", ["-i"], stdin=text)
    assert r.out.replace("% ", "").replace("\t", "") == "1\n2\nyes\nf\n"
    assert r.out.count("\t") == 5


async def test_errors_in_loops_do_not_end_the_shell(node: Node) -> None:
    r = await sh(node, "for(i in a b) { nosuch; echo $i }; x=(); echo a^$x; echo end")
    assert r.out == "a\nb\nend\n"
    assert r.err.count("nosuch: file does not exist") == 2
    assert "null list in concatenation" in r.err


async def test_a_here_document_cannot_go_to_a_child_shell(node: Node) -> None:
    r = await sh(node, "{cat <<EOF} | cat\nin a block\nEOF\necho next")
    assert r.err == "sh: here document in a command run as its own shell\n" and r.out == "next\n"
