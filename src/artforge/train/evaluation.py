"""Evaluating a run: a VAE's test ELBO and IWAE bound (Burda et al. 2016); sample quality via artforge.metrics."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from tqdm import tqdm

from artforge.core import checkpoint as ckpt
from artforge.core.device import resolve_device
from artforge.core.errors import ArtforgeError
from artforge.data.datasets import held_out_split, open_dataset
from artforge.families.config import TrainConfig
from artforge.metrics import stats
from artforge.metrics.backbones import Backbone
from artforge.metrics.features import array_features
from artforge.metrics.report import DEFAULT_SAMPLES, Options, Side, check_sides, is_stats, parse_metrics, values
from artforge.objectives.likelihood import bits_per_dim, elbo, iwae_nll
from artforge.train.build import model_from_checkpoint, open_data
from artforge.train.ppl import run_ppl
from artforge.train.sampling import generate_uint8


@torch.no_grad()
def evaluate_run(
    run: str | os.PathLike[str], k: int = 100, max_images: int | None = None, seed: int = 0, device: str = "auto",
    batch: int = 100, progress: bool = True, *, metrics: str | Sequence[str] | None = None, data: str | None = None,
    **metric_options: Any,
) -> dict[str, Any]:  # fmt: skip
    """A VAE's test-set ELBO and IWAE NLL (nats per image) and bits/dim; with ``metrics`` (fid, kid, is, pr; ppl for
    stylegan2 runs, which needs no data), the
    sample quality of any run against the data set ``data`` (:func:`run_metrics`, which
    takes ``metric_options``: n, backbone, weights, options, cache, ...)."""
    if metrics:
        names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
        result: dict[str, Any] = {}
        if "ppl" in names:  # needs no data set: path lengths of the generator alone
            names = [m for m in names if m != "ppl"]
            result.update(
                run_ppl(
                    run, n=metric_options.get("n"), seed=seed, device=device, batch=min(batch, 32), progress=progress
                )
            )
            if not names:
                return result
        options = metric_options.pop("options", None) or Options(seed=seed)
        return result | run_metrics(
            run, data, names, max_images=max_images, options=options, device=device, batch=batch,
            progress=progress, **metric_options,
        )  # fmt: skip
    extra = sorted({*metric_options, *(["data"] if data else [])})
    if extra:
        raise ArtforgeError(f"{', '.join(extra)}: only used with --metrics (fid, kid, is, pr)")
    dev = resolve_device(device)
    path = ckpt.latest(run)
    net, cfg, meta, fam = model_from_checkpoint(path, dev)
    if fam.trainer != "vae":
        raise ArtforgeError(
            f"{path}: a {cfg.model}, which has no likelihood; for sample quality use --metrics fid,kid --data D"
        )
    split = held_out_split(cfg.data)
    tcfg = TrainConfig.from_dict({**cfg.to_dict(), "mirror": False, "max_images": max_images})
    ds, images, labels = open_data(tcfg, split=split)
    torch.manual_seed(seed)
    dims = images[0].numel()
    sum_elbo = sum_nll = 0.0
    for i in tqdm(range(0, len(images), batch), desc="eval", unit="batch", disable=not progress):
        x = images[i : i + batch].to(dev).float() / 255
        c = labels[i : i + batch].to(dev) if labels is not None else None
        sum_elbo += float(elbo(net, x, c)[0].sum())  # type: ignore[arg-type]
        sum_nll += float(iwae_nll(net, x, c, k=k).sum())  # type: ignore[arg-type]
    n = len(images)
    nll = sum_nll / n
    return {
        "checkpoint": str(path), "split": split, "images": n, "k": k, "likelihood": getattr(net, "likelihood", None),
        "test_elbo_nats": sum_elbo / n, "iwae_nll_nats": nll,
        "bits_per_dim": float(bits_per_dim(torch.tensor(nll), dims)),
        "elbo_bits_per_dim": -sum_elbo / n / (dims * math.log(2)),
    }  # fmt: skip


def run_metrics(
    run: str | os.PathLike[str], data: str | None, metrics: str | Sequence[str] = "fid", backbone: str = "inception",
    *, n: int | None = None, max_images: int | None = None, weights: str | None = None, options: Options | None = None,
    device: str = "auto", batch: int = 32, cache: bool = True, download: bool = True, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Metrics of ``n`` samples of a run's generator (G_ema, or the VAE decoder's mean) against the data set ``data``
    (any ``open_dataset`` spec, decoded at the run's resolution and channels, first ``max_images`` images; or an
    ``.npz`` of FID statistics). Samples are quantised to uint8 like saved images; the seed fixes them."""
    if not data:
        raise ArtforgeError("--metrics on a run needs --data D, the images its samples are compared with")
    if n is not None and n < 2:
        raise ArtforgeError(f"--n must be at least 2, got {n}")
    names = parse_metrics(metrics)
    opts = options or Options()
    net = Backbone(backbone, weights, device, download, progress)
    check_sides(names, net, is_stats(data), False)
    dev = resolve_device(device)
    path = ckpt.latest(run)
    gen, cfg, meta, fam = model_from_checkpoint(path, dev)
    shapes = meta["shapes"]
    if is_stats(data):
        real = Side(data, mu_sigma=stats.load_stats(data))
    else:
        limit = max_images or n or DEFAULT_SAMPLES
        ds = open_dataset(data, int(shapes["resolution"]), channels=int(shapes["channels"]), max_images=limit)
        images = ds.tensors()[0].numpy()
        real = Side(data, features=array_features(images, net, name=data, batch=batch, progress=progress, cache=cache))
    count = n or (len(real.features.features) if real.features is not None else DEFAULT_SAMPLES)
    samples = generate_uint8(gen, fam, cfg, int(shapes.get("num_classes", 0)), count, opts.seed, dev, batch)
    fake = Side("samples", features=array_features(samples, net, name="samples", batch=batch, progress=progress))
    result: dict[str, Any] = {
        "checkpoint": str(path), "data": data, "backbone": net.spec.name, "weights": net.tag, "samples": count,
        "seed": opts.seed, "real_images": None if real.features is None else len(real.features.features),
    }  # fmt: skip
    result.update(values(names, real, fake, opts))
    return result
