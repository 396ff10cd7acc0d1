"""The one Python surface that the CLI and the web app call: ``stylize()``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image

from artforge.core import checkpoint as ckpt
from artforge.core.device import native_bf16, resolve_device
from artforge.core.download import cache_dir
from artforge.core.errors import ArtforgeError
from artforge.data import catalog, color, images, samples
from artforge.data.image_io import MAX_PIXELS, read_params
from artforge.data.image_io import load as load_image
from artforge.data.image_io import save as save_image
from artforge.data.video import probe as probe_video
from artforge.families import registry
from artforge.families.base import GeneratorFamily
from artforge.families.config import TrainConfig
from artforge.feedforward import export
from artforge.feedforward import stylizer as stylizers
from artforge.feedforward.base import StylizerLike
from artforge.feedforward.files import ModelOptions, stylize_files
from artforge.feedforward.first_guess import fast_model, first_guess, load_for_init
from artforge.feedforward.video.pipeline import stylize_video as _video
from artforge.feedforward.video.temporal import DEFAULT_WEIGHT as DEFAULT_TEMPORAL_WEIGHT
from artforge.gatys.config import StylizeConfig
from artforge.gatys.progress import Callback, Interrupted, Progress
from artforge.gatys.pyramid import Level, refine_schedule, stylize_tensor
from artforge.metrics.backbones import BACKBONES
from artforge.metrics.report import DEFAULT_SAMPLES, METRICS
from artforge.metrics.report import Options as MetricOptions
from artforge.metrics.report import compare as _compare
from artforge.metrics.stylization import stylization_metrics as _stylization
from artforge.nn import weights
from artforge.nn.encoders import check_layers
from artforge.nn.weights import DEFAULT_WEIGHTS, encoder_for
from artforge.train import build as training
from artforge.train import export_generator
from artforge.train.evaluation import evaluate_run
from artforge.train.loop import TrainingInterrupted, fit
from artforge.train.metrics_hook import MetricsHook, check_metrics
from artforge.train.processes import init_processes
from artforge.train.projection import run_projection
from artforge.train.sampling import run_sampling

__all__ = [
    "MAX_PIXELS", "Interrupted", "Progress", "load_image", "read_params", "sample_paintings", "save_image",
    "ArtforgeError", "BACKBONES", "DEFAULT_SAMPLES", "DEFAULT_TEMPORAL_WEIGHT", "METRICS", "MetricOptions",
    "StylizeConfig", "TrainConfig", "TrainingInterrupted", "cache_dir", "compare", "encoder_for", "evaluate",
    "export_model", "fetch_dataset", "fetch_weights", "list_datasets", "list_models", "list_runs", "list_weights",
    "fast_precision", "load_stylizer", "model_names", "probe_video", "project",
    "resolve_device", "sample", "stylization_metrics", "stylize", "stylize_to_file", "stylize_video",
    "stylize_with_model", "train",
]  # fmt: skip

ImageLike = Union[str, "os.PathLike[str]", Image.Image]


def _image(x: ImageLike, what: str) -> Image.Image:
    """A path, ``sample:NAME`` or a PIL image, as upright RGB."""
    if isinstance(x, Image.Image):
        return images.to_rgb(x)
    return samples.open_image(x, what)


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
    callback: Callback | None = None,
    **overrides: object,
) -> Image.Image:
    """Paint ``content`` in the style of ``style`` (one image or several) by Gatys optimisation.

    ``config`` (or keyword ``overrides`` of its fields, e.g. ``size=256``) sets every parameter.
    Returns the stylised RGB image; its long side is ``config.size``. Every ``save_every`` steps
    ``on_snapshot(step, image)`` gets the image so far at full size. ``callback`` gets a
    :class:`artforge.gatys.progress.Progress` after every iteration (losses, the image at the level's
    size); returning True ends the run with :class:`artforge.gatys.progress.Interrupted`.
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
    device = resolve_device(cfg.device)
    init: Image.Image | None = None
    levels: list[Level] | None = None
    if (fast := fast_model(cfg.init)) is not None:  # a feed-forward picture, refined by the finest levels
        specs = [_spec(s) for s in styles if not isinstance(s, Image.Image)]
        net = load_for_init(fast, specs, device)
        init = first_guess(net, c_img, s_imgs, cfg.size, cfg.style_blend, m_imgs)
        levels = refine_schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
    elif cfg.init not in ("content", "noise"):
        init = _image(cfg.init, "init image")

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

    def report(p: Progress) -> bool:
        if on_snapshot is not None and save_every and p.step % save_every == 0:
            full = torch.nn.functional.interpolate(
                p.image(), size=content_full.shape[-2:], mode="bicubic", align_corners=False
            )
            on_snapshot(p.step, finish(full.clamp(0, 1)))
        return callback is not None and bool(callback(p))

    x = stylize_tensor(encoder, c_img, s_imgs, cfg, m_imgs, init, callback=report, progress=progress, levels=levels)
    return finish(x)


