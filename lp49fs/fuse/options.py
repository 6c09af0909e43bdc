"""The mount helper's command line, as pure functions (no I/O, no file-system checks).

Three shapes reach ``parse_argv``, all ``SOURCE DIR`` plus flags in any order:

* ``lp49 mount SOURCE DIR [-o OPTS]... [-f] [-d]``  (people; ``host/cli.py`` strips ``mount``)
* ``mount.fuse.lp49 SOURCE DIR [-n] [-s] [-v] -o OPTS``  (mount(8) through /sbin)
* ``lp49 SOURCE DIR -o OPTS``  (mount.fuse3, when /sbin/mount.fuse.lp49 is missing)

``-o`` may repeat; its comma-separated options are split into three heaps:

Rule 1. ``DROP`` options (and ``x-*``, ``X-*``, ``comment=*``) belong to mount(8), fstab or
        systemd and are discarded: libfuse would refuse them.
Rule 2. ``OURS`` (``pid=N`` | ``proc=NAME``, ``msize=N``, ``console=WHERE``, ``debugcons=WHERE``,
        ``auth=DIR``: the authority for a TLS import of a dialled SOURCE, docs/security.md;
        ``log=PATH``; ``disk=IMAGE[:ro]``, repeatable, also ``--disk IMAGE``: a disk for a
        booted node, docs/storage.md; ``users=UID=NAME[:UID=NAME...]``, the LP49 user of each
        host uid before the passwd, users.py Rule 1) choose what the view shows, where the
        daemon logs, its disks and who its callers are; a malformed value, a missing value or
        ``pid`` with ``proc`` is an error.
Rule 3. ``LIBFUSE_FLAGS`` and ``LIBFUSE_KEYED`` (checked against libfuse 3.14) go to
        ``pyfuse3.init`` in their order.  Anything else is an "unknown mount option" here,
        with one clear line, instead of libfuse's two-line refusal after the fact.
Rule 4. ``-d``, ``-o debug`` imply ``-f`` (foreground), as in libfuse.

mount(8)'s ``-n`` (no mtab), ``-s`` (sloppy), ``-v`` (verbose) and ``-t TYPE`` are accepted
and ignored.  Note: mount(8) also forwards its own ``-f`` (fake) as ``-f``; like every FUSE
helper we read it as "foreground".

SOURCE is classified by shape only (``classify_source``): ``default``; a node config
``*.toml``; a dial string ``tcp!host!port``, ``net!host!port`` or ``unix!path``.  Whether the
file exists or the host answers is decided later, by ``mount.resolve``.

Every problem raises ``MountError`` whose text is one line, ready to print after
``lp49 mount: ``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

# Rule 1: mount(8) / fstab / systemd options that never reach libfuse.
DROP = frozenset({"_netdev", "nofail", "user", "users", "nouser", "auto", "noauto", "defaults"})
DROP_PREFIXES = ("x-", "X-", "comment=")

# Rule 2: our own options.
OURS = frozenset({"pid", "proc", "msize", "console", "debugcons", "auth", "log", "disk",
                  "users"})
MSIZE_MIN = 256  # lib9p refuses smaller ("version: message size too small")
MSIZE_MAX = 0xFFFFFFFF  # msize[4]

# Rule 3: what libfuse 3.14 (fuse_session_new + fuse_session_mount) accepts for a FUSE mount.
LIBFUSE_FLAGS = frozenset(
    {
        "rw", "ro", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime",
        "sync", "async", "dirsync", "allow_other", "allow_root", "default_permissions",
        "auto_unmount", "debug",
    }
)  # fmt: skip
LIBFUSE_KEYED = frozenset({"fsname", "subtype", "max_read"})

DIAL_NETS = ("tcp", "net", "unix")  # lp49fs.transport dials these
IGNORED_FLAGS = frozenset({"-n", "-s", "-v"})  # mount(8): no mtab, sloppy, verbose

USAGE = "usage: lp49 mount [--disk IMAGE]... SOURCE DIR [-o OPTIONS] [-f] [-d]"


class MountError(Exception):
    """A failure the helper reports as one line and exit ``status``."""

    def __init__(self, line: str, status: int = 1) -> None:
        super().__init__(line)
        self.status = status  # 2 for a malformed command line, 1 for everything else


class SourceKind(enum.Enum):
    DEFAULT = "default"  # the built-in node, booted in the mount process
    CONFIG = "config"  # a node TOML file, booted in the mount process
    DIAL = "dial"  # a running node's export, reached over 9P


@dataclass(frozen=True, slots=True)
class Source:
    kind: SourceKind
    text: str  # as given (a config path is made absolute by host/mount.py, before chdir /)


@dataclass(frozen=True, slots=True)
class MountArgs:
    source: Source
    mountpoint: str  # as given; host/mount.py makes it absolute
    foreground: bool  # -f, -d or -o debug
    debug: bool  # -d or -o debug: libfuse traces requests on stderr
    fuse_options: tuple[str, ...]  # for pyfuse3.init, in command-line order
    pid: int | None = None  # pid=N: show the name space of LP49 process N
    proc: str | None = None  # proc=NAME: ... of the process named NAME
    msize: int | None = None  # msize=N: 9P message size for a dialled SOURCE
    console: str | None = None  # console=WHERE: where the node's console goes
    debugcons: str | None = None  # debugcons=unix!PATH: the debug console (lp49fs.node.kdb)
    auth: str | None = None  # auth=DIR: TLS with that authority for a dialled SOURCE
    log: str | None = None  # log=PATH: the daemon's log file (lp49fs.host.hostlog)
    disks: tuple[str, ...] = ()  # disk=IMAGE[:ro] / --disk IMAGE: the booted node's disks
    users: tuple[tuple[int, str], ...] = ()  # users=UID=NAME:...: (uid, LP49 user) pairs


def classify_source(text: str) -> Source:
    """The kind of SOURCE ``text``, judged by its shape alone; MountError if it has none."""
    if text == "default":
        return Source(SourceKind.DEFAULT, text)
    if "!" in text:
        net, _, rest = text.partition("!")
        if net not in DIAL_NETS:
            raise MountError(f"SOURCE {text!r}: unknown network {net!r} (want tcp, net or unix)")
        if not rest or rest.startswith("!"):
            shape = "unix!/path" if net == "unix" else f"{net}!host!port"
            raise MountError(f"SOURCE {text!r}: want {shape}")
        return Source(SourceKind.DIAL, text)
    if text.endswith(".toml") and len(text) > len(".toml"):
        return Source(SourceKind.CONFIG, text)
    raise MountError(
        f"SOURCE {text!r}: want 'default', a node config file (*.toml) "
        "or a dial string (tcp!host!port, unix!/path)"
    )


def split_option_string(opts: str) -> list[str]:
    """``a,b=c,,d`` -> ``["a", "b=c", "d"]`` (empty items, as mount(8) may leave, are skipped)."""
    return [o for o in opts.split(",") if o]


def _number(key: str, value: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise MountError(f"option {key}={value}: want a number from {low} to {high}")
    return int(value)


def parse_users(value: str) -> tuple[tuple[int, str], ...]:
    """``users=`` ``UID=NAME[:UID=NAME...]`` as (uid, name) pairs; MountError if malformed
    (a uid that is not a number, an empty name, a uid given twice)."""
    out: dict[int, str] = {}
    for pair in value.split(":"):
        uid, eq, name = pair.partition("=")
        if not eq or not uid.isdigit() or not name or any(c in name for c in " /=\0"):
            raise MountError(f"option users={value}: want UID=NAME[:UID=NAME...]")
        if int(uid) in out:
            raise MountError(f"option users={value}: uid {uid} given twice")
        out[int(uid)] = name
    return tuple(out.items())


def filter_options(items: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Split single options into (libfuse options, our options by key); Rules 1-3."""
    fuse: list[str] = []
    ours: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if item in DROP or item.startswith(DROP_PREFIXES):
            continue
        if key in OURS:
            if not eq or not value:
                raise MountError(f"option {key} needs a value: {key}=...")
            ours[key] = ours[key] + "\n" + value if key == "disk" and key in ours else value
        elif item in LIBFUSE_FLAGS:
            fuse.append(item)
        elif key in LIBFUSE_KEYED:
            if not eq or not value:
                raise MountError(f"option {key} needs a value: {key}=...")
            fuse.append(item)
        else:
            raise MountError(f"unknown mount option {item!r}")
    if "pid" in ours and "proc" in ours:
        raise MountError("options pid= and proc= both choose the process: give one")
    return tuple(fuse), ours


