"""The host command ``lp49``: one table of subcommands, each in its own module.

``lp49 NAME ARGS...`` imports the module named in ``COMMANDS`` and calls its ``main(argv)``,
which returns the exit status.  Modules are imported only when their command runs, so
``lp49 9p`` does not pay for pyfuse3 or the node.

mount(8) runs FUSE helpers in two shapes that are not subcommands: ``mount.fuse.lp49 SOURCE
DIR -o OPTS`` (the ``mount.fuse.lp49`` console script) and, through mount.fuse3, ``lp49 SOURCE
DIR -o OPTS``.  Both go to the mount command.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# name -> (module, one-line help).  Each module has ``main(argv: list[str]) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "9p": ("lp49fs.host.cmd9p", "a 9P2000 client for scripts: ls, read, write, stat, create, rm"),
    "ramfs": ("lp49fs.host.ramfs", "serve an in-memory file tree over 9P2000"),
    "u9fs": ("lp49fs.host.u9fs", "serve a Linux directory over 9P2000"),
    "node": ("lp49fs.host.node", "boot an LP49 node"),
    "console": ("lp49fs.host.console", "attach this terminal to a running node's console"),
    "mount": ("lp49fs.host.mount", "mount an LP49 name space on a Linux directory"),
    "trace": ("lp49fs.fuse.tracectl", "trace a Linux command's requests through a mounted node"),
    "auth": ("lp49fs.host.auth", "keep an authority: init, add, node, list, revoke"),
    "demo": ("lp49fs.host.demo.main",
             "scripted demos: multihost (three nodes, network namespaces)"),
    "hub": ("hwsim.hub", "Ethernet hubs on unix sockets for nodes' --nic hub:PATH cards"),
}

MOUNT_COMMAND = "mount"


def usage() -> str:
    lines = ["usage: lp49 COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "mount(8) form: lp49 SOURCE DIR [-o OPTIONS]"]
    return "\n".join(lines)


def run(name: str, argv: Sequence[str]) -> int:
    module, _ = COMMANDS[name]
    entry: Callable[[list[str]], int] = importlib.import_module(module).main
    return entry(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    if args[0] in COMMANDS:
        return run(args[0], args[1:])
    if len(args) >= 2 and not args[0].startswith("-"):
        return run(MOUNT_COMMAND, args)  # mount.fuse3 runs: lp49 SOURCE DIR -o OPTS
    print(f"lp49: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
    return 2


def mount_helper_main() -> int:
    """Entry of /sbin/mount.fuse.lp49: ``SOURCE DIR [-o OPTS]``."""
    return run(MOUNT_COMMAND, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
