"""Node TOML configuration (lp49fs.node.config): defaults, every key, one-line errors, the
example file, and ``lp49 node`` refusing a bad file before it boots anything."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from lp49fs.cmd.newns import DEFAULT_NAMESPACE
from lp49fs.node.config import (
    DEFAULT_SERVERS,
    ConfigError,
    NodeConfig,
    ServerConf,
    check_console,
    load,
    parse,
    parse_size,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_default_node_needs_no_file() -> None:
    cfg = load(None)
    assert cfg == NodeConfig() == load("default")
    assert (cfg.name, cfg.ram, cfg.console) == ("lp49", 64 << 20, "stdio")
    assert cfg.namespace == DEFAULT_NAMESPACE
    ramfs = ServerConf("ramfs", "ramfs", ("-S", "ramfs", "-r", "50%"), "/tmp")
    assert cfg.servers == DEFAULT_SERVERS == (ramfs,)
    assert parse("") == NodeConfig(source="<string>")


def test_every_key(tmp_path: pathlib.Path) -> None:
    (tmp_path / "my.ns").write_text("bind #c /dev\n")
    text = """
[node]
name = "helix"
namespace = "my.ns"
listen = "tcp!*!17007"
[hardware]
ram = "8M"
[console]
attach = "unix!/run/lp49/helix.cons"
[[servers]]
prog = "ramfs"
args = ["-S", "scratch"]
srvname = "scratch"
[[servers]]
prog = "other"
mount = "/n/other"
"""
    f = tmp_path / "helix.toml"
    f.write_text(text)
    cfg = load(str(f))
    assert cfg.name == "helix"
    assert cfg.namespace == "bind #c /dev\n"  # read relative to the config file
    assert cfg.listen == "tcp!*!17007"
    assert cfg.ram == 8 << 20
    assert cfg.console == "unix!/run/lp49/helix.cons"
    assert cfg.servers == (
        ServerConf("scratch", "ramfs", ("-S", "scratch")),
        ServerConf("other", "other", (), "/n/other"),  # srvname defaults to prog
    )
    assert cfg.source == str(f)


def test_inline_namespace_and_no_servers() -> None:
    cfg = parse('servers = []\n[node]\nnamespace = """\nbind #c /dev\ncd /\n"""\n')
    assert cfg.namespace == "bind #c /dev\ncd /\n"
    assert cfg.servers == ()


SIZES = [(4096, 4096), ("16M", 16 << 20), ("512k", 512 << 10), ("1G", 1 << 30),
         ("2MiB", 2 << 20), ("100", 100)]  # fmt: skip


@pytest.mark.parametrize(("value", "want"), SIZES)
def test_sizes(value: object, want: int) -> None:
    assert parse_size(value, "ram") == want


ERRORS = [
    ("[node\nname = 1", "x.toml: invalid TOML: "),
    ("[nodes]\nname = 'a'", "x.toml: unknown table or key 'nodes'"),
    ("[node]\nnmae = 'a'", "x.toml: [node] unknown key 'nmae'"),
    ("[node]\nname = 3", "x.toml: node.name: want a string, got int"),
    ("[node]\nname = 'a/b'", "x.toml: node.name: 'a/b' is not a usable sysname"),
    ("[hardware]\nram = 'lots'", "x.toml: hardware.ram: want a positive size like 16M, got 'lots'"),
    ("[hardware]\nram = 0", "x.toml: hardware.ram: want a positive size like 16M, got 0"),
    ("[hardware]\nram = true", "x.toml: hardware.ram: want a positive size like 16M, got True"),
    ("[console]\nattach = 'tty'", "x.toml: console.attach: 'tty' is not stdio, none or unix!PATH"),
    ("node = 1", "x.toml: [node] must be a table"),
    ("servers = 1", "x.toml: servers must be an array of tables [[servers]]"),
    ("[[servers]]\nargs = []", "x.toml: servers[0]: prog is required"),
    ("[[servers]]\nprog = 'a'\nargv = []", "x.toml: servers[0]: unknown key 'argv'"),
    ("[[servers]]\nprog = 'a'\nargs = 'x'", "x.toml: servers[0].args: want a list of strings"),
    ("[node]\nnamespace = 'gone.ns'", "x.toml: node.namespace: /nonexistent/gone.ns: No such"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, "x.toml", "/nonexistent")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_missing_file_and_console_strings() -> None:
    with pytest.raises(ConfigError, match=r"^/nonexistent/n.toml: No such file or directory$"):
        load("/nonexistent/n.toml")
    assert check_console("unix!/tmp/c") == "unix!/tmp/c"
    for bad in ("unix!", "tcp!h!1", ""):
        with pytest.raises(ConfigError):
            check_console(bad)


def test_example_file_loads() -> None:
    cfg = load(str(ROOT / "docs" / "node.example.toml"))
    assert cfg.name == "example"
    assert "mount -c /srv/ramfs /tmp" in cfg.namespace
    assert [s.prog for s in cfg.servers] == ["ramfs"]


def test_lp49_node_refuses_a_bad_file_with_one_line(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[hardware]\nram = 'lots'\n")
    r = subprocess.run([sys.executable, "-m", "lp49fs.host.cli", "node", str(f)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr == f"lp49 node: {f}: hardware.ram: want a positive size like 16M, got 'lots'\n"
    r = subprocess.run([sys.executable, "-m", "lp49fs.host.cli", "node", "--console", "tty"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr == "lp49 node: --console: 'tty' is not stdio, none or unix!PATH\n"


def test_disks(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "n.toml"
    f.write_text('[[disks]]\nimage = "a.img"\n[[disks]]\nimage = "/abs/b.img"\nreadonly = true\n')
    assert load(str(f)).disks == (str(tmp_path / "a.img"), "/abs/b.img:ro")
    assert load(None).disks == ()
    for text, message in (("disks = 1", "disks must be an array of tables"),
                          ("[[disks]]\nreadonly = true", "disks[0]: image is required"),
                          ("[[disks]]\nimage = 'a'\nro = 1", "disks[0]: unknown key 'ro'"),
                          ("[[disks]]\nimage = 'a'\nreadonly = 1",
                           "disks[0].readonly: want true or false")):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            parse(text, "x.toml")
        assert message in str(info.value)


def test_floppy(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "n.toml"
    f.write_text('[hardware]\nfloppy = "fd.img:ro"\n')
    assert load(str(f)).floppy == str(tmp_path / "fd.img:ro")
    assert load(None).floppy == ""
