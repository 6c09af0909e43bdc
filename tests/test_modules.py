"""Every module imports, says what it is, and stays readable in size.

- Imports: mypy runs with ``ignore_missing_imports``, so an import of a project module that
  was moved or renamed passes it; a fresh interpreter here imports every module of the
  project packages (``pkgutil.walk_packages``) and every bench script, each on its own, and
  reports each one that raises.  Fresh, so that nothing pytest or another test imported
  first can hide a missing name.
- Docstrings: every Python file of the tree (packages, tests, bench) opens with a module
  docstring saying how it works.
- Size: no file is past ``MAXLINES`` lines (most stay under 300; past 400 a file wants
  splitting along a seam).

Each checker is also run on a made-up broken tree, so that the tests above can fail.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

from test_layering import PACKAGES, ROOT

MAXLINES = 400
TREES = (*PACKAGES, "tests", "bench")

# Runs in a fresh interpreter: argv[1] is the tree's root, argv[2:] the packages; the bench
# scripts are imported as bench.NAME with bench/ last on the path (they import each other
# as scripts do).  Prints {module: error} as JSON.
IMPORTER = """
import importlib, json, pathlib, pkgutil, sys, traceback
root = pathlib.Path(sys.argv[1])
sys.path[:0] = [str(root)]
sys.path.append(str(root / "bench"))
names = []
for pkg in sys.argv[2:]:
    try:
        p = importlib.import_module(pkg)
    except BaseException:
        names.append(pkg)
        continue
    names += [m.name for m in pkgutil.walk_packages(p.__path__, pkg + ".", onerror=names.append)]
names += ["bench." + f.stem for f in sorted((root / "bench").glob("*.py"))]
bad = {}
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as e:
        bad[name] = "".join(traceback.format_exception_only(type(e), e)).strip()
print(json.dumps({"count": len(names), "bad": bad}))
"""


def import_all(root: pathlib.Path, packages: tuple[str, ...]) -> tuple[int, dict[str, str]]:
    """(modules tried, {module: error}) for ``packages`` and ``bench/`` below ``root``."""
    r = subprocess.run([sys.executable, "-c", IMPORTER, str(root), *packages], cwd=root,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    return out["count"], out["bad"]


def python_files(root: pathlib.Path) -> list[pathlib.Path]:
    return [p for tree in TREES for p in sorted((root / tree).rglob("*.py"))]


def docstring(path: pathlib.Path) -> str | None:
    return ast.get_docstring(ast.parse(path.read_text(), str(path)))


def lines(path: pathlib.Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def test_every_module_imports() -> None:
    count, bad = import_all(ROOT, PACKAGES)
    assert count > 100, f"only {count} modules found"
    assert not bad, "\n".join(f"{m}: {e}" for m, e in sorted(bad.items()))


def test_every_file_has_a_docstring() -> None:
    bare = [str(p.relative_to(ROOT)) for p in python_files(ROOT) if not docstring(p)]
    assert not bare, f"no module docstring: {bare}"


def test_no_file_is_past_maxlines() -> None:
    sizes = {str(p.relative_to(ROOT)): lines(p) for p in python_files(ROOT)}
    assert len(sizes) > 300, f"only {len(sizes)} files found"
    long = {p: n for p, n in sizes.items() if n > MAXLINES}
    assert not long, f"past {MAXLINES} lines (split them along a seam): {long}"


def test_the_checkers_catch_a_broken_tree(tmp_path: pathlib.Path) -> None:
    """A module importing a name its sibling lost, one without a docstring, one too long."""
    pkg = tmp_path / "probe49"
    pkg.mkdir()
    (tmp_path / "bench").mkdir()
    (pkg / "__init__.py").write_text('"""probe."""\n')
    (pkg / "good.py").write_text('"""fine."""\nVALUE = 1\n')
    (pkg / "moved.py").write_text('"""lost its import."""\nfrom probe49.good import GONE\n')
    (tmp_path / "bench" / "b.py").write_text('"""a script."""\nimport nothere49\n')
    bare = pkg / "bare.py"
    bare.write_text("VALUE = 2\n")
    long = pkg / "long.py"
    long.write_text('"""long."""\n' + "x = 1\n" * MAXLINES)
    count, bad = import_all(tmp_path, ("probe49",))
    assert count == 5 and sorted(bad) == ["bench.b", "probe49.moved"], bad
    assert "GONE" in bad["probe49.moved"]
    assert docstring(bare) is None and docstring(pkg / "good.py") == "fine."
    assert lines(long) == MAXLINES + 1
