"""ping [-n count] [-w secs] ip: ICMP echo through ``/net/icmp`` (Plan 9 ping(8), cut down).

Opens ``/net/icmp/clone``, writes ``connect IP``, then for each of ``count`` (default 3)
sequence numbers writes one echo request (type 8, identifier filled in by the stack) and
reads the reply, waiting at most ``secs`` (default 2) for it.  Prints one line per reply,
``N: rtt T µs``, and ends with an error ``no reply`` if any request went unanswered.
Needs the own IP stack (``lp49 node --stack own``): the host-socket ``#I`` has no icmp.
"""

from __future__ import annotations

import time

import trio

from lp49fs import lib
from lp49fs.cmd._util import usage
from lp49fs.errors import Error
from lp49fs.ninep import ORDWR


async def main(argv: list[str]) -> None:
    text = "ping [-n count] [-w secs] ip"
    args, opts = argv[1:], {"-n": "3", "-w": "2"}
    while len(args) > 1 and args[0] in opts:
        opts[args[0]] = args[1]
        args = args[2:]
    try:
        count, wait = int(opts["-n"]), float(opts["-w"])
    except ValueError:
        await usage(text)
    if len(args) != 1:
        await usage(text)
    ctl = await lib.open("/net/icmp/clone", ORDWR)
    n = (await lib.read(ctl, 32)).decode()
    await lib.write(ctl, f"connect {args[0]}".encode())
    data = await lib.open(f"/net/icmp/{n}/data", ORDWR)
    lost = 0
    for seq in range(count):
        payload = seq.to_bytes(2, "big") + bytes(range(56))
        t0 = time.monotonic()
        await lib.write(data, bytes([8, 0, 0, 0, 0, 0]) + payload)
        with trio.move_on_after(wait):
            while True:
                reply = await lib.read(data, 2048)
                if reply[6:8] == payload[:2]:
                    break
            us = int((time.monotonic() - t0) * 1e6)
            await lib.write(1, f"{seq}: rtt {us} µs\n".encode())
            continue
        lost += 1
        await lib.write(1, f"{seq}: no reply\n".encode())
    await lib.close(data)
    await lib.close(ctl)
    if lost:
        raise Error("no reply")
