"""``lp49 demo multihost [--check] [--loopback] [--stack own] [--dir DIR]``: three nodes.

Theory of operation.  The scenario of issue 6, as numbered steps (``STEPS``):

1. hosts: three emulated hosts ``a``, ``b``, ``c`` (``lp49fs.host.demo.netns``): as root, Linux
   network namespaces with veth links a-b and a-c only, so b cannot reach c; otherwise
   127.0.0.1 with one port per node.  With ``--stack own`` (``lp49fs.host.demo.ownnet``, no root
   needed) the nodes run their own IP stack on emulated NICs, a-b and a-c each on an
   ``lp49 hub``, so b cannot reach c either.
2. boot: an authority in the work directory (``lp49 auth``: user glenda, a node certificate
   for each host naming its addresses), then ``lp49 node --listen tcp!*!PORT --auth DIR
   --console unix!...`` in each host; each console answers, ``/dev/sysname`` is the host's
   name (``--export-net``: step 6 imports a's ``/net``), and the shell's ``$auth`` names
   the authority, so every import and srv below is
   mutual TLS 1.3.
3. a imports b's ``/dev`` on ``/n`` and reads b's sysname through it.
4. a imports c's ``/tmp`` (c's ramfs) on ``/mnt`` and writes a file there; c reads it locally.
5. (namespaces only) b cannot dial c: its own stack has no route there.
6. the gateway trick: b imports a's ``/net`` over its own, so b's dials leave through a's
   stack; then b imports c's ``/tmp`` and reads the file a wrote.
7. the host mounts a's exported name space with FUSE (``lp49 mount -o auth=DIR tcp!... DIR``,
   run inside host a) and reads ``DIR/dev/sysname`` with plain Linux file calls (skipped
   with ``--stack own``: Linux is on no hub).

Without ``--check`` each step prints the commands it types and what the nodes answer, then the
commands to try, and the demo waits for Ctrl-C.  With ``--check`` it prints one line per step
(``ok``/``FAIL``/``skip``) and exits 1 if any step failed.  Either way everything is torn down
on exit: the FUSE mount, the nodes (SIGTERM, then SIGKILL), the namespaces and the work dir.

Rules:
1. A step either returns a one-line summary or raises ``DemoError``; after a failure the
   remaining steps are not run (they build on each other) and are not reported as ok.
2. Nothing outside the work directory (a fresh ``/tmp/lp49-demo-*`` unless ``--dir``) and the
   namespaces named after this process is created.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from lp49fs.host.demo.console import LP49, DemoError, NodeProc, wait_for
from lp49fs.host.demo.netns import Hosts, NetnsError, can_netns, sweep
from lp49fs.host.demo.ownnet import OwnHosts

NAMES = ["a", "b", "c"]
STOP_ORDER = ["b", "a", "c"]  # b imports from a, a from b and c (b's import of a ends first)
GREETING = "hello from a"


class Multihost:
    """The scenario's state: hosts, nodes, the FUSE view; ``close`` tears it all down."""

    def __init__(self, workdir: str, netns: bool, verbose: bool, stack: str = "host") -> None:
        self.workdir, self.netns, self.verbose, self.stack = workdir, netns, verbose, stack
        self.hosts: Hosts | OwnHosts | None = None
        self.nodes: dict[str, NodeProc] = {}
        self.view = os.path.join(workdir, "a-view")
        self.fuse: subprocess.Popen[bytes] | None = None
        self.authdir = os.path.join(workdir, "auth")

    def authority(self) -> None:
        """Step 2's authority: glenda (every shell's user) and one certificate per node."""
        assert self.hosts is not None
        run = functools.partial(subprocess.run, capture_output=True, text=True, check=False)
        cmds = [["init", self.authdir], ["add", self.authdir, "glenda"]]
        for n in NAMES:
            ips = {"127.0.0.1", *self.hosts[n].addrs.values()}
            cmds.append(["node", self.authdir, n, *(a for ip in sorted(ips) for a in ("--ip", ip))])
        for cmd in cmds:
            done = run([*LP49, "auth", *cmd])
            if done.returncode:
                raise DemoError(f"lp49 auth {cmd[0]}: {done.stderr.strip()}")

    def say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def sh(self, name: str, cmd: str, ok: bool = True) -> tuple[str, str]:
        """Type ``cmd`` at node ``name``; DemoError if its status disagrees with ``ok``."""
        console = self.nodes[name].console
        assert console is not None
        self.say(f"{name}% {cmd}")
        out, status = console.run(cmd)
        for line in out.rstrip("\n").splitlines():
            self.say(f"    {line}")
        if ok and status:
            raise DemoError(f"{name}: {cmd!r} failed: {status} ({out.strip()[-200:]})")
        if not ok and not status:
            raise DemoError(f"{name}: {cmd!r} succeeded but should have failed")
        return out, status

    def dial(self, server: str, client: str) -> str:
        """The dial string at which node ``client`` reaches node ``server``."""
        assert self.hosts is not None
        return self.hosts[server].dial(self.hosts[client])

    # The steps, in order: each returns a one-line summary.

    def hosts_up(self) -> str:
        own = self.stack == "own"
        self.hosts = OwnHosts(NAMES, self.workdir) if own else Hosts(NAMES, self.netns)
        self.hosts.link("a", "b")
        self.hosts.link("a", "c")
        if own:
            return "own stacks on hubs: " + ", ".join(
                f"{n} {','.join(self.hosts[n].addrs.values())}" for n in NAMES
            )
        if not self.netns:
            return "loopback: " + ", ".join(f"{n} {self.dial(n, n)}" for n in NAMES)
        return "namespaces " + ", ".join(
            f"{n} {self.hosts[n].netns} {','.join(sorted(set(self.hosts[n].addrs.values())))}"
            for n in NAMES
        )

    def boot(self) -> str:
        hosts = self.hosts
        assert hosts is not None
        self.authority()
        for n in NAMES:
            listen = f"tcp!*!{hosts[n].port}"
            extra = ("--auth", self.authdir, "--export-net", *hosts.nodeargs(n))
            self.nodes[n] = NodeProc.start(n, functools.partial(hosts.argv, n), listen,
                                           self.workdir, extra)  # fmt: skip
        for n in NAMES:
            self.nodes[n].attach()
            out, _ = self.sh(n, "cat /dev/sysname")
            if out.strip() != n:
                raise DemoError(f"node {n}: sysname is {out.strip()!r}")
            self.sh(n, f"auth={self.authdir}")
        return "nodes a, b, c answer on their consoles; every link is mutual TLS 1.3"

    def import_dev(self) -> str:
        self.sh("a", f"import {self.dial('b', 'a')} /dev /n")
        out, _ = self.sh("a", "cat /n/sysname")
        if out.strip() != "b":
            raise DemoError(f"a: /n/sysname is {out.strip()!r}, not b")
        return "a: cat /n/sysname -> b"

    def import_ramfs(self) -> str:
        self.sh("a", f"import -c {self.dial('c', 'a')} /tmp /mnt")
        self.sh("a", f"echo {GREETING} > /mnt/greeting")
        out, _ = self.sh("c", "cat /tmp/greeting")
        if out.strip() != GREETING:
            raise DemoError(f"c: /tmp/greeting holds {out.strip()!r}")
        return f"a wrote /mnt/greeting, c reads {GREETING!r} in its /tmp"

    def no_route(self) -> str:
        assert self.hosts is not None
        if not self.hosts.isolated:
            return "skip: every host shares the loopback"
        self.sh("b", f"import {self.dial('c', 'a')} /tmp /mnt", ok=False)
        return "b cannot dial c with its own stack"

    def gateway(self) -> str:
        self.sh("b", f"import {self.dial('a', 'b')} /net /net")
        self.sh("b", f"import {self.dial('c', 'a')} /tmp /mnt")
        out, _ = self.sh("b", "cat /mnt/greeting")
        if out.strip() != GREETING:
            raise DemoError(f"b: /mnt/greeting holds {out.strip()!r}")
        return f"b dials c through a's /net and reads {GREETING!r}"

    def fuse_view(self) -> str:
        if not os.path.exists("/dev/fuse"):
            return "skip: no /dev/fuse"
        if self.stack == "own":
            return "skip: Linux is on no hub of the own stacks"
        assert self.hosts is not None
        os.makedirs(self.view, exist_ok=True)
        argv = [*LP49, "mount", "-f", "-o", f"auth={self.authdir}", self.dial("a", "a"), self.view]
        self.say(f"host$ {' '.join(argv)}")
        log = open(os.path.join(self.workdir, "fuse.log"), "wb")  # noqa: SIM115
        with log:
            self.fuse = subprocess.Popen(self.hosts.argv("a", argv), stdout=log, stderr=log,
                                         start_new_session=True)  # fmt: skip

        def mounted() -> bool:
            if self.fuse is not None and self.fuse.poll() is not None:
                with open(log.name, errors="replace") as f:
                    raise DemoError(f"lp49 mount exited {self.fuse.returncode}: {f.read()}")
            return os.path.ismount(self.view)

        wait_for(mounted, 30, f"the FUSE mount on {self.view}")
        with open(os.path.join(self.view, "dev", "sysname")) as f:
            name = f.read().strip()
        self.say(f"host$ cat {self.view}/dev/sysname\n    {name}")
        if name != "a":
            raise DemoError(f"{self.view}/dev/sysname is {name!r}, not a")
        return f"host: cat {self.view}/dev/sysname -> a"

    STEPS: list[tuple[str, Callable[[Multihost], str]]] = [
        ("hosts", hosts_up),
        ("boot", boot),
        ("a imports b's /dev", import_dev),
        ("a imports c's ramfs", import_ramfs),
        ("b has no route to c", no_route),
        ("b dials out through a's /net", gateway),
        ("host FUSE view of a", fuse_view),
    ]

    def close(self) -> list[str]:
        """Tear everything down (also after failures); the problems met, as lines."""
        problems = []
        if self.fuse is not None:
            if self.fuse.poll() is None:
                self.fuse.terminate()
                try:
                    self.fuse.wait(15)
                except subprocess.TimeoutExpired:
                    self.fuse.kill()
                    self.fuse.wait()
            if os.path.ismount(self.view):
                subprocess.run(["fusermount3", "-u", "-z", self.view], capture_output=True)
                problems.append(f"the FUSE mount on {self.view} outlived its daemon")
        for n in STOP_ORDER:  # importers first: a node still serving an import stops slowly
            if n not in self.nodes:
                continue
            node = self.nodes[n]
            status = node.stop()
            if status != 0:
                problems.append(f"node {n} exited {status}: {node.tail()}")
        if self.hosts is not None:
            self.hosts.close()
        return problems

    def tips(self) -> str:
        lines = ["", "try:"]
        for n, node in self.nodes.items():
            lines.append(f"  {' '.join(LP49)} console unix!{node.cons}    # node {n}'s shell")
        if self.fuse is not None:
            lines.append(f"  ls {self.view} {self.view}/dev; cat {self.view}/dev/sysname")
        lines += ["  at a: ls /n; cat /mnt/greeting; ns", "  at b: cat /net/tcp/*/remote",
                  "", "Ctrl-C tears everything down."]  # fmt: skip
        return "\n".join(lines)


