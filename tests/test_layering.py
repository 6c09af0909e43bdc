"""Imports go one way (the layers of README.md).

Every module of the project falls under exactly one rule below (the longest matching prefix).
A rule lists the project packages that the module may import; stdlib and third-party imports
are free except where FORBIDDEN_EXTERNAL says otherwise.  A module no rule covers fails the
test, so a new package has to state its place in the layering.
"""

from __future__ import annotations

import ast
import fnmatch
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("lp49fs", "kernel", "hwsim")

# + sd_notify, logging (host-side, but leaves that the FUSE daemon and the node share)
LEAF = {"lp49fs", "lp49fs.errors", "lp49fs.host.sdnotify", "lp49fs.host.hostlog"}
AUTH = {"lp49fs.auth"}  # the authority and TLS on links: above errors only
PROTOCOL = LEAF | AUTH | {"lp49fs.ninep", "lp49fs.transport", "lp49fs.lib9p", "lp49fs.trace",
                          "lp49fs.tracefmt"}  # fmt: skip
PROGRAM = PROTOCOL | {"lp49fs.lib", "lp49fs.servers"}

# module prefix -> project packages it may import
RULES: dict[str, set[str]] = {
    "hwsim": {"hwsim"},
    "kernel": {"kernel", "hwsim"},
    "lp49fs": LEAF,  # lp49fs/__init__.py itself
    "lp49fs.errors": LEAF | {"lp49fs.ninep"},  # only for to_rerror/from_rerror
    "lp49fs.host.sdnotify": LEAF,
    "lp49fs.auth": LEAF | AUTH | {"lp49fs.ninep"},  # ninep: the Rerror to plain 9P
    "lp49fs.host.hostlog": LEAF,
    "lp49fs.ninep": LEAF | {"lp49fs.ninep"},
    "lp49fs.transport": LEAF | AUTH | {"lp49fs.ninep"},
    "lp49fs.lib9p": PROTOCOL,
    "lp49fs.hvm": LEAF | {"lp49fs.hvm", "kernel", "hwsim"},
    "lp49fs.core": PROTOCOL | {"lp49fs.core", "kernel", "hwsim", "lp49fs.syscall"},
    "lp49fs.servants": PROTOCOL | {"lp49fs.servants", "lp49fs.core", "kernel", "hwsim"},
    "lp49fs.lib": PROTOCOL | {"lp49fs.lib", "kernel", "lp49fs.syscall"},
    "lp49fs.syscall": LEAF,  # system-call numbers and layouts: lib and core both read it
    # the trace recorder: every layer above the kernel reports to it; it reads the kernel's
    # trace mark and formats L4 and 9P messages
    "lp49fs.trace": LEAF | {"lp49fs.ninep", "lp49fs.syscall", "kernel.trace", "kernel.types",
                                              "kernel.thread"},
    "lp49fs.tracefmt": LEAF | {"lp49fs.trace"},  # text and SVG renderings of a trace
    "lp49fs.servers": PROGRAM,
    "lp49fs.cmd": PROGRAM | {"lp49fs.cmd"},
    "lp49fs.fuse": PROGRAM | {"lp49fs.fuse"},
    "lp49fs.node": set(),  # boot glue: everything (filled below)
    "lp49fs.host": set(),  # the Linux side: lp49 and its subcommands (filled below)
    "lp49fs.host.mount": PROGRAM | {"lp49fs.fuse", "lp49fs.node"},  # boots a node to show
    "lp49fs.host.cmd9p": PROTOCOL,  # the host-side 9P client CLI
    "lp49fs.host.demo": {"lp49fs", "lp49fs.host.demo"},  # host-side glue: runs lp49 commands
}
EVERYTHING = {"lp49fs", "kernel", "hwsim"}
RULES["lp49fs.node"] = EVERYTHING
RULES["lp49fs.host"] = EVERYTHING

FORBIDDEN_EXTERNAL = {
    "lp49fs.ninep": {"trio", "socket", "asyncio", "selectors"},  # sans-IO
    "hwsim": {"lp49fs"},
}
# LP49 programs reach the network through #I (/net), never through host sockets
FORBIDDEN_PROJECT = {"lp49fs.servers.exportfs*": {"lp49fs.transport"},
                     "lp49fs.cmd.*": {"lp49fs.transport"}}  # fnmatch patterns  # fmt: skip


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rule_for(mod: str) -> str | None:
    best = None
    for prefix in RULES:
        if (mod == prefix or mod.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    return best


def imported(path: pathlib.Path, mod: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = mod.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
    return names


def allowed(name: str, permitted: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in permitted)


def project_modules() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for pkg in PACKAGES:
        files += sorted((ROOT / pkg).rglob("*.py"))
    return files


@pytest.mark.parametrize("path", project_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down(path: pathlib.Path) -> None:
    mod = module_name(path)
    rule = rule_for(mod)
    assert rule is not None, f"{mod} is in no layering rule: add it to RULES"
    permitted = RULES[rule]
    bad = []
    for name in imported(path, mod):
        top = name.split(".")[0]
        if top in PACKAGES and not allowed(name, permitted):
            bad.append(name)
        for prefix, forbidden in FORBIDDEN_EXTERNAL.items():
            if (mod == prefix or mod.startswith(prefix + ".")) and top in forbidden:
                bad.append(name)
        for pattern, forbidden in FORBIDDEN_PROJECT.items():
            if fnmatch.fnmatchcase(mod, pattern) and allowed(name, forbidden):
                bad.append(name)
    assert not bad, f"{mod} (rule {rule}) may not import {sorted(bad)}"


def test_rules_reject_a_wrong_direction(tmp_path: pathlib.Path) -> None:
    """The checker itself catches an upward import (so the test above can fail)."""
    fake = ROOT / "kernel" / "_layering_probe.py"
    assert rule_for("kernel._layering_probe") == "kernel"
    tree = "from lp49fs.core import namec\n"
    probe = tmp_path / "probe.py"
    probe.write_text(tree)
    names = imported(probe, "kernel._layering_probe")
    assert not all(allowed(n, RULES["kernel"]) for n in names)
    assert not fake.exists()
