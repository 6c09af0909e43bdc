"""docs/kernel.md's example runs as written."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def example() -> str:
    text = (ROOT / "docs" / "kernel.md").read_text()
    section = text.split("## Example", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "no python block in the Example section"
    return m.group(1)


def test_example_is_about_twenty_lines_and_runs() -> None:
    code = example()
    assert 15 <= len(code.strip().splitlines()) <= 45
    # a fresh interpreter: the example calls trio.run itself
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
