"""The mount helper's command line and option filter (lp49fs.fuse.options), as tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lp49fs.fuse.options import (
    DROP,
    LIBFUSE_FLAGS,
    MountArgs,
    MountError,
    Source,
    SourceKind,
    classify_source,
    filter_options,
    parse_argv,
)

D, C, N = SourceKind.DEFAULT, SourceKind.CONFIG, SourceKind.DIAL


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("default", D),
        ("node.toml", C),
        ("/etc/lp49/home.toml", C),
        ("../a b/x.toml", C),
        ("tcp!localhost!17007", N),
        ("tcp!10.0.0.1", N),
        ("net!host!9fs", N),
        ("unix!/run/lp49/node.9p", N),
    ],
)
def test_classify_source(text: str, kind: SourceKind) -> None:
    assert classify_source(text) == Source(kind, text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "want 'default'"),
        ("Default", "want 'default'"),
        ("node.conf", "want 'default'"),
        (".toml", "want 'default'"),
        ("/etc/lp49", "want 'default'"),
        ("udp!host!1", "unknown network 'udp'"),
        ("!host!1", "unknown network ''"),
        ("tcp!", "want tcp!host!port"),
        ("tcp!!564", "want tcp!host!port"),
        ("unix!", "want unix!/path"),
    ],
)
def test_classify_source_refuses(text: str, fragment: str) -> None:
    with pytest.raises(MountError) as info:
        classify_source(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and info.value.status == 1


@pytest.mark.parametrize(
    ("items", "fuse", "ours"),
    [
        ([], (), {}),
        (["rw"], ("rw",), {}),
        (list(DROP), (), {}),
        (["x-systemd.automount", "X-mount.mkdir", "comment=systemd.x"], (), {}),
        (["ro", "_netdev", "allow_other", "nofail"], ("ro", "allow_other"), {}),
        (["fsname=home", "subtype=lp49", "max_read=65536"],
         ("fsname=home", "subtype=lp49", "max_read=65536"), {}),
        (["pid=7", "msize=8216", "console=/dev/null"], (),
         {"pid": "7", "msize": "8216", "console": "/dev/null"}),
        (["proc=rc", "dev", "suid"], ("dev", "suid"), {"proc": "rc"}),
        (["pid=1", "pid=2"], (), {"pid": "2"}),  # the last one wins
    ],
)  # fmt: skip
def test_filter_options(items: list[str], fuse: tuple[str, ...], ours: dict[str, str]) -> None:
    assert filter_options(items) == (fuse, ours)


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        (["frobnicate"], "unknown mount option 'frobnicate'"),
        (["relatime"], "unknown mount option 'relatime'"),  # libfuse 3.14 refuses it too
        (["uid=0"], "unknown mount option 'uid=0'"),
        (["pid"], "option pid needs a value"),
        (["console="], "option console needs a value"),
        (["fsname"], "option fsname needs a value"),
        (["pid=1", "proc=rc"], "give one"),
    ],
)
def test_filter_options_refuses(items: list[str], fragment: str) -> None:
    with pytest.raises(MountError) as info:
        filter_options(items)
    assert fragment in str(info.value)


def args(source: str = "default", mnt: str = "/mnt", **kw: object) -> MountArgs:
    fields: dict[str, object] = dict(foreground=False, debug=False, fuse_options=())
    fields.update(kw)
    return MountArgs(classify_source(source), mnt, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        # lp49 mount SOURCE DIR ...
        (["default", "/mnt"], args()),
        (["default", "/mnt", "-f"], args(foreground=True)),
        (["-f", "default", "/mnt"], args(foreground=True)),
        (["default", "/mnt", "-d"], args(foreground=True, debug=True, fuse_options=("debug",))),
        (["default", "/mnt", "-o", "debug"],
         args(foreground=True, debug=True, fuse_options=("debug",))),
        (["default", "/mnt", "-o", "ro", "-o", "allow_other"],
         args(fuse_options=("ro", "allow_other"))),
        (["default", "/mnt", "-oro,pid=3"], args(fuse_options=("ro",), pid=3)),
        (["n.toml", "rel/dir", "-o", "proc=rc,msize=65560,console=/tmp/c"],
         args("n.toml", "rel/dir", proc="rc", msize=65560, console="/tmp/c")),
        # what mount(8) runs: /sbin/mount.fuse.lp49 SOURCE DIR [-n] [-s] [-v] -o rw,...
        (["default", "/mnt/lp49", "-n", "-s", "-v", "-o", "rw,_netdev"],
         args(mnt="/mnt/lp49", fuse_options=("rw",))),
        (["default", "/mnt", "-t", "fuse.lp49", "-o", "rw"], args(fuse_options=("rw",))),
        # what mount.fuse3 runs: lp49 SOURCE DIR -o OPTS, with dev,suid appended
        (["tcp!h!17007", "/mnt", "-o", "rw,nofail,dev,suid"],
         args("tcp!h!17007", fuse_options=("rw", "dev", "suid"))),
        (["default", "/mnt", "-o", "rw,,noatime,"], args(fuse_options=("rw", "noatime"))),
    ],
)  # fmt: skip
def test_parse_argv(argv: list[str], expect: MountArgs) -> None:
    assert parse_argv(argv) == expect


@pytest.mark.parametrize(
    ("argv", "status", "fragment"),
    [
        ([], 2, "want SOURCE and DIR, got 0"),
        (["default"], 2, "want SOURCE and DIR, got 1"),
        (["a", "b", "c"], 2, "got 3"),
        (["default", "/mnt", "-o"], 2, "-o needs an argument"),
        (["default", "/mnt", "--foreground"], 2, "unknown flag '--foreground'"),
        (["default", "/mnt", "-o", "pid=0"], 1, "pid=0: want a number from 1"),
        (["default", "/mnt", "-o", "pid=-4"], 1, "pid=-4"),
        (["default", "/mnt", "-o", "msize=255"], 1, "msize=255: want a number from 256"),
        (["default", "/mnt", "-o", "msize=4294967296"], 1, "msize=4294967296"),
        (["default", "/mnt", "-o", "msize=8k"], 1, "msize=8k"),
        (["default.conf", "/mnt"], 1, "SOURCE 'default.conf'"),
    ],
)
def test_parse_argv_refuses(argv: list[str], status: int, fragment: str) -> None:
    with pytest.raises(MountError) as info:
        parse_argv(argv)
    assert (info.value.status, fragment in str(info.value)) == (status, True), info.value
    assert "\n" not in str(info.value)


option = st.sampled_from(
    [*sorted(DROP | LIBFUSE_FLAGS), "x-a", "comment=b", "fsname=f", "pid=9", "msize=9000"]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(option, max_size=12))
def test_every_known_option_lands_in_exactly_one_heap(items: list[str]) -> None:
    """Rule 1-3: dropped, ours, or libfuse's, in order, whatever the mix."""
    fuse, ours = filter_options(items)
    assert list(fuse) == [o for o in items if o in LIBFUSE_FLAGS or o.startswith("fsname=")]
    assert set(ours) == {o.partition("=")[0] for o in items if o[:4] in ("pid=", "msiz")}
    assert not set(fuse) & DROP


def test_disks_repeat_in_both_forms() -> None:
    a = parse_argv(["--disk", "a.img", "default", "/mnt", "-o", "disk=b.img:ro,ro,disk=c.img"])
    assert a.disks == ("a.img", "b.img:ro", "c.img")
    assert a.fuse_options == ("ro",)
    assert parse_argv(["default", "/mnt"]).disks == ()
    with pytest.raises(MountError):
        parse_argv(["default", "/mnt", "--disk"])


def test_users_table_option() -> None:
    args = parse_argv(["default", "/mnt", "-o", "users=1000=alice:54321=bob,ro"])
    assert args.users == ((1000, "alice"), (54321, "bob")) and args.fuse_options == ("ro",)
    assert parse_argv(["default", "/mnt", "-o", "users,ro"]).users == ()  # mount(8)'s flag
    for bad in ("users=alice", "users=1=a:1=b", "users=1=", "users=x=a", "users=1=a/b"):
        with pytest.raises(MountError):
            parse_argv(["default", "/mnt", "-o", bad])
