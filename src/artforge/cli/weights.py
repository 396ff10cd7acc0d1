"""``artforge weights list|fetch|path``: pretrained VGG weights."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("weights", help="list, fetch or locate pretrained VGG weights")
    wsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    wsub.add_parser("list", help="known weights and whether they are available").set_defaults(run=_list)
    f = wsub.add_parser("fetch", help="convert (offline) or download weights into the cache")
    f.add_argument("name", nargs="?", default=None, help="weights name (default: vgg16-hed)")
    f.set_defaults(run=_fetch)
    pa = wsub.add_parser("path", help="print the cached file of weights, fetching it if needed")
    pa.add_argument("name", nargs="?", default=None)
    pa.set_defaults(run=_path)


def _list(args: argparse.Namespace) -> int:
    from artforge import api

    print(f"cache: {api.cache_dir()}")
    for row in api.list_weights():
        mark = "*" if row["default"] else " "
        state = "ready " if row["ready"] else "absent"
        print(f"{mark} {row['name']:10s} {state}  {row['description']}\n               {row['how']}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from artforge import api

    print(api.fetch_weights(args.name))
    return 0


def _path(args: argparse.Namespace) -> int:
    from artforge import api

    print(api.fetch_weights(args.name, progress=False))
    return 0
