"""``lp49 mount CONFIG`` boots the node of CONFIG with its NICs and addresses, as ``lp49 node``
does: the view shows ``/net/ether0`` and the own stack's ipifc, and the node answers a ping
from a second node (an ``lp49 node`` daemon) on the same ``lp49 hub``.  File-system access
runs in subprocesses (NOTES.md).
"""

from __future__ import annotations

import pathlib
import signal
import subprocess
from collections.abc import Iterator

import pytest

from tests.fuse_view import LP49, mounted, run
from tests.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.fuse

VIEW_IP, PEER_IP = "10.66.0.5", "10.66.0.6"


@pytest.fixture
def hub(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    path = tmp_path / "hub"
    p = subprocess.Popen([str(LP49), "hub", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == f"hub {path}\n"
        yield path
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=DEADLINE) == 0
        assert p.stdout is not None
        p.stdout.close()


def test_mount_config_honours_its_nics(tmp_path: pathlib.Path, hub: pathlib.Path) -> None:
    cons = tmp_path / "view.cons"
    (tmp_path / "node.toml").write_text(
        f'[node]\nname = "netview"\n[hardware]\nnics = ["hub:{hub}"]\n'
        f'[network]\nip = ["{VIEW_IP}/24"]\n'
    )
    peer = subprocess.Popen([str(LP49), "node", "--name", "peer", "--console", "none",
                             "--nic", f"hub:{hub}", "--ip", f"{PEER_IP}/24"],
                            start_new_session=True, stderr=subprocess.PIPE)  # fmt: skip
    try:
        with mounted(tmp_path, f"console=unix!{cons}", str(tmp_path / "node.toml")) as view:
            status = run(["cat", str(view / "net" / "ipifc" / "0" / "status")]).stdout
            assert "/net/ether0" in status and VIEW_IP in status, status
            assert len(run(["cat", str(view / "net" / "ether0" / "addr")]).stdout) == 12
            pings: list[str] = []

            def answered() -> bool:  # the peer may still be booting: ask again until it is up
                out = run([str(LP49), "console", f"unix!{cons}"], input=f"ping -n 1 {PEER_IP}\n")
                pings.append(out.stdout)
                return "rtt" in out.stdout

            wait_until(answered, f"a ping answered by {PEER_IP}")
    finally:
        peer.send_signal(signal.SIGTERM)
        _, err = peer.communicate(timeout=DEADLINE)
        assert peer.returncode == 0, err