def stylize_to_file(
    content: str | os.PathLike[str],
    styles: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: StylizeConfig | None = None,
    masks: Sequence[str | os.PathLike[str]] = (),
    progress: bool = True,
    save_every: int = 0,
    callback: Callback | None = None,
) -> Path:
    """Stylise and write ``output`` (PNG with its parameters in a text chunk, or JPEG).

    Nothing is written unless the run succeeds; on Ctrl-C, or when ``callback`` (see :func:`stylize`)
    asks to stop, the image so far goes to ``<output stem>.interrupted<suffix>``.
    """
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
            content, list(styles), cfg, masks=list(masks), progress=progress, save_every=save_every, on_snapshot=snap,
            callback=callback,
        )  # fmt: skip
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
        fam = registry.family(cfg.model)
        cfg = fam.resolve(cfg) if isinstance(fam, GeneratorFamily) else cfg
    registry.check(cfg)
    check_metrics(cfg)
    procs = init_processes(cfg.device)
    if cfg.batch % (procs.world * cfg.accumulate):
        raise ArtforgeError(
            f"--batch {cfg.batch} must divide by processes x --accumulate ({procs.world} x {cfg.accumulate})"
        )
    hook = None
    trainer: training.Trainer
    if registry.family(cfg.model).is_stylizer:
        if cfg.metrics or cfg.accumulate != 1:
            raise ArtforgeError(f"--metrics and --accumulate are for the generative models, not {cfg.model}")
        trainer, summary, meta = training.build_stylizer(cfg, procs)
    else:
        ds, images, labels = training.open_data(cfg)
        if cfg.metrics:  # checked before the run dir exists: too few images for FID is an error now, not at kimg K
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


def model_names() -> list[str]:
    """The ``--model`` names of ``artforge train``: every family in the registry."""
    return list(registry.FAMILIES)


def list_runs(root: str | os.PathLike[str] = "runs") -> list[dict[str, Any]]:
    """Trained generator runs (gan, dcgan, vae, stylegan2) directly under ``root`` that hold a checkpoint:
    ``[{name, model, path, checkpoint, conditional}]``, by name; stylisers are in :func:`list_models`."""
    base = Path(root)
    rows: list[dict[str, Any]] = []
    for run in sorted(base.iterdir()) if base.is_dir() else []:
        if not (run / "config.json").is_file():
            continue
        try:
            cfg = training.load_run_config(run)
            if registry.family(cfg.model).is_stylizer:
                continue
            last = ckpt.latest(run)
        except (ArtforgeError, ValueError, OSError):  # a half-written or foreign folder is not a run to offer
            continue
        rows.append(
            {"name": run.name, "model": cfg.model, "path": str(run.resolve()), "checkpoint": last.name,
             "conditional": bool(cfg.conditional)}
        )  # fmt: skip
    return rows


def sample(run: str | os.PathLike[str], **options: Any) -> list[Path]:
    """Images from a trained run (see ``artforge sample --help`` for the options); returns the files written."""
    return run_sampling(run, **options)


def evaluate(run: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """Likelihood metrics of a trained VAE run: test_elbo_nats, iwae_nll_nats, bits_per_dim."""
    return evaluate_run(run, **options)


def compare(
    reference: str | None, judged: str, metrics: str = "fid", backbone: str = "inception", **options: Any
) -> dict[str, Any]:
    """FID / KID / IS / precision-recall of image folder ``judged`` against ``reference`` (a folder
    or, for FID, a statistics ``.npz``); ``reference=None`` for IS alone."""
    return _compare(reference, judged, metrics, backbone, **options)


def stylization_metrics(output: str, content: str, style: str, **options: Any) -> dict[str, Any]:
    """Quality measures of a stylised image against its content and style images: the content and Gram style
    losses (artforge's VGG16, default Gatys layers), SSIM and gradient correlation on luminance, the mean/std style
    loss, the colour-histogram distance, contrast and colourfulness retention; ``better`` says which way each
    improves (docs/metrics.md)."""
    return _stylization(output, content, style, **options)


def fast_precision(device: str = "auto") -> str:
    """``bf16`` where the device computes it natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), else
    ``fp32``: the faster ``precision`` for a feed-forward styliser there."""
    return "bf16" if native_bf16(device) else "fp32"


def load_stylizer(model: str | os.PathLike[str], device: str = "auto") -> StylizerLike:
    """A feed-forward styliser by name (``artforge models``), run dir, checkpoint, model file or .onnx."""
    return stylizers.load(model, resolve_device(device))


def stylize_with_model(
    inputs: str | Sequence[str],
    output: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str] | StylizerLike,
    *,
    styles: Sequence[str] = (),
    masks: Sequence[str] = (),
    device: str = "auto",
    progress: bool = False,
    **options: Any,
) -> list[Path]:
    """Stylise image files, folders or globs with a trained network (Johnson, GAN-style or AdaIN): ``model`` is a
    name, path or a styliser from :func:`load_stylizer` (loaded once, kept by the caller); ``output`` a file, a
    folder, or a list of files (one per input, in order); ``options``:
    :class:`artforge.feedforward.files.ModelOptions` fields (size, strength, preserve_color, alpha, batch).
    Images of one size run as one batch (``batch`` at a time); each AdaIN style is encoded once."""
    dev = resolve_device(device)
    stylizer = load_stylizer(model, str(dev)) if isinstance(model, (str, os.PathLike)) else model
    specs = [inputs] if isinstance(inputs, str) else list(inputs)
    out = os.fspath(output) if isinstance(output, (str, os.PathLike)) else [Path(o) for o in output]
    return stylize_files(stylizer, specs, out, ModelOptions(**options), styles, masks, dev, progress)


