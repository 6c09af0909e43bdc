"""Shared test helpers: the environment switches that turn a skip into a failure.

``.ci/run`` sets LP49_REQUIRE_FUSE, LP49_REQUIRE_ROOT and LP49_REQUIRE_PEERS, so in CI a test
that cannot run (no /dev/fuse, not root, peers not installed) fails instead of skipping.

Every test run has a state directory of its own (``LP49_STATE``), so the default nodes the
tests boot make and share their /n/c image there, never in the user's.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
from hypothesis import HealthCheck, settings

# Shared machines are noisy: no per-example deadline, and no "too slow" health check.  In CI
# (CI=true) examples are derived from the test itself, so a run is repeatable.
settings.register_profile("lp49", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("lp49"), derandomize=True,
                          database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "lp49")

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _statedir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The default node's state directory for this run (lp49fs/host/cdisk.py)."""
    os.environ["LP49_STATE"] = str(tmp_path_factory.mktemp("state"))
PEERS = ROOT / ".peers"


def skip_or_fail(switch: str, reason: str) -> None:
    """Skip with ``reason``, or fail when the environment variable ``switch`` is set."""
    if os.environ.get(switch) == "1":
        pytest.fail(f"{reason} (and {switch}=1 forbids skipping)")
    pytest.skip(reason)


def have_fuse() -> str | None:
    """None if real FUSE mounts can be made here, else the reason they cannot."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "fusermount3 not installed (apt-get install fuse3)"
    if os.geteuid() != 0 and not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "no access to /dev/fuse"
    return None


@pytest.fixture
def require_fuse() -> None:
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)


@pytest.fixture
def require_root() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        skip_or_fail("LP49_REQUIRE_ROOT", "needs root and iproute2 for network namespaces")


def peer_python(name: str) -> pathlib.Path:
    """The interpreter of the third-party peer environment ``name`` (made by setup.sh)."""
    py = PEERS / name / "bin" / "python"
    if not (PEERS / name / ".installed").exists():
        skip_or_fail("LP49_REQUIRE_PEERS", f"peer {name} not installed: run scripts/setup.sh")
    return py
