"""A node's ``[users]`` table (docs/security.md): which certificates its export listener
serves, and as whom, checked on the TOML and on a real node over mutual TLS on real TCP."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest
from test_auth_node import p9
from test_import import accepting, free_port, start

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.node.config import ConfigError, parse
from lp49fs.node.security import export_argv
from tests.waiting import wait_until

USERS_TOML = """
[users]
alice = "alice"
ops = "glenda"
"""


def test_users_table_parses_and_reaches_exportfs() -> None:
    cfg = parse(USERS_TOML + '[auth]\ndir = "/a"\n[node]\nlisten = "tcp!*!17007"\n')
    assert cfg.users == (("alice", "alice"), ("ops", "glenda"))
    argv = export_argv(cfg)
    assert argv[argv.index("-U") + 1] == "alice=alice,ops=glenda"
    assert parse("").users is None  # no table: every certificate, as its own name
    assert "-U" not in export_argv(parse('[auth]\ndir = "/a"\n[node]\nlisten = "tcp!*!1"\n'))


@pytest.mark.parametrize(("text", "message"), [
    ("[users]\nalice = 3\n", "users.alice: 3 is not a user name"),
    ('[users]\nalice = "none"\n', "users.alice: 'none' is not a user name"),
    ('[users]\n"a,b" = "alice"\n', "users: 'a,b' is not a certificate name"),
    ('[users]\n"x=y" = "alice"\n', "users: 'x=y' is not a certificate name"),
    ('users = 1\n', "[users] must be a table"),
])  # fmt: skip
def test_bad_users_table_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse(text)


def test_users_table_needs_an_authority() -> None:
    cfg = parse(USERS_TOML + '[node]\nlisten = "tcp!127.0.0.1!1"\n')
    with pytest.raises(ConfigError, match=r"\[users\] names certificates: it needs an auth"):
        export_argv(cfg)


@pytest.fixture(scope="module")
def delta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(address, authority dir) of node delta: TLS listener with the [users] table."""
    workdir = str(tmp_path_factory.mktemp("usersnode"))
    a = Authority(os.path.join(workdir, "auth"))
    a.init()
    for user in ("alice", "bob", "ops", "glenda"):
        a.issue(USERS, user)
    a.issue(NODES, "delta", ("127.0.0.1",))
    config = pathlib.Path(workdir, "delta.toml")
    config.write_text(USERS_TOML)
    port = free_port()
    node = start("delta", workdir, f"tcp!127.0.0.1!{port}", config=str(config))
    try:
        wait_until(lambda: accepting(port), "delta's exportfs")
        yield f"tcp!127.0.0.1!{port}", str(a.root)
    finally:
        node.stop()


def test_only_the_certificates_named_are_served(delta: tuple[str, str]) -> None:
    addr, auth = delta
    done = p9(addr, "--auth", auth, "-u", "alice", "read", "/dev/user")
    assert (done.stdout, done.returncode) == ("alice", 0), done.stderr
    for name in ("bob", "glenda"):  # valid certificates, the host owner's name included
        done = p9(addr, "--auth", auth, "-u", name, "read", "/dev/user")
        assert (done.returncode, done.stderr) == (
            1, f"9p: read /dev/user: permission denied: certificate {name} is not a user"
            " of this node\n")  # fmt: skip


def test_a_certificate_acts_as_the_user_it_maps_to(delta: tuple[str, str]) -> None:
    addr, auth = delta
    me = ["--auth", auth, "-u", "ops"]
    done = p9(addr, *me, "read", "/dev/user")
    assert (done.stdout, done.returncode) == ("glenda", 0), done.stderr  # the host owner
    done = p9(addr, "--auth", auth, "-u", "alice", "write", "/dev/sysname", stdin="x")
    assert done.returncode == 1 and "permission denied" in done.stderr
    assert p9(addr, *me, "read", "/dev/sysname").stdout == "delta"