def parse_argv(argv: Sequence[str]) -> MountArgs:
    """Parse ``SOURCE DIR`` and flags (any order); MountError(status 2) on a bad shape."""
    positional: list[str] = []
    items: list[str] = []
    foreground = debug = False
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "-t"):
            value = next(args, None)
            if value is None:
                raise MountError(f"{arg} needs an argument; {USAGE}", status=2)
            if arg == "-o":
                items += split_option_string(value)
        elif arg.startswith("-o") and len(arg) > 2:
            items += split_option_string(arg[2:])
        elif arg == "--disk":
            value = next(args, None)
            if value is None:
                raise MountError(f"--disk needs an image file; {USAGE}", status=2)
            items.append(f"disk={value}")
        elif arg == "-f":
            foreground = True
        elif arg == "-d":
            foreground = debug = True
        elif arg in IGNORED_FLAGS:
            continue
        elif arg.startswith("-") and arg != "-":
            raise MountError(f"unknown flag {arg!r}; {USAGE}", status=2)
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise MountError(f"want SOURCE and DIR, got {len(positional)} arguments; {USAGE}", 2)
    fuse, ours = filter_options(items)
    if "debug" in fuse:
        foreground = debug = True
    elif debug:
        fuse += ("debug",)
    return MountArgs(
        source=classify_source(positional[0]),
        mountpoint=positional[1],
        foreground=foreground,
        debug=debug,
        fuse_options=fuse,
        pid=_number("pid", ours["pid"], 1, 2**31 - 1) if "pid" in ours else None,
        proc=ours.get("proc"),
        msize=_number("msize", ours["msize"], MSIZE_MIN, MSIZE_MAX) if "msize" in ours else None,
        console=ours.get("console"),
        debugcons=ours.get("debugcons"),
        auth=ours.get("auth"),
        log=ours.get("log"),
        disks=tuple(ours["disk"].split("\n")) if "disk" in ours else (),
        users=parse_users(ours["users"]) if "users" in ours else (),
    )
