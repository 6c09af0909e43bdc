"""``lp49 demo NAME [ARGS...]``: run one demo (``DEMOS``: name -> module with ``main(argv)``)."""

from __future__ import annotations

import importlib
import sys

DEMOS: dict[str, tuple[str, str]] = {
    "multihost": ("lp49fs.host.demo.multihost", "three nodes importing each other's name spaces"),
}


def usage() -> str:
    lines = ["usage: lp49 demo NAME [--check] [ARGS...]", "", "demos:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in DEMOS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in DEMOS:
        print(f"lp49 demo: unknown demo {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    status: int = importlib.import_module(DEMOS[argv[0]][0]).main(argv[1:])
    return status
