"""Node configuration: a TOML file (``docs/node.example.toml``) or the built-in default node.

Layout (every table and key is optional; what is missing comes from the default node):

    [node]
    name = "lp49"                 # sysname (#c/sysname)
    namespace = "lp49.ns"         # a namespace file (relative to the config file) or, if it
                                  # holds a newline, the namespace text itself
    listen = "tcp!*!17007"        # 9P export address (exportfs -l)
    insecure = false              # allow listen beyond loopback without [auth]
    export_net = false            # also export /net (lets clients dial from this node)
    peer_timeout = 10             # seconds a mounted server may stay silent while calls
                                  # wait; then a ping, and a hangup after as long again
    health = 5                    # seconds between servers' health checks (docs/recovery.md)
    maxconns = 256                # export connections served at once (more wait)
    bus = true                    # the service bus (docs/servicebus.md); false: classic path
    pagecache = true              # the Pager's page cache of server files (docs/pagecache.md)
    pagecache_size = "16M"        # its bound
    idle = 600                    # seconds an export connection may stay silent
    [auth]                        # docs/security.md
    dir = "/etc/lp49/auth"        # an authority (lp49 auth init): TLS on listen and dials
    user = "glenda"               # whose certificate this node's dials present
    [users]                       # certificate name = the user it acts as; when present,
    alice = "alice"               # only these certificates are served (docs/security.md)
    [hardware]
    ram = "64M"                   # bytes, or a number with K, M or G
    floppy = "fd.img"             # a 1.44 MB image in floppy drive 0 (#f); "fd.img:ro"
    [console]
    attach = "stdio"              # stdio | unix!PATH | none
    [[servers]]                   # each: a program that posts /srv/srvname
    srvname = "ramfs"
    prog = "ramfs"
    args = ["-S", "ramfs"]
    mount = "/tmp"                # also mount it in the boot name space (optional)
    [[hostservers]]               # each: a host-side server (an lp49 subcommand) dialled
    name = "unix"                 # and posted as /srv/name (default: cmd)
    cmd = "u9fs"                  # u9fs or ramfs; the node adds --listen tcp!127.0.0.1!0
    args = ["/srv/share"]         # its arguments
    mount = "/n"                  # mount -c it there, in the boot and init name spaces
    [[disks]]                     # each: a raw image file as the next ATA unit (sdC0, sdC1 ...)
    image = "disk.img"            # relative to the config file; partitioned with an MBR
    readonly = false              # the unit refuses writes (docs/storage.md)

Rules:
1. ``load(path)`` and ``parse(text)`` either return a complete ``NodeConfig`` or raise
   ``ConfigError`` whose message is one line naming the file and the key: a TOML syntax
   error, an unknown table or key (typos must not pass silently), a value of the wrong type.
2. ``[[servers]]`` present replaces the default server list (an empty list is allowed:
   ``servers = []`` at top level means none).  ``[[hostservers]]`` and ``[[disks]]`` add to
   none.
3. The config module only reads and checks; nothing here boots or touches the host.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from lp49fs.cmd.newns import DEFAULT_NAMESPACE
from lp49fs.core.bus import BUS
from lp49fs.core.core import PEER_TIMEOUT
from lp49fs.hvm.pagecache import MAXPAGES, PAGE
from lp49fs.lib9p.limits import IDLE, MAXCONNS

DEFAULT_RAM = 64 << 20
DEFAULT_NAME = "default"  # CONFIG naming the built-in node
CONSOLES = ("stdio", "none")  # plus unix!PATH


class ConfigError(Exception):
    """A bad node configuration; ``str(e)`` is one line for the user."""


@dataclass(frozen=True)
class ServerConf:
    """One ``[[servers]]`` entry."""

    srvname: str  # the /srv entry the server posts
    prog: str  # program table name
    args: tuple[str, ...] = ()  # arguments after argv[0]
    mount: str | None = None  # mounted there in the boot name space, or not at all


DEFAULT_SERVERS = (ServerConf("ramfs", "ramfs", ("-S", "ramfs", "-r", "50%"), "/tmp"),)
HOSTCMDS = ("u9fs", "ramfs")  # lp49 subcommands that serve 9P on --listen ADDR


@dataclass(frozen=True)
class HostServerConf:
    """One ``[[hostservers]]`` entry: ``lp49 CMD --listen tcp!127.0.0.1!0 ARGS...``."""

    name: str  # posted as /srv/name
    cmd: str  # one of HOSTCMDS
    args: tuple[str, ...] = ()  # arguments after the subcommand and --listen
    mount: str | None = None  # mounted there (mount -c), or not at all


@dataclass(frozen=True)
class NodeConfig:
    """A node as ``lp49 node`` boots it."""

    name: str = "lp49"  # sysname
    ram: int = DEFAULT_RAM  # bytes of emulated RAM
    console: str = "stdio"  # stdio | unix!PATH | none
    debugcons: str = ""  # unix!PATH: the debug console (lp49fs.node.kdb); "" none
    namespace: str = DEFAULT_NAMESPACE  # namespace-file text for init's newns
    servers: tuple[ServerConf, ...] = DEFAULT_SERVERS  # started before init
    hostservers: tuple[HostServerConf, ...] = ()  # host processes, posted before init
    listen: str | None = None  # 9P listen dial string (exportfs -l)
    insecure: bool = False  # listen beyond loopback without auth (docs/security.md)
    export_net: bool = False  # export /net too (docs/security.md)
    authdir: str | None = None  # [auth] dir: the authority for TLS
    authuser: str | None = None  # [auth] user: the certificate dials present
    users: tuple[tuple[str, str], ...] | None = None  # [users]: (certificate, user); None: all
    peer_timeout: float = PEER_TIMEOUT  # silence of a mounted server before it is hung up
    health: float = 5.0  # seconds between health checks of the servers (node.monitor)
    bus: bool = BUS  # the service bus (docs/servicebus.md); default: LP49_BUS, else on
    pagecache: bool = True  # the Pager's page cache (docs/pagecache.md)
    cachepages: int = MAXPAGES  # its bound in pages ([node] pagecache_size)
    nics: tuple[str, ...] = ()  # tap:NAME | hub:PATH, one per card (ether0, ether1 ...)
    ips: tuple[str, ...] = ()  # ADDR/LEN for ipifc 0, 1 ... (the own stack)
    disks: tuple[str, ...] = ()  # image files, PATH or PATH:ro, as sdC0, sdC1, sdD0 ...
    floppy: str = ""  # a 1.44 MB image (PATH or PATH:ro) in floppy drive 0; "" none
    stack: str = ""  # own | host; "" = own when a NIC has an address, else host
    maxconns: int = MAXCONNS  # export connections at once (exportfs -l -c)
    idle: float = IDLE  # silence of an export connection before it is ended (exportfs -t)
    source: str = "<default>"  # where it came from, for messages

    def ipstack(self) -> str:
        """The stack /net shows (see ``check_network``)."""
        return self.stack or ("own" if self.nics and self.ips else "host")


KEYS: dict[str, set[str]] = {
    "node": {"name", "namespace", "listen", "insecure", "export_net", "peer_timeout", "health",
             "maxconns", "idle", "bus", "pagecache", "pagecache_size"},
    "auth": {"dir", "user"},
    "hardware": {"ram", "nics", "floppy"},
    "network": {"ip", "stack"},
    "console": {"attach"},
}
SERVER_KEYS = {"srvname", "prog", "args", "mount"}
DISK_KEYS = {"image", "readonly"}
HOSTSERVER_KEYS = {"name", "cmd", "args", "mount"}


def check_network(cfg: NodeConfig, where: str) -> NodeConfig:
    """NIC specs parse, addresses are ADDR/LEN, the stack is own or host, --ip needs own."""
    import ipaddress

    from hwsim.netback import backend

    for spec in cfg.nics:
        try:
            backend(spec)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    for cidr in cfg.ips:
        try:
            ipaddress.IPv4Interface(cidr)
        except ValueError:
            raise ConfigError(f"{where}: bad address {cidr!r}: want ADDR/LEN") from None
    if cfg.stack not in ("", "own", "host"):
        raise ConfigError(f"{where}: stack must be own or host, not {cfg.stack!r}")
    if len(cfg.ips) > len(cfg.nics):
        raise ConfigError(f"{where}: {len(cfg.ips)} addresses for {len(cfg.nics)} NICs")
    if cfg.ips and cfg.ipstack() == "host":
        raise ConfigError(f"{where}: an address needs the own stack (stack = own)")
    return cfg


def check_console(value: str, where: str = "console") -> str:
    """``value`` if it is a console attachment ``lp49 node`` understands."""
    if value in CONSOLES or (value.startswith("unix!") and len(value) > 5):
        return value
    raise ConfigError(f"{where}: {value!r} is not stdio, none or unix!PATH")


def parse_size(value: object, where: str) -> int:
    """Bytes from an int or a string like ``16M`` / ``512K`` / ``1G``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", value, re.IGNORECASE)
        if m:
            shift = {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]
            if int(m.group(1)) > 0:
                return int(m.group(1)) << shift
    raise ConfigError(f"{where}: want a positive size like 16M, got {value!r}")


