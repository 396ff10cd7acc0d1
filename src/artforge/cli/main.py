"""Entry point: subcommands, and the rule that user errors end in one line, not a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from artforge.core.errors import ArtforgeError


def build_parser() -> argparse.ArgumentParser:
    from artforge.cli import (
        data,
        demo,
        evaluate,
        export,
        models,
        project,
        sample,
        serve,
        stylize,
        train,
        video,
        weights,
    )

    parser = argparse.ArgumentParser(prog="artforge", description="Neural style transfer and generative image models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stylize.add_parser(sub)
    weights.add_parser(sub)
    data.add_parser(sub)
    demo.add_parser(sub)
    train.add_parser(sub)
    sample.add_parser(sub)
    project.add_parser(sub)
    evaluate.add_parser(sub)
    export.add_parser(sub)
    models.add_parser(sub)
    video.add_parser(sub)
    serve.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ArtforgeError as e:
        print(f"artforge: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("artforge: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("artforge: error: out of memory; lower --size or --tile-size", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
