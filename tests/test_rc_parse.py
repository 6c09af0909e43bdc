"""The rc grammar of sh as tables: compound commands parse to the right trees, fmt renders
them back to text that parses to the same tree, and rc patterns match as rc(1) says."""

from __future__ import annotations

import pytest

from lp49fs.cmd._rcast import (
    Backq,
    Block,
    Fn,
    For,
    If,
    IfNot,
    Lit,
    Match,
    Pipeline,
    Simple,
    Switch,
    While,
    Word,
    fmt,
)
from lp49fs.cmd._rcglob import match
from lp49fs.cmd._rclex import Incomplete, RcSyntax
from lp49fs.cmd._rcparse import parse
from lp49fs.cmd._rcword import expand, unglob

# (source, canonical rc text of the parse)
PARSES = [
    ("if(~ $x a) echo yes", "if(~ $x a) echo yes"),
    ("if (a; b) c", "if(a; b) c"),
    ("if(a)\n\n c && d", "if(a) c && d"),
    ("if not echo no", "if not echo no"),
    ("for(i in a b) echo $i", "for(i in a b) echo $i"),
    ("for(i) echo $i", "for(i) echo $i"),
    ("for(i in ()) x", "for(i in ()) x"),
    ("while(! ~ $#x 0) x=()", "while(! ~ $#x 0) x=()"),
    ("switch($x){case a\n echo A\ncase *\n echo B}",
     "switch ($x) {case a; echo A; case *; echo B}"),
    ("fn f {echo $*}", "fn f {echo $*}"),
    ("fn f", "fn f"),
    ("{a; b} >f | c", "{a; b} >f | c"),
    ("x=`{ls /} ; echo $x", "x=`{ls /}\necho $x"),
    ("echo `{a | b}^.c", "echo `{a | b}^.c"),
    ("! a | b", "! a | b"),
    ("@ a | b", "@ a | b"),
    ("a && b &", "a && b &"),
    ("cat <>/net/tcp/clone", "cat <>/net/tcp/clone"),
    ("cat <>[3]f", "cat <>[3]f"),
    ("echo if for ~ !", "echo if for ~ !"),
    ("echo 'if' '*' *.c", "echo 'if' '*' *.c"),
    ("'if'(x)", "'if'^(x)"),
    ("echo a{b}", None),
]


@pytest.mark.parametrize(("src", "want"), PARSES)
def test_parse_table(src: str, want: str | None) -> None:
    if want is None:
        with pytest.raises(RcSyntax):
            parse(src)
        return
    tree = parse(src)
    assert fmt(tree) == want
    assert parse(fmt(tree)) == parse(want)


def test_compound_shapes() -> None:
    (a,) = parse("if(~ $x a) echo yes && echo more")
    (u,) = a.first.cmds
    assert isinstance(u, If) and len(u.cond) == 1
    assert isinstance(u.cond[0].first.cmds[0], Match)
    assert len(u.body.rest) == 1  # the body is the whole && list (rc's precedence)
    (a,) = parse("if not x")
    assert isinstance(a.first.cmds[0], IfNot)
    (a,) = parse("for(i in a b) {x; y}")
    f = a.first.cmds[0]
    assert isinstance(f, For) and f.var == "i" and f.words is not None and len(f.words) == 2
    assert isinstance(f.body.first.cmds[0], Block)
    (a,) = parse("while(x) y")
    assert isinstance(a.first.cmds[0], While)
    (a,) = parse("switch(x){case y; z}")
    s = a.first.cmds[0]
    assert isinstance(s, Switch) and len(s.body.body) == 2
    (a,) = parse("fn f g {x}")
    fn = a.first.cmds[0]
    assert isinstance(fn, Fn) and len(fn.names) == 2 and fn.body is not None
    (a,) = parse("! a | b")
    assert a.first == Pipeline(a.first.cmds, bang=True) and len(a.first.cmds) == 2
    (a,) = parse("echo `{ls}")
    c = a.first.cmds[0]
    assert isinstance(c, Simple) and isinstance(c.words[1].pieces[0], Backq)


@pytest.mark.parametrize("src", ["if(x", "for(i in a", "{echo a", "fn f {", "switch(x)",
                                 "while(x)", "if(x)\n", "echo `{ls"])
def test_incomplete(src: str) -> None:
    with pytest.raises(Incomplete):
        parse(src)


@pytest.mark.parametrize("src", ["for(a-b in a) b", "if x", "echo }", "switch(x) y"])
def test_syntax_errors(src: str) -> None:
    with pytest.raises(RcSyntax) as e:
        parse(src)
    assert not isinstance(e.value, Incomplete)


def pattern(src: str) -> str:
    (a,) = parse("echo " + src)
    c = a.first.cmds[0]
    assert isinstance(c, Simple)
    (v,) = expand(c.words[1], lambda n: ["*"] if n == "star" else [])
    return v


# (subject, pattern as typed, matches)
MATCHES = [
    ("abc", "a*", True), ("abc", "*c", True), ("abc", "*b", False), ("", "*", True),
    ("a/b", "a*", True),  # ~ is not a file name: * crosses /
    ("ab", "a?", True), ("a", "a?", False), ("x", "[a-z]", True), ("X", "[a-z]", False),
    ("x", "[~a-m]", True), ("c", "[~a-m]", False), ("b", "[abc]", True), ("[", "[", True),
    ("a*", "'a*'", True), ("ab", "'a*'", False), ("a.c", "*.c", True), ("ac", "a.c", False),
    ("*", "$star", True), ("x", "$star", False),  # a variable's value is not a pattern
    ("a+b", "a+b", True), ("a(b", "'a(b'", True),
]


@pytest.mark.parametrize(("subject", "src", "want"), MATCHES)
def test_match(subject: str, src: str, want: bool) -> None:
    assert match(subject, pattern(src)) is want


def test_marks_only_unquoted_pattern_characters() -> None:
    p = pattern("'*'^*")
    assert unglob(p) == "**" and p.count("\x01") == 1
    assert parse("echo *")[0].first.cmds[0] == Simple((), (Word((Lit("echo"),)),
                                                           Word((Lit("*"),))), ())
