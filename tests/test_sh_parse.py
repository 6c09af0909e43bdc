"""sh's lexer, parser and word values as tables (no node needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lp49fs.cmd._rcast import AndOr, Lit, Redir, Simple, Var, Word, fmt, rcquote
from lp49fs.cmd._rclex import Incomplete, RcSyntax, lex
from lp49fs.cmd._rcparse import parse
from lp49fs.cmd._rcword import RcError, concat, envdecode, envencode, expand

# (source, canonical rc text of the parse)
PARSES = [
    ("echo hello", "echo hello"),
    ("  echo   hello  ", "echo hello"),
    ("echo 'a b'", "echo 'a b'"),
    ("echo 'it''s'", "echo 'it''s'"),
    ("echo it''s", "echo it^''^s"),
    ("echo a#comment", "echo a"),
    ("# only a comment", ""),
    ("echo '#x' # trailing", "echo '#x'"),
    ("bind -a '#c' /dev; ls /srv", "bind -a '#c' /dev\nls /srv"),
    ("a\nb\n\n;c", "a\nb\nc"),
    ("echo $x", "echo $x"),
    ("echo $home/bin", "echo $home^/bin"),
    ("echo $#x $\"x $x(2)", "echo $#x $\"x $x(2)"),
    ("echo x$y^z", "echo x^$y^z"),
    ("echo a ^ b", "echo a^b"),
    ("echo (a b)c", "echo (a b)^c"),
    ("x=val", "x=val"),
    ("x = val", "x=val"),
    ("x=(a b c)", "x=(a b c)"),
    ("x=() y=1 env", "x=() y=1 env"),
    ("echo a=b", "echo a^'='^b"),
    ("'x'=1", "x^'='^1"),
    ("echo hi > f", "echo hi >f"),
    ("echo hi >>f <g", "echo hi >>f <g"),
    ("cat >[2]err", "cat >[2]err"),
    ("cat >[2=1]", "cat >[2=1]"),
    ("cat >[2=]", "cat >[2=]"),
    ("<in cat", "cat <in"),
    ("ls | wc", "ls | wc"),
    ("ls |\n wc |\n cat", "ls | wc | cat"),
    ("sleep 1 &", "sleep 1 &"),
    ("sleep 1& echo x", "sleep 1 &\necho x"),
    ("a && b || c", "a && b || c"),
    ("a &&\nb", "a && b"),
    ("echo a\\\nb", "echo a b"),
    ("x=(a\n b)", "x=(a b)"),
]


@pytest.mark.parametrize(("src", "want"), PARSES)
def test_parse_table(src: str, want: str) -> None:
    assert fmt(parse(src)) == want


def test_parse_tree_shape() -> None:
    (item,) = parse("x=1 cat <in >[2=1] f")
    assert item == AndOr(
        first=item.first,
        rest=(),
        bg=False,
    )
    (cmd,) = item.first.cmds
    assert cmd == Simple(
        assigns=(("x", Word((Lit("1"),))),),
        words=(Word((Lit("cat"),)), Word((Lit("f"),))),
        redirs=(Redir("<", 0, Word((Lit("in"),))), Redir("dup", 2, fd2=1)),
    )


def test_lex_records_space_and_quotes() -> None:
    toks = lex("a'b' $c")
    assert [(t.kind, t.value, t.quoted, t.space) for t in toks] == [
        ("word", "a", False, True),
        ("word", "b", True, False),
        ("var", "c", False, True),
        ("eof", "", False, True),
    ]


INCOMPLETE = ["echo 'abc", "ls |", "a &&", "x=(a b", "echo >", "echo a^", "x="]


@pytest.mark.parametrize("src", INCOMPLETE)
def test_incomplete(src: str) -> None:
    with pytest.raises(Incomplete):
        parse(src)


@pytest.mark.parametrize("src", ["ls | | wc", "echo )", "echo $", "cat >[x]f",
                                 "; &", "echo >[2"])
def test_syntax_errors(src: str) -> None:
    with pytest.raises(RcSyntax) as e:
        parse(src)
    assert not isinstance(e.value, Incomplete)


ENV = {"x": ["a", "b", "c"], "one": ["1"], "empty": [], "home": ["/usr/glenda"]}


def lookup(name: str) -> list[str]:
    return list(ENV.get(name, []))


# (source word, its list)
EXPANSIONS = [
    ("plain", ["plain"]),
    ("'two words'", ["two words"]),
    ("$x", ["a", "b", "c"]),
    ("$unset", []),
    ("$empty", []),
    ("$#x", ["3"]),
    ("$#unset", ["0"]),
    ('$"x', ["a b c"]),
    ("$x(2)", ["b"]),
    ("$x(3 1 9)", ["c", "a"]),
    ("$x.o", ["a.o", "b.o", "c.o"]),
    ("pre-$x", ["pre-a", "pre-b", "pre-c"]),
    ("$x^$x", ["aa", "bb", "cc"]),
    ("$home/lib", ["/usr/glenda/lib"]),
    ("(a $one ())", ["a", "1"]),
    ("(a b)^(1 2)", ["a1", "b2"]),
]


@pytest.mark.parametrize(("src", "want"), EXPANSIONS)
def test_expand_table(src: str, want: list[str]) -> None:
    (item,) = parse("echo " + src)
    words = item.first.cmds[0].words[1:]
    got: list[str] = []
    for w in words:
        got += expand(w, lookup)
    assert got == want


@pytest.mark.parametrize("src", ["a^$unset", "(a b)^(1 2 3)", "$x(z)"])
def test_expand_errors(src: str) -> None:
    (item,) = parse("echo " + src)
    with pytest.raises(RcError):
        expand(item.first.cmds[0].words[1], lookup)


def test_concat_rules() -> None:
    assert concat(["a"], ["1", "2"]) == ["a1", "a2"]
    assert concat(["a", "b"], ["1"]) == ["a1", "b1"]


ENVBYTES = [
    ([], b""),
    (["v"], b"v\0"),
    (["a", "b", "c"], b"a\0b\0c\0"),
    (["", "x"], b"\0x\0"),
]


@pytest.mark.parametrize(("value", "data"), ENVBYTES)
def test_env_encoding(value: list[str], data: bytes) -> None:
    assert envencode(value) == data
    assert envdecode(data) == value


def test_env_without_nul_is_one_element() -> None:
    assert envdecode(b"hello") == ["hello"]


def test_var_piece() -> None:
    (item,) = parse("echo $#x")
    assert item.first.cmds[0].words[1] == Word((Var("x", "#"),))


@settings(max_examples=60)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
                min_size=1, max_size=5))
def test_quoting_round_trips(args: list[str]) -> None:
    """Any strings, quoted with rcquote, parse back to themselves as one-piece words."""
    src = "echo " + " ".join(rcquote(a) for a in args)
    (item,) = parse(src)
    words = item.first.cmds[0].words[1:]
    assert [expand(w, lookup) for w in words] == [[a] for a in args]
