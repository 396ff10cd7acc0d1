"""Sample quality while training: FID (Heusel et al. 2017) / KID / IS / P-R of the snapshot against its training data.

**When.** Every ``metrics_every`` kimg (default: at every snapshot) and at the end of training. An evaluation always
falls on a snapshot: the loop writes one at that step if it is not a snapshot step anyway, because what is measured
is the checkpoint just written, loaded back from disk (G_ema with its standing BatchNorm statistics, or the VAE's
decoder mean). A Ctrl-C snapshot is not evaluated.

**What.** ``metrics_samples`` (N) generated images against the first ``min(N, data set size)`` training images (in
data set order, before mirroring), through :mod:`artforge.metrics.report`: samples quantised to uint8 as if saved,
clean-fid resizing, the same seed-0 latents at every evaluation, real features computed once (and cached on disk).
The value is therefore exactly what ``artforge eval RUN/best.safetensors --metrics M --data D --n N --max-images
min(N, data set size) --backbone B`` reports for the same checkpoint.

**Best.** The first metric ranks checkpoints (lower FID / KID, higher IS). A better value copies the checkpoint to
``RUN/best.safetensors`` (atomic; its metadata gains ``best``: metric, value, step, kimg, samples, backbone), and every
evaluation logs ``metrics/<name>``, ``metrics/best_<metric>``, ``metrics/best_kimg`` and ``metrics/seconds`` to
stats.jsonl and TensorBoard. A resumed run continues from the best recorded in that file.

**RNG.** Nothing here draws from the training RNGs: latents come from a private generator, and the global torch
RNG state (which building networks and loading a checkpoint re-seed or consume) is saved and restored around each
evaluation, so a run with metrics takes the same steps, bit for bit, as one without.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.families.config import TrainConfig
from artforge.metrics.backbones import Backbone, get_spec
from artforge.metrics.features import array_features
from artforge.metrics.report import Options, Side, parse_metrics, values
from artforge.train.build import model_from_checkpoint
from artforge.train.loop import every
from artforge.train.sampling import generate_uint8

BATCH = 32  # images per forward pass, generator and backbone: `artforge eval`'s default, so the values agree
RANKING = {"fid": ("fid", False), "kid": ("kid", False), "is": ("is", True)}  # metric -> (value, higher is better)


def check_metrics(cfg: TrainConfig) -> None:
    """--metrics names, a first metric that ranks checkpoints, and a backbone that computes them all."""
    if not cfg.metrics:
        return
    names = parse_metrics(cfg.metrics)
    if names[0] == "pr":
        raise ArtforgeError("--metrics: the first metric picks best.safetensors; put fid, kid or is before pr")
    spec = get_spec(cfg.metrics_backbone)
    if "is" in names and not spec.has_logits:
        raise ArtforgeError(f"--metrics is needs a classifier, which --metrics-backbone {spec.name} lacks")


@dataclass(frozen=True)
class Best:
    """The best evaluation so far: its value and where it was taken."""

    value: float
    step: int
    kimg: float


class MetricsHook:
    """Called by :func:`artforge.train.loop.fit` with each checkpoint due for evaluation; returns scalars to log."""

    def __init__(
        self, cfg: TrainConfig, images: torch.Tensor, device: torch.device, progress: bool = True, load: bool = True
    ) -> None:
        """``images``: the training set as decoded, uint8 ``[N, C, R, R]`` (mirrored copies, if any, at the end).
        ``load`` builds the backbone now, so that missing weights stop the run before it trains, not at kimg K."""
        self.names = parse_metrics(cfg.metrics)
        self.value_key, self.higher_better = RANKING[self.names[0]]
        self.samples = cfg.metrics_samples
        self.backbone = Backbone(
            cfg.metrics_backbone, cfg.metrics_weights, str(device), download=True, progress=progress
        )
        self.device, self.progress = device, progress
        base = len(images) // 2 if cfg.mirror else len(images)
        self.real_images = images[: min(self.samples, base)]
        n, dim = min(len(self.real_images), self.samples), self.backbone.spec.dim
        if "fid" in self.names and n <= dim:
            raise ArtforgeError(
                f"--metrics fid with --metrics-backbone {self.backbone.spec.name} ({dim}-d features) needs more than "
                f"{dim} real and generated images, and this run has {len(self.real_images)} real and "
                f"{self.samples} generated; raise --metrics-samples, use a larger data set, or use --metrics kid"
            )
        self.every = every(cfg.metrics_every or cfg.snap_kimg, cfg.batch)
        if load:
            with torch.random.fork_rng(devices=self._cuda()):
                self.backbone.net  # noqa: B018
        self._real: Any = None  # report.Side of the real images, on first use
        self._best: Best | None = None
        self._best_read = False

    def due(self, step: int, final: bool) -> bool:
        return final or step % self.every == 0

    def __call__(self, checkpoint: Path) -> dict[str, float]:
        """Measure ``checkpoint``, update ``best.safetensors``; the scalars to log at its step."""
        start = time.perf_counter()
        with torch.random.fork_rng(devices=self._cuda()):
            values, meta = self._measure(checkpoint)
        step, kimg = int(meta["step"]), float(meta["kimg"])
        value = values[self.value_key]
        best = self._previous_best(checkpoint.parent / "best.safetensors")
        if best is None or (value > best.value if self.higher_better else value < best.value):
            best = Best(value, step, kimg)
            self._save_best(checkpoint, best)
        self._best = best
        out = {f"metrics/{k}": v for k, v in values.items()}
        out[f"metrics/best_{self.value_key}"] = best.value
        out["metrics/best_kimg"] = best.kimg
        out["metrics/seconds"] = time.perf_counter() - start
        return out

    # ------------------------------------------------------------ parts

    def _cuda(self) -> list[int]:
        return [self.device.index or 0] if self.device.type == "cuda" else []

    def _measure(self, checkpoint: Path) -> tuple[dict[str, float], dict[str, Any]]:
        """The metric values of the checkpoint's sampling network, as ``report.run_metrics`` computes them."""
        opts = Options()
        if self._real is None:
            real = self.real_images.cpu().numpy()
            feats = array_features(real, self.backbone, name="training data", batch=BATCH, progress=self.progress,
                                   cache=True)  # fmt: skip
            self._real = Side("training data", features=feats)
        net, cfg, meta, fam = model_from_checkpoint(checkpoint, self.device)
        num_classes = int(meta["shapes"].get("num_classes", 0))
        samples = generate_uint8(net, fam, cfg, num_classes, self.samples, opts.seed, self.device, BATCH)
        fake = array_features(samples, self.backbone, name="samples", batch=BATCH, progress=self.progress)
        return values(self.names, self._real, Side("samples", features=fake), opts), meta

    def _previous_best(self, path: Path) -> Best | None:
        """This run's best so far: in memory, or (after a resume) from ``best.safetensors`` if it ranks the same way."""
        if self._best is not None or self._best_read:
            return self._best
        self._best_read = True
        if not path.is_file():
            return None
        record = ckpt.load(path)[1].get("best") or {}
        same = (record.get("metric"), record.get("samples"), record.get("backbone")) == (
            self.value_key, self.samples, self.backbone.tag,
        )  # fmt: skip
        return Best(float(record["value"]), int(record["step"]), float(record["kimg"])) if same else None

    def _save_best(self, checkpoint: Path, best: Best) -> None:
        tensors, meta = ckpt.load(checkpoint)
        record = {
            "metric": self.value_key, "value": best.value, "step": best.step, "kimg": best.kimg,
            "samples": self.samples, "real_images": len(self.real_images), "backbone": self.backbone.tag,
        }  # fmt: skip
        ckpt.save(checkpoint.parent / "best.safetensors", tensors, {**meta, "best": record})
