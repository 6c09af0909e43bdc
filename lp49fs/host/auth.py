"""``lp49 auth init|add|node|list|revoke DIR ...``: keep an authority directory.

    lp49 auth init DIR                  make the CA (ca.key 0600, ca.crt, an empty crl.pem)
    lp49 auth add DIR USER              issue USER's key and certificate (users/USER.*)
    lp49 auth node DIR NAME [--ip IP]…  issue node NAME's (nodes/NAME.*; DNS NAME, IP SANs)
    lp49 auth list DIR                  one line per certificate: kind name serial state expiry
    lp49 auth revoke DIR NAME           put NAME's certificates on crl.pem

Errors are one line on stderr and exit status 1 (``authority`` Rule 5).
"""

from __future__ import annotations

import argparse
import sys

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.errors import Error


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="lp49 auth", description="keep an LP49 authority")
    sub = ap.add_subparsers(dest="verb", required=True)
    sub.add_parser("init", help="make a new authority in DIR").add_argument("dir")
    for verb, what in (("add", "user"), ("revoke", "user or node")):
        p = sub.add_parser(verb, help=f"{verb} a {what}")
        p.add_argument("dir")
        p.add_argument("name")
    p = sub.add_parser("node", help="issue a node's key and certificate")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("--ip", action="append", default=[], help="an address the node serves on")
    sub.add_parser("list", help="list the certificates issued").add_argument("dir")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    a = Authority(args.dir)
    try:
        if args.verb == "init":
            a.init()
            print(f"authority made in {a.root}")
        elif args.verb in ("add", "node"):
            kind = USERS if args.verb == "add" else NODES
            print(a.issue(kind, args.name, tuple(getattr(args, "ip", ()))))
        elif args.verb == "list":
            for i in a.listing():
                state = "revoked" if i.revoked else "valid"
                print(f"{i.kind} {i.name} {i.serial:x} {state} {i.not_after:%Y-%m-%d}")
        else:
            for i in a.revoke(args.name):
                print(f"revoked {i.kind} {i.name} {i.serial:x}")
    except (Error, OSError) as e:
        print(f"lp49 auth: {e}", file=sys.stderr)
        return 1
    return 0