def list_models(root: str = "runs") -> list[dict[str, Any]]:
    """Shipped models and trained styliser runs under ``root``: ``[{name, kind, source, path, description}]``."""
    return stylizers.list_models(root)


def sample_paintings() -> dict[str, Path]:
    """The bundled paintings (``sample:NAME`` styles): name -> image file."""
    return {name: samples.painting_path(name) for name in samples.PAINTINGS}


def list_weights() -> list[dict[str, Any]]:
    """VGG weight sources: ``[{name, ready, description, how, default}]``; ``how``: where it is or how to get it."""
    return [
        {
            "name": src.name,
            "ready": ok,
            "description": src.description,
            "how": how,
            "default": src.name == DEFAULT_WEIGHTS,
        }
        for src, ok, how in weights.available()
    ]


def fetch_weights(name: str | None = None, progress: bool = True) -> Path:
    """Convert (offline) or download VGG weights ``name`` (default ``vgg16-hed``) into the cache; returns the file."""
    return weights.fetch(name or DEFAULT_WEIGHTS, progress=progress)


def export_model(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fp16: bool = True,
    opset: int | None = None,
    exporter: str = "dynamo",
) -> dict[str, Any]:
    """A styliser (name, run, checkpoint or model file) as ``.onnx`` (checked in onnxruntime against PyTorch) or as a
    small ``.safetensors`` model file; an image generator's run or checkpoint (stylegan2, dcgan, gan) as ``.onnx``
    (inputs z, c if conditional, psi for stylegan2; images in [0, 1]). Returns ``{path, kind, name, opset?,
    max_abs_diff?, tolerance?}`` (generators: also ``exporter``)."""
    generator_ckpt = export_generator.generator_checkpoint(source)
    if generator_ckpt is not None:
        return export_generator.export_file(generator_ckpt, output, opset=opset, dynamo=exporter == "dynamo")
    return export.export_file(source, output, fp16=fp16, opset=opset, dynamo=exporter == "dynamo")


def stylize_video(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    device: str = "auto",
    **options: Any,
) -> Path:
    """A video through a feed-forward styliser with temporal blending (see ``artforge video --help``)."""
    return _video(input, output, model, device=resolve_device(device), **options)


def list_datasets() -> list[dict[str, Any]]:
    """Data sets ``artforge data fetch`` gets: ``[{name, description, ready, path, debian, how}]``; ``how``: where
    it is, or how to get it."""
    return catalog.list_datasets()


def fetch_dataset(name: str, progress: bool = True) -> Path:
    """Install (Debian package, as root or with passwordless sudo) or download (sha256-checked) the data set ``name``
    (fashion-mnist, mnist, cifar10) unless present; returns its folder."""
    return catalog.fetch(name, progress=progress)


def project(
    run: str | os.PathLike[str],
    target: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    steps: int = 1000,
    w_plus: bool = False,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    callback: Callable[[int, int, float], bool] | None = None,
) -> dict[str, Any]:
    """Find the w (one for all layers, or one per layer with ``w_plus``) and noise maps with which a stylegan2 run
    best reproduces the image ``target`` (Karras et al. 2020, sec. 5), and write ``outdir``/projected.png, target.png,
    w.npz and progress.mp4 (.gif without the video extra). Ctrl-C, or ``callback(steps done, steps, best
    distance)`` returning True after a step, keeps the best so far (``interrupted`` is then True). Returns
    ``{outdir, projected, target, w, video, distance, start_distance, psnr, steps, steps_done, interrupted,
    checkpoint}``."""
    return run_projection(
        run, target, outdir, steps=steps, w_plus=w_plus, seed=seed, device=device, progress=progress, callback=callback
    )