def _str(table: dict[str, Any], key: str, where: str) -> str | None:
    v = table.get(key)
    if v is not None and not isinstance(v, str):
        raise ConfigError(f"{where}.{key}: want a string, got {type(v).__name__}")
    return v


def _bool(table: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    v = table.get(key, default)
    if not isinstance(v, bool):
        raise ConfigError(f"{where}.{key}: want true or false, got {v!r}")
    return v


def _path(p: str | None, base: str) -> str | None:
    return None if p is None else os.path.join(base, p)


def _table(doc: dict[str, Any], name: str, src: str) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        raise ConfigError(f"{src}: [{name}] must be a table")
    unknown = set(t) - KEYS[name]
    if unknown:
        raise ConfigError(f"{src}: [{name}] unknown key {sorted(unknown)[0]!r}")
    return t


def _server(entry: object, i: int, src: str) -> ServerConf:
    where = f"{src}: servers[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - SERVER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    prog = _str(entry, "prog", where)
    if not prog:
        raise ConfigError(f"{where}: prog is required")
    srvname = _str(entry, "srvname", where) or prog
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}.args: want a list of strings")
    return ServerConf(srvname, prog, tuple(args), _str(entry, "mount", where))


def _hostserver(entry: object, i: int, src: str) -> HostServerConf:
    where = f"{src}: hostservers[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - HOSTSERVER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    cmd = _str(entry, "cmd", where)
    if cmd not in HOSTCMDS:
        raise ConfigError(f"{where}.cmd: want one of {', '.join(HOSTCMDS)}, got {cmd!r}")
    name = _str(entry, "name", where) or cmd
    if "/" in name or name.startswith("#") or not name.strip():
        raise ConfigError(f"{where}.name: {name!r} is not a /srv name")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}.args: want a list of strings")
    mount = _str(entry, "mount", where)
    if mount is not None and not mount.startswith("/"):
        raise ConfigError(f"{where}.mount: {mount!r} is not an absolute path")
    return HostServerConf(name, cmd, tuple(args), mount)


