"""``artforge serve``: the studio, a local web app (Gradio) for painting, instant stylisation, video, generation and
training."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = "~/.local/share/artforge/studio"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="start artforge studio, a web app for painting, stylisation, video, generation and training",
        description="Start artforge studio (needs the [web] extra: pip install 'artforge[web]') and print its URL. "
        "A --host other than loopback needs --auth, or --insecure.",
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (7860)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"jobs and results ({DEFAULT_DATA_DIR})")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS", help="a user; repeat for more")
    p.add_argument("--auth-file", help="a file of USER:PASS lines")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload, MB (20)")
    p.add_argument("--runs", default="runs", help="trained runs: generators for Generate, stylisers for Instant (runs)")
    p.add_argument("--heavy-workers", type=int, default=1, help="Paint, Train, Video jobs at a time (1)")
    p.add_argument("--instant-precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="Instant's feed-forward networks: auto = bf16 where the CPU/GPU has native bf16 "
                   "(AVX512-BF16/AMX: ~1.5x faster, within a few levels of fp32), else fp32")  # fmt: skip
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without --auth")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge.studio.settings import ServeOptions, check, parse_auth

    opts = ServeOptions(
        host=args.host, port=args.port, data_dir=Path(args.data_dir).expanduser(),
        auth=parse_auth(args.auth, args.auth_file), max_upload_mb=args.max_upload_mb,
        heavy_workers=args.heavy_workers, insecure=args.insecure, runs=Path(args.runs).expanduser(),
        instant_precision=args.instant_precision,
    )  # fmt: skip
    check(opts)  # before the slow imports: a refused --host answers at once
    try:
        import gradio  # noqa: F401
    except ImportError:
        from artforge.core.errors import ArtforgeError

        raise ArtforgeError("artforge serve needs the [web] extra: pip install 'artforge[web]'") from None
    from artforge.studio.server import launch

    launch(opts)
    return 0
