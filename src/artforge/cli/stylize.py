"""``artforge stylize CONTENT STYLE [STYLE ...] -o OUT`` (Gatys) and ``artforge stylize --model M INPUT... -o OUT``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from artforge.core.errors import ArtforgeError

S = argparse.SUPPRESS  # config options left out keep the config's (or --from-image's) value


def _layers(text: str) -> tuple[list[str], list[float] | None]:
    """``relu1_1,relu2_1:0.5`` -> names, weights (None when none is given)."""
    names, weights = [], []
    for item in text.split(","):
        name, _, w = item.strip().partition(":")
        names.append(name)
        try:
            weights.append(float(w) if w else 1.0)
        except ValueError:
            raise ArtforgeError(f"bad layer weight in {item!r}") from None
    return names, (weights if any(":" in i for i in text.split(",")) else None)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images (Gatys et al.)",
        description="Gatys neural style transfer: optimise an image so that its VGG content "
        "features match CONTENT and its Gram matrices match STYLE, coarse to fine.",
    )
    p.add_argument("content", nargs="?", help="content image (photo); with --model: images, folders or globs")
    p.add_argument("styles", nargs="*", metavar="style", help="style image(s); with --model: more content inputs")
    p.add_argument("-o", "--output", required=True, help="output .png or .jpg, or a folder for many inputs")
    p.add_argument("--from-image", metavar="PNG", help="re-run with the parameters stored in an artforge PNG")
    g = p.add_argument_group("feed-forward networks (instead of optimisation)")
    g.add_argument("--model", help="a name from `artforge models`, a run dir, checkpoint, model file or .onnx")
    g.add_argument(
        "--method", choices=["gatys", "johnson", "adain"], default=None,
        help="gatys (optimisation; default without --model), johnson or adain (shipped networks)",
    )  # fmt: skip
    g.add_argument("--style", action="append", default=[], dest="style_images", help="AdaIN: a style image")
    g.add_argument("--alpha", type=float, default=1.0, help="AdaIN content/style trade-off (1 = all style)")
    g.add_argument("--style-size", type=int, default=512,
                   help="AdaIN: long side of the style image(s), px (512; smaller: coarser, faster)")  # fmt: skip
    g.add_argument("--strength", type=float, default=1.0, help="blend with the original: 0 = photo, 1 = full")
    g.add_argument("--batch", type=int, default=4, help="images per forward pass (4)")
    g = p.add_argument_group("size")
    g.add_argument("--size", type=int, default=S, help="long side of the output, px (512)")
    g.add_argument("--style-scale", type=float, default=S, help="style long side relative to the content's (1.0)")
    g = p.add_argument_group("losses")
    g.add_argument("--content-weight", type=float, default=S, help="alpha, on the relative content error (1.0)")
    g.add_argument("--style-weight", type=float, default=S, help="beta, on the relative Gram error (5.0)")
    g.add_argument("--tv-weight", type=float, default=S, help="gamma, total variation smoothing (2.0)")
    g.add_argument("--content-layers", default=S, help="comma-separated (relu4_2)")
    g.add_argument("--style-layers", default=S, help="comma-separated, optional :weight (relu1_1,...,relu5_1)")
    g = p.add_argument_group("styles and colour")
    g.add_argument("--style-blend", type=float, nargs="+", default=S, help="one weight per style image")
    g.add_argument("--mask", action="append", default=[], help="one greyscale mask per style: its region")
    g.add_argument("--preserve-color", choices=["none", "luminance", "histogram"], default=S)
    g = p.add_argument_group("optimisation")
    init_help = "content, noise, an image path, or fast[:MODEL]: refine a feed-forward picture (content)"
    g.add_argument("--init", default=S, help=init_help)
    g.add_argument("--optimizer", choices=["lbfgs", "adam"], default=S)
    g.add_argument("--learning-rate", type=float, default=S)
    g.add_argument("--iterations", type=int, default=S, help="at full size; each coarser level runs twice as many (50)")
    g.add_argument("--scales", type=int, default=S, help="pyramid levels; 1 = single scale (auto)")
    g.add_argument("--min-scale", type=int, default=S, help="long side of the coarsest level (128)")
    g.add_argument("--tile-size", type=int, default=S, help="tile the final levels above this size (1024)")
    g.add_argument("--tile-overlap", type=int, default=S)
    g.add_argument("--seed", type=int, default=S)
    g = p.add_argument_group("network")
    g.add_argument("--weights", default=S, help="VGG weights: name or file (vgg16-hed)")
    g.add_argument("--pooling", choices=["max", "avg"], default=S)
    g.add_argument("--device", default=S, help="auto, cpu or cuda (auto)")
    g.add_argument("--precision", choices=["fp32", "bf16"], default=S,
                   help="fp32, or bf16 autocast of the networks: ~2x faster on CPUs with native bf16 "
                   "(AVX512-BF16, AMX) and on GPUs (fp32)")  # fmt: skip
    g = p.add_argument_group("output")
    g.add_argument(
        "--save-every", type=int, default=0, metavar="N", help="write an intermediate image every N iterations"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


CONFIG_KEYS = {
    "size",
    "style_scale",
    "content_weight",
    "style_weight",
    "tv_weight",
    "style_blend",
    "preserve_color",
    "init",
    "optimizer",
    "learning_rate",
    "iterations",
    "scales",
    "min_scale",
    "tile_size",
    "tile_overlap",
    "seed",
    "weights",
    "pooling",
    "device",
    "precision",
}


SHIPPED = {"johnson": "johnson-mountains", "adain": "adain-wesnoth"}


def run_model(args: argparse.Namespace) -> int:
    """``--model`` / ``--method johnson|adain``: a feed-forward network over every input."""
    given = vars(args)
    model = args.model or SHIPPED[args.method]
    inputs = [i for i in [args.content, *args.styles] if i]
    if not inputs:
        raise ArtforgeError("give at least one content image, folder or glob")
    options: dict[str, Any] = {
        "strength": args.strength, "alpha": args.alpha, "batch": args.batch, "style_size": args.style_size,
        "precision": given.get("precision", "fp32"),
    }  # fmt: skip
    for key in ("size", "preserve_color", "style_blend", "tile_size", "tile_overlap"):
        if key in given:
            options[key] = given[key]
    device = given.get("device", "auto")
    quick = _run_quick(model, inputs, args, options, device)
    if quick is not None:
        print(f"wrote {quick}")
        return 0
    from artforge import api

    written = api.stylize_with_model(
        inputs, args.output, model, styles=args.style_images, masks=args.mask, device=device,
        progress=not args.quiet, **options,
    )  # fmt: skip
    print(f"wrote {written[0]}" if len(written) == 1 else f"wrote {len(written)} images to {args.output}")
    return 0


def _run_quick(
    model: str, inputs: list[str], args: argparse.Namespace, options: dict[str, Any], device: str
) -> Path | None:
    """One photo, a shipped model: onnxruntime on its cached ONNX export, without importing torch (~3 s of a
    ~4 s command on 2 cores). The file written, or None where the PyTorch path runs (see ``quick.plan``)."""
    from artforge.feedforward import quick
    from artforge.feedforward.options import ModelOptions

    opts = ModelOptions(**options)
    source = quick.plan(model, inputs, args.output, args.style_images, args.mask, opts, device)
    if source is None:
        return None
    onnx = quick.cached_onnx(source)
    if not onnx.is_file():  # first use: export once with PyTorch, checked against it in onnxruntime
        from artforge import api

        onnx.parent.mkdir(parents=True, exist_ok=True)
        if not args.quiet:
            print(f"first use of {model} in onnxruntime: exporting it once to {onnx}", file=sys.stderr, flush=True)
        try:
            api.export_model(model, onnx)
        except ArtforgeError:  # no onnx/onnxscript, or an export that fails its check: PyTorch runs it
            return None
    return quick.stylize_one(onnx, inputs[0], args.output, model, args.style_images, opts, device, not args.quiet)


def run(args: argparse.Namespace) -> int:
    if args.model or args.method in ("johnson", "adain"):
        return run_model(args)
    from artforge import api

    if args.style_images:
        raise ArtforgeError("--style is for --method adain / --model; for Gatys give STYLE images after CONTENT")
    from artforge.api import StylizeConfig
    from artforge.data import images

    given = vars(args)
    base: dict[str, Any] = {}
    content, styles, masks = args.content, list(args.styles), list(args.mask)
    if args.from_image:
        stored = images.read_params(args.from_image)
        base = dict(stored.get("config", {}))  # type: ignore[call-overload]
        content = content or stored.get("content")
        styles = styles or list(stored.get("styles", []))  # type: ignore[call-overload]
        masks = masks or list(stored.get("masks", []))  # type: ignore[call-overload]
    if not content or not styles:
        raise ArtforgeError("give a CONTENT image and at least one STYLE image (or --from-image PNG)")
    base.update({k: given[k] for k in CONFIG_KEYS if k in given})
    if "content_layers" in given:
        base["content_layers"] = _layers(given["content_layers"])[0]
    if "style_layers" in given:
        base["style_layers"], base["style_layer_weights"] = _layers(given["style_layers"])
    cfg = StylizeConfig.from_dict(base)
    cfg.validate(n_styles=len(styles), n_masks=len(masks))
    out = api.stylize_to_file(
        content, styles, args.output, cfg, masks, progress=not args.quiet, save_every=args.save_every
    )
    print(f"wrote {out}")
    return 0