def _disk(entry: object, i: int, src: str, base: str) -> str:
    """One ``[[disks]]`` entry as ``boot``'s disk spec: ``PATH`` or ``PATH:ro``."""
    where = f"{src}: disks[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - DISK_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    image = _str(entry, "image", where)
    if not image:
        raise ConfigError(f"{where}: image is required")
    return os.path.join(base, image) + (":ro" if _bool(entry, "readonly", where) else "")


USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}")  # a 9P uname the table may hold


def _users(doc: dict[str, Any], src: str) -> tuple[tuple[str, str], ...] | None:
    """``[users]``: certificate name -> the user its connections act as (docs/security.md)."""
    if "users" not in doc:
        return None
    table = doc["users"]
    if not isinstance(table, dict):
        raise ConfigError(f"{src}: [users] must be a table")
    for cert, user in table.items():
        if not isinstance(user, str) or not USERNAME.fullmatch(user) or user == "none":
            raise ConfigError(f"{src}: users.{cert}: {user!r} is not a user name")
        if not USERNAME.fullmatch(cert) or "," in cert or "=" in cert:
            raise ConfigError(f"{src}: users: {cert!r} is not a certificate name")
    return tuple(sorted(table.items()))


def parse(text: str, source: str = "<string>", base: str = ".") -> NodeConfig:
    """A ``NodeConfig`` from TOML ``text``; relative namespace paths resolve under ``base``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    unknown = set(doc) - set(KEYS) - {"servers", "hostservers", "disks", "users"}
    if unknown:
        raise ConfigError(f"{source}: unknown table or key {sorted(unknown)[0]!r}")
    node = _table(doc, "node", source)
    hw = _table(doc, "hardware", source)
    cons = _table(doc, "console", source)
    auth = _table(doc, "auth", source)
    cfg = NodeConfig(source=source)
    name = _str(node, "name", f"{source}: node") or cfg.name
    if "/" in name or not name.strip():
        raise ConfigError(f"{source}: node.name: {name!r} is not a usable sysname")
    ns = _str(node, "namespace", f"{source}: node")
    if ns is not None and "\n" not in ns:
        ns = _readns(os.path.join(base, ns), source)
    servers = cfg.servers
    if "servers" in doc:
        if not isinstance(doc["servers"], list):
            raise ConfigError(f"{source}: servers must be an array of tables [[servers]]")
        servers = tuple(_server(e, i, source) for i, e in enumerate(doc["servers"]))
    hostservers = doc.get("hostservers", [])
    if not isinstance(hostservers, list):
        raise ConfigError(f"{source}: hostservers must be an array of tables [[hostservers]]")
    hosts = tuple(_hostserver(e, i, source) for i, e in enumerate(hostservers))
    disklist = doc.get("disks", [])
    if not isinstance(disklist, list):
        raise ConfigError(f"{source}: disks must be an array of tables [[disks]]")
    disks = tuple(_disk(e, i, source, base) for i, e in enumerate(disklist))
    attach = _str(cons, "attach", f"{source}: console")
    net = _table(doc, "network", source)
    nics, ips = hw.get("nics", []), net.get("ip", [])
    if not isinstance(nics, list) or not isinstance(ips, list | str):
        raise ConfigError(f"{source}: hardware.nics and network.ip must be arrays of strings")
    cfg = NodeConfig(
        name=name,
        ram=parse_size(hw["ram"], f"{source}: hardware.ram") if "ram" in hw else cfg.ram,
        console=check_console(attach, f"{source}: console.attach") if attach else cfg.console,
        namespace=ns if ns is not None else cfg.namespace,
        servers=servers,
        hostservers=hosts,
        listen=_str(node, "listen", f"{source}: node"),
        peer_timeout=_seconds(node, "peer_timeout", f"{source}: node", cfg.peer_timeout),
        health=_seconds(node, "health", f"{source}: node", cfg.health),
        maxconns=_count(node, "maxconns", f"{source}: node", cfg.maxconns),
        idle=_seconds(node, "idle", f"{source}: node", cfg.idle),
        insecure=_bool(node, "insecure", f"{source}: node"),
        export_net=_bool(node, "export_net", f"{source}: node"),
        bus=_bool(node, "bus", f"{source}: node", cfg.bus),
        pagecache=_bool(node, "pagecache", f"{source}: node", cfg.pagecache),
        cachepages=-(-parse_size(node["pagecache_size"], f"{source}: node.pagecache_size") // PAGE)
        if "pagecache_size" in node else cfg.cachepages,
        authdir=_path(_str(auth, "dir", f"{source}: auth"), base),
        authuser=_str(auth, "user", f"{source}: auth"),
        users=_users(doc, source),
        nics=tuple(str(n) for n in nics),
        ips=(ips,) if isinstance(ips, str) else tuple(str(i) for i in ips),
        stack=_str(net, "stack", f"{source}: network") or "",
        disks=disks,
        floppy=_path(_str(hw, "floppy", f"{source}: hardware"), base) or "",
        source=source,
    )
    return check_network(cfg, source)


def _seconds(table: dict[str, Any], key: str, where: str, default: float) -> float:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 3600:
        raise ConfigError(f"{where}.{key}: want seconds between 0 and 3600, got {v!r}")
    return float(v)


def _count(table: dict[str, Any], key: str, where: str, default: int) -> int:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= 65536:
        raise ConfigError(f"{where}.{key}: want a count between 1 and 65536, got {v!r}")
    return v


def _readns(path: str, source: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{source}: node.namespace: {path}: {e.strerror}") from None


def load(path: str | None) -> NodeConfig:
    """The config in file ``path``; the default node for None or ``default`` (the word the
    systemd unit ``lp49-node@default`` and ``lp49 mount default`` use)."""
    if path is None or path == DEFAULT_NAME:
        return NodeConfig()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    return parse(text, path, os.path.dirname(os.path.abspath(path)))
