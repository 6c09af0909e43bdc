"""Who may reach a node's export listener: the rule the node applies before it listens.

``export_argv(cfg)`` is the ``exportfs -l`` command line for the node's ``listen`` address
(docs/security.md):

1. With an authority (``--auth DIR`` or ``[auth] dir``): ``exportfs -l ADDR -a DIR``, so
   every connection is mutual TLS 1.3 and served as the user its certificate names.
2. Without one, on a loopback address (127.0.0.0/8, ::1, ``localhost``): ``exportfs -l
   ADDR`` serves each connection as ``none`` (local tools such as plan9port's 9p still work).
3. Without one, on any other address: refused (``ConfigError``, one line saying how to set
   up auth or to pass ``--insecure``); with ``insecure`` it is served as in 2, as ``none``.
1a. With ``[users]`` as well: ``-U cert=user,...``: only the certificates it names are
   served, each as the user it maps to (``lp49fs.cmd.exportfs``).
4. ``/net`` is left out of the export (``exportfs -X /net``) unless the config says
   ``export_net = true`` (``--export-net``): an exported ``/net`` lets any client dial, or
   announce, from this node (the gateway trick of docs/multihost.md needs it).

``auth_env(cfg)`` is the rc line the node runs before init so that ``$auth`` (and
``$authuser``) name the authority for every program's dials (``import``, ``srv``).
"""

from __future__ import annotations

import ipaddress
import os

from lp49fs.node.config import ConfigError, NodeConfig

REFUSAL = (
    "refusing to listen on {addr} without authentication: make an authority "
    "(lp49 auth init DIR; lp49 auth node DIR {name} --ip ADDR) and pass --auth DIR, "
    "or pass --insecure to serve everyone as user none"
)


def is_loopback(addr: str) -> bool:
    """Whether dial string ``addr`` announces only on a loopback address."""
    parts = addr.split("!")
    if parts[0] == "unix":
        return True
    host = parts[1] if len(parts) > 1 else "*"
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*" or a host name: every address, or not known to be loopback


def export_argv(cfg: NodeConfig) -> list[str]:
    """The export listener's argv for ``cfg.listen`` (module docstring); ConfigError if refused."""
    assert cfg.listen
    hide = [] if cfg.export_net else ["-X", "/net"]  # Rule 4
    hide += ["-c", str(cfg.maxconns), "-t", f"{cfg.idle:g}"]  # lib9p.limits
    if cfg.authdir:
        if cfg.users is not None:  # Rule 1a
            hide += ["-U", ",".join(f"{cert}={user}" for cert, user in cfg.users)]
        return ["exportfs", "-l", cfg.listen, "-a", os.path.abspath(cfg.authdir), *hide]
    if cfg.users is not None:
        raise ConfigError(f"{cfg.source}: [users] names certificates: it needs an authority "
                          "([auth] dir or --auth DIR)")  # fmt: skip
    if not cfg.insecure and not is_loopback(cfg.listen):
        raise ConfigError(REFUSAL.format(addr=cfg.listen, name=cfg.name))
    return ["exportfs", "-l", cfg.listen, *hide]


def auth_env(cfg: NodeConfig) -> str:
    """The rc line that sets ``$auth`` (and ``$authuser``) for the node's programs."""
    assert cfg.authdir
    line = f"auth='{os.path.abspath(cfg.authdir)}'"
    return line + (f"; authuser='{cfg.authuser}'" if cfg.authuser else "")
