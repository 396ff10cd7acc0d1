"""The one Python surface that the CLI and the web app call: ``stylize()``."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image

from artforge.config import StylizeConfig, TrainConfig
from artforge.data import color, images, samples
from artforge.engines.pyramid import stylize_tensor
from artforge.errors import ArtforgeError
from artforge.nn.encoders import VGGEncoder, check_layers
from artforge.weights import load_encoder

ImageLike = Union[str, "os.PathLike[str]", Image.Image]


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA if present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ArtforgeError(f"--device {name}: no CUDA GPU is available; use --device cpu")
    return torch.device(name)


@functools.lru_cache(maxsize=4)
def encoder_for(weights: str, pooling: str, device: str) -> VGGEncoder:
    """The pretrained encoder, loaded once per process."""
    return load_encoder(weights, pooling=pooling).to(device)


def _image(x: ImageLike, what: str) -> Image.Image:
    """A path, ``sample:NAME`` or a PIL image, as upright RGB."""
    if isinstance(x, Image.Image):
        return images.to_rgb(x)
    if samples.is_sample(x):
        return samples.load(str(x))
    return images.load(x, what)


def _spec(x: str | os.PathLike[str]) -> str:
    """How an input is recorded in the output's parameters: samples by name, files by absolute path."""
    return str(x) if samples.is_sample(x) else str(Path(x).resolve())


def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike],
    config: StylizeConfig | None = None,
    *,
    masks: Sequence[ImageLike] = (),
    progress: bool = False,
    save_every: int = 0,
    on_snapshot: Callable[[int, Image.Image], None] | None = None,
    **overrides: object,
) -> Image.Image:
    """Paint ``content`` in the style of ``style`` (one image or several) by Gatys optimisation.

    ``config`` (or keyword ``overrides`` of its fields, e.g. ``size=256``) sets every parameter.
    Returns the stylised RGB image; its long side is ``config.size``.
    """
    cfg = StylizeConfig.from_dict({**(config or StylizeConfig()).to_dict(), **overrides})
    styles = list(style) if isinstance(style, Sequence) and not isinstance(style, str) else [style]
    if not styles:
        raise ArtforgeError("give at least one style image")
    cfg.validate(n_styles=len(styles), n_masks=len(masks))
    c_img = _image(content, "content image")
    s_imgs = [_image(s, "style image") for s in styles]
    m_imgs = [
        images.load_mask(m, c_img.size) if not isinstance(m, Image.Image) else m.convert("L").resize(c_img.size)
        for m in masks
    ]
    for m, name in zip(m_imgs, masks, strict=True):
        if m.getextrema()[1] == 0:
            raise ArtforgeError(f"mask {name}: is black everywhere; its style would have no region")
    init: Image.Image | None = None
    if cfg.init not in ("content", "noise"):
        init = _image(cfg.init, "init image")

    device = resolve_device(cfg.device)
    encoder = encoder_for(cfg.weights, cfg.pooling, str(device))
    try:
        check_layers(encoder.arch, [*cfg.content_layers, *cfg.style_layers])
    except ValueError as e:
        raise ArtforgeError(str(e)) from None

    target = images.resize_long(c_img, cfg.size)
    content_full = images.to_tensor(target).to(device)

    def finish(x: torch.Tensor) -> Image.Image:
        if x.shape[1] == 1:  # luminance-only: put the content's chroma back
            x = color.combine_luminance(x, content_full[..., : x.shape[-2], : x.shape[-1]])
        return images.to_image(x)

    snapshot = None
    if on_snapshot is not None:

        def snapshot(i: int, x: torch.Tensor) -> None:
            full = torch.nn.functional.interpolate(x, size=content_full.shape[-2:], mode="bicubic", align_corners=False)
            on_snapshot(i, finish(full.clamp(0, 1)))

    x = stylize_tensor(encoder, c_img, s_imgs, cfg, m_imgs, init, snapshot, save_every, progress)
    return finish(x)


def stylize_to_file(
    content: str | os.PathLike[str],
    styles: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: StylizeConfig | None = None,
    masks: Sequence[str | os.PathLike[str]] = (),
    progress: bool = True,
    save_every: int = 0,
) -> Path:
    """Stylise and write ``output`` (PNG with its parameters in a text chunk, or JPEG).

    Nothing is written unless the run succeeds; on Ctrl-C the image so far goes to
    ``<output stem>.interrupted<suffix>``.
    """
    from artforge.engines.pyramid import Interrupted

    cfg = config or StylizeConfig()
    out = images.check_writable(output)
    params: dict[str, object] = {
        "content": _spec(content),
        "styles": [_spec(s) for s in styles],
        "masks": [_spec(m) for m in masks],
        "config": cfg.to_dict(),
    }

    def snap(i: int, img: Image.Image) -> None:
        images.save(img, out.with_name(f"{out.stem}.{i:05d}{out.suffix}"), params)

    try:
        img = stylize(
            content, list(styles), cfg, masks=list(masks), progress=progress, save_every=save_every, on_snapshot=snap
        )
    except Interrupted as e:
        partial = out.with_name(f"{out.stem}.interrupted{out.suffix}")
        x = e.partial
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        images.save(images.to_image(x), partial, params)
        raise ArtforgeError(f"interrupted; the image so far is in {partial}") from None
    return images.save(img, out, params)


