"""``artforge data list|fetch``: the standard data sets (Fashion-MNIST, MNIST, CIFAR-10), by apt or by download."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="list or fetch the standard data sets (fashion-mnist, mnist, cifar10)")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    li = dsub.add_parser("list", help="known data sets and whether they are here")
    li.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    li.set_defaults(run=_list)
    f = dsub.add_parser(
        "fetch",
        help="install (Debian package, as root or with passwordless sudo) or download a data set; prints its folder",
    )
    f.add_argument("name", metavar="NAME", help="fashion-mnist, mnist or cifar10")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(run=_fetch)


def _list(args: argparse.Namespace) -> int:
    from artforge import api

    rows = api.list_datasets()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "ready " if row["ready"] else "absent"
        print(f"{row['name']:14s} {state}  {row['description']}\n{'':22s}{row['how']}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from artforge import api

    print(api.fetch_dataset(args.name, progress=not args.quiet))
    return 0
