"""Evaluating a run: a VAE's test ELBO and IWAE bound (Burda et al. 2016); sample quality via artforge.metrics."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from tqdm import tqdm

from artforge.errors import ArtforgeError
from artforge.registry import MODELS


@torch.no_grad()
def evaluate_run(
    run: str | os.PathLike[str], k: int = 100, max_images: int | None = None, seed: int = 0, device: str = "auto",
    batch: int = 100, progress: bool = True, *, metrics: str | Sequence[str] | None = None, data: str | None = None,
    **metric_options: Any,
) -> dict[str, Any]:  # fmt: skip
    """A VAE's test-set ELBO and IWAE NLL (nats per image) and bits/dim; with ``metrics`` (fid, kid, is, pr), the
    sample quality of any run against the data set ``data`` (:func:`artforge.metrics.report.run_metrics`, which
    takes ``metric_options``: n, backbone, weights, options, cache, ...)."""
    if metrics:
        from artforge.metrics.report import Options, run_metrics

        options = metric_options.pop("options", None) or Options(seed=seed)
        return run_metrics(
            run, data, metrics, max_images=max_images, options=options, device=device, batch=batch,
            progress=progress, **metric_options,
        )  # fmt: skip
    extra = sorted({*metric_options, *(["data"] if data else [])})
    if extra:
        raise ArtforgeError(f"{', '.join(extra)}: only used with --metrics (fid, kid, is, pr)")
    from artforge import checkpoint as ckpt
    from artforge.api import resolve_device
    from artforge.config import TrainConfig
    from artforge.objectives.likelihood import bits_per_dim, elbo, iwae_nll
    from artforge.training import model_from_checkpoint, open_data

    dev = resolve_device(device)
    path = ckpt.latest(run)
    net, cfg, meta = model_from_checkpoint(path, dev)
    if MODELS[cfg.model].kind != "vae":
        raise ArtforgeError(
            f"{path}: a {cfg.model}, which has no likelihood; for sample quality use --metrics fid,kid --data D"
        )
    split = "test" if cfg.data.split(":")[0] in ("fashion-mnist", "mnist", "cifar10") else "train"
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