def train(
    config: TrainConfig | None = None,
    *,
    out: str | os.PathLike[str] = "runs",
    resume: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **overrides: object,
) -> Path:
    """Train a generative model; returns the last checkpoint. ``resume`` continues a run dir
    exactly where its newest checkpoint left off (``overrides`` may then change only kimg/snap/tick/keep)."""
    from artforge import checkpoint as ckpt
    from artforge import training
    from artforge.engines.loop import fit
    from artforge.engines.run import init_processes

    if resume is not None:
        run = Path(resume)
        stored = training.load_run_config(run).to_dict()
        allowed = {"kimg", "snap_kimg", "tick_kimg", "keep", "device", "metrics_every"}
        bad = sorted(set(overrides) - allowed)
        if bad:
            raise ArtforgeError(
                f"--resume keeps the run's settings; only {', '.join(sorted(allowed))} may change, not {bad[0]}"
            )
        cfg = TrainConfig.from_dict({**stored, **overrides})
    else:
        cfg = TrainConfig.from_dict({**(config or TrainConfig()).to_dict(), **overrides})
    cfg.validate()
    procs = init_processes(cfg.device)
    if cfg.batch % (procs.world * cfg.accumulate):
        raise ArtforgeError(
            f"--batch {cfg.batch} must divide by processes x --accumulate ({procs.world} x {cfg.accumulate})"
        )
    hook = None
    if cfg.is_styliser:
        if cfg.metrics or cfg.accumulate != 1:
            raise ArtforgeError(f"--metrics and --accumulate are for the generative models, not {cfg.model}")
        trainer, summary, meta = training.build_styliser(cfg, procs)
    else:
        ds, images, labels = training.open_data(cfg)
        if cfg.metrics:  # checked before the run dir exists: too few images for FID is an error now, not at kimg K
            from artforge.engines.metrics_hook import MetricsHook

            hook = MetricsHook(cfg, images, procs.device, progress and procs.main, load=procs.main)
        trainer = training.build_trainer(cfg, procs, ds, images, labels)
        summary = f"{len(images)} images, {ds.resolution} px"
        shapes = {"resolution": ds.resolution, "channels": ds.channels}
        meta = {"shapes": {**shapes, "num_classes": ds.num_classes if cfg.conditional else 0}}
    if resume is not None:
        last = ckpt.latest(run)
        tensors, state = ckpt.load(last)
        if state.get("model") != cfg.model:
            raise ArtforgeError(f"{last}: a {state.get('model')} checkpoint, but the run is {cfg.model}")
        trainer.restore(tensors, state, last)
        if procs.main and overrides:
            cfg.save(run / "config.json")
    else:
        run = training.new_run(Path(out), cfg, procs)
    if procs.main:
        print(f"run: {run}  ({summary}, {cfg.model}, {procs.world} process(es) on {procs.device})")
    return fit(trainer, run, cfg, procs, progress, meta=meta, hook=hook)


def sample(run: str | os.PathLike[str], **options: Any) -> list[Path]:
    """Images from a trained run (see ``artforge sample --help`` for the options); returns the files written."""
    from artforge.sampling import run_sampling

    return run_sampling(run, **options)


def evaluate(run: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """Likelihood metrics of a trained VAE run: test_elbo_nats, iwae_nll_nats, bits_per_dim."""
    from artforge.evaluation import evaluate_run

    return evaluate_run(run, **options)


def compare(
    reference: str | None, judged: str, metrics: str = "fid", backbone: str = "inception", **options: Any
) -> dict[str, Any]:
    """FID / KID / IS / precision-recall of image folder ``judged`` against ``reference`` (a folder
    or, for FID, a statistics ``.npz``); ``reference=None`` for IS alone."""
    from artforge.metrics.report import compare as _compare

    return _compare(reference, judged, metrics, backbone, **options)


def stylization_metrics(output: str, content: str, style: str, **options: Any) -> dict[str, Any]:
    """Content loss, Gram style loss (artforge's VGG16, default Gatys layers) and colour-histogram
    distance of a stylised image against its content and style images."""
    from artforge.metrics.stylization import stylization_metrics as _stylization

    return _stylization(output, content, style, **options)


def load_styliser(model: str | os.PathLike[str], device: str = "auto") -> Any:
    """A feed-forward styliser by name (``artforge models``), run dir, checkpoint, model file or .onnx."""
    from artforge import stylisers

    return stylisers.load(model, resolve_device(device))


def stylize_with_model(
    inputs: str | Sequence[str],
    output: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    styles: Sequence[str] = (),
    masks: Sequence[str] = (),
    device: str = "auto",
    progress: bool = False,
    **options: Any,
) -> list[Path]:
    """Stylise image files, folders or globs with a trained network (Johnson, GAN-style or AdaIN);
    ``options`` are :class:`artforge.inference.ModelOptions` fields (size, strength, preserve_color, alpha, ...)."""
    from artforge.inference import ModelOptions, stylize_files

    dev = resolve_device(device)
    styliser = load_styliser(model, str(dev))
    specs = [inputs] if isinstance(inputs, str) else list(inputs)
    return stylize_files(styliser, specs, str(output), ModelOptions(**options), styles, masks, dev, progress)


def list_models(root: str = "runs") -> list[dict[str, Any]]:
    """Shipped models and trained styliser runs under ``root``: ``[{name, kind, source, path, description}]``."""
    from artforge import stylisers

    return stylisers.list_models(root)
