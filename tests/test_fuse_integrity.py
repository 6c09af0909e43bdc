"""File data through the FUSE view stays what was written: a bounded integrity run.

3,000 random reads, writes, truncates, shared-mmap writes and reopens of one file in the
node's /tmp, checked against a model (tests/integrity.py); the 50,000-operation run is
``bench/fuse_integrity.py``.  A host tmpfs file runs the same sequence first, so a failure
there would be the model's, not the view's.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.fuse_view import mounted
from tests.integrity import OPS, run_ops

pytestmark = pytest.mark.fuse

N = 3000
SEED = 49


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    with mounted(tmp_path_factory.mktemp("integrity")) as mnt:
        yield mnt


def test_the_model_agrees_with_the_host(tmp_path: pathlib.Path) -> None:
    done = run_ops(str(tmp_path / "f"), N, SEED)
    assert set(done) == set(OPS)


def test_integrity_run_through_the_view(view: pathlib.Path) -> None:
    f = view / "tmp" / "integrity"
    try:
        done = run_ops(str(f), N, SEED)
    finally:
        f.unlink(missing_ok=True)
    assert set(done) == set(OPS) and sum(done.values()) > N * 0.9
