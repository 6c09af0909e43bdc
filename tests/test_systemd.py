"""The systemd units in systemd/: ``systemd-analyze verify`` passes with no warning at all.

``verify`` exits 0 on unknown keys and only warns on stderr, so any output on
stderr fails.  It also checks that ExecStart's program exists (the /usr/local/bin/lp49 link
made by scripts/setup.sh) and that the mount unit's name matches ``Where=``.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

UNITS = pathlib.Path(__file__).resolve().parent.parent / "systemd"
NODE, MOUNT = "lp49-node@.service", "mnt-lp49.mount"
NAMESPACE_OPTIONS = (
    "PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices", "ReadOnlyPaths",
    "PrivateMounts", "NoNewPrivileges", "ProtectKernelModules", "TemporaryFileSystem",
)  # fmt: skip


def verify(*paths: pathlib.Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def units_in(tmp_path: pathlib.Path, instance: str = "default") -> list[pathlib.Path]:
    """The units copied into ``tmp_path``, the template under an instance name."""
    node = tmp_path / NODE.replace("@.", f"@{instance}.")
    shutil.copy(UNITS / NODE, node)
    mount = tmp_path / MOUNT
    shutil.copy(UNITS / MOUNT, mount)
    return [node, mount]


@pytest.mark.parametrize("instance", ["default", "etc-lp49-home.toml"])
def test_units_verify_without_warnings(tmp_path: pathlib.Path, instance: str) -> None:
    r = verify(*units_in(tmp_path, instance))
    assert (r.returncode, r.stderr, r.stdout) == (0, "", ""), r.stderr


def test_verify_would_catch_a_warning(tmp_path: pathlib.Path) -> None:
    """The check above can fail: an unknown key is a warning on stderr (with exit 0)."""
    node, _ = units_in(tmp_path)
    node.write_text(node.read_text().replace("[Service]\n", "[Service]\nFrobnicate=yes\n"))
    r = verify(node)
    assert "Unknown key 'Frobnicate'" in r.stderr


def test_mount_unit_name_must_match_where(tmp_path: pathlib.Path) -> None:
    _, mount = units_in(tmp_path)
    mount.write_text(mount.read_text().replace("Where=/mnt/lp49", "Where=/mnt/elsewhere"))
    r = verify(mount)
    assert r.returncode != 0 and "doesn't match unit name" in r.stderr


def settings(unit: pathlib.Path) -> dict[str, str]:
    out = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_node_unit_is_type_notify_with_no_mount_namespace() -> None:
    s = settings(UNITS / NODE)
    assert (s["Type"], s["NotifyAccess"]) == ("notify", "main")
    assert s["ExecStart"].startswith("/usr/local/bin/lp49 node ")
    assert not set(s) & set(NAMESPACE_OPTIONS)


def test_mount_unit_is_netdev_fuse_lp49() -> None:
    s = settings(UNITS / MOUNT)
    assert (s["What"], s["Where"], s["Type"]) == ("default", "/mnt/lp49", "fuse.lp49")
    assert "_netdev" in s["Options"].split(",")
    assert not set(s) & set(NAMESPACE_OPTIONS)