def run(m: Multihost, check: bool) -> int:
    """Run the steps (stop at the first failure); 0 if none failed."""
    for title, step in Multihost.STEPS:
        t0 = time.monotonic()
        m.say(f"== {title}")
        try:
            summary = step(m)
        except (DemoError, NetnsError, OSError) as e:
            print(f"FAIL {title}: {e}", flush=True)
            return 1
        took = time.monotonic() - t0
        word, summary = ("skip", summary[6:]) if summary.startswith("skip: ") else ("ok", summary)
        if check or word == "skip":
            print(f"{word:<4} {title}: {summary} ({took:.2f} s)", flush=True)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="lp49 demo multihost", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify each step, no terminal needed")
    ap.add_argument("--loopback", action="store_true", help="loopback ports even as root")
    ap.add_argument("--dir", help="work directory (default: a fresh /tmp/lp49-demo-*)")
    ap.add_argument("--stack", choices=("host", "own"), default="host",
                    help="own: the nodes' own IP stacks on emulated NICs and hubs")  # fmt: skip
    args = ap.parse_args(argv)
    why = None if not args.loopback else "--loopback"
    why = why or ("--stack own" if args.stack == "own" else can_netns())
    if why is None:
        sweep()
    workdir = args.dir or tempfile.mkdtemp(prefix="lp49-demo-")
    os.makedirs(workdir, exist_ok=True)
    m = Multihost(workdir, netns=why is None, verbose=not args.check, stack=args.stack)
    if why is not None and args.stack == "host":
        print(f"lp49 demo: no network namespaces ({why}): nodes share the loopback")
    status = 1
    try:
        status = run(m, args.check)
        if status == 0 and not args.check:
            print(m.tips(), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    finally:
        problems = m.close()
        for p in problems:
            print(f"FAIL teardown: {p}", flush=True)
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        status = 1
    if args.check and not problems:
        gone = "hubs stopped" if args.stack == "own" else "namespaces deleted"
        print(f"ok   teardown: nodes stopped with status 0, {gone}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
