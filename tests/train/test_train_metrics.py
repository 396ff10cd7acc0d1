"""Metrics during training (`artforge train --metrics fid --metrics-every K`): logged values equal an independent
`artforge.metrics` evaluation of the saved checkpoint, best.safetensors is the best entry, and neither the training
steps nor exact resume change. Real Fashion-MNIST, a tiny DCGAN, a tiny fixed feature network as the backbone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from artforge import api
from artforge.cli.main import main
from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.families.config import TrainConfig
from artforge.metrics import backbones

TINY: dict[str, Any] = dict(model="dcgan", data="fashion-mnist", max_images=256, batch=32, width=8, tick_kimg=0.064)
SAMPLES = 64  # generated images per evaluation; the 4x4-pooled backbone has 16-d features, so FID is full-rank


class PooledPixels(nn.Module):
    """A stand-in backbone: 4x4 average-pooled grey levels (16-d) and fixed random logits over 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Parameter(torch.randn(16, 10, generator=torch.Generator().manual_seed(0)), requires_grad=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = F.adaptive_avg_pool2d(x.mean(dim=1, keepdim=True) / 255, 4).flatten(1)  # [N, 16]
        return f, (f - 0.25) @ self.head * 10


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    spec = backbones.BackboneSpec("pooled", 28, 16, True, "test", lambda w, d, p: PooledPixels(), lambda w: "pooled-1")
    monkeypatch.setitem(backbones.BACKBONES, "pooled", spec)
    return "pooled"


def rows(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def metric_rows(run: Path) -> list[dict[str, float]]:
    return [r for r in rows(run) if "metrics/fid" in r]


def train(out: Path, backbone: str, **kw: Any) -> Path:
    opts = dict(TINY, metrics=["fid", "kid"], metrics_every=0.128, metrics_samples=SAMPLES, metrics_backbone=backbone)
    return api.train(out=out, progress=False, **{**opts, **kw}).parent


def test_cli_logs_metrics_that_an_independent_evaluation_reproduces(
    pooled: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--model", "dcgan", "--data", "fashion-mnist", "--max-images", "256", "--batch", "32",
            "--width", "8", "--lr", "2e-3", "--kimg", "0.64", "--snap", "0.256", "--tick", "0.064", "--keep", "10",
            "--metrics", "fid,kid", "--metrics-every", "0.128", "--metrics-samples", str(SAMPLES),
            "--metrics-backbone", pooled, "--out", str(tmp_path / "runs"), "-q"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    run = next((tmp_path / "runs").glob("0*"))
    found = metric_rows(run)
    # every 0.128 kimg = 4 steps, off the 8-step snapshots too (those steps get a checkpoint), and at the end
    assert [r["step"] for r in found] == [4, 8, 12, 16, 20]
    assert [r["kimg"] for r in found] == pytest.approx([0.128, 0.256, 0.384, 0.512, 0.64])
    assert [p.name for p in ckpt.checkpoints(run)] == [f"checkpoint-{s:08d}.safetensors" for s in (4, 8, 12, 16, 20)]
    fids = [r["metrics/fid"] for r in found]
    assert len(set(fids)) == 5 and all(f > 0 for f in fids)
    # each logged value is exactly what artforge.metrics says about that checkpoint
    for r in found:
        path = run / f"checkpoint-{int(r['step']):08d}.safetensors"
        ref = api.evaluate(path, metrics="fid,kid", data="fashion-mnist", n=SAMPLES, backbone=pooled, progress=False)
        assert ref["real_images"] == SAMPLES
        assert (r["metrics/fid"], r["metrics/kid"]) == (ref["fid"], ref["kid"])
    # best.safetensors is the checkpoint of the lowest FID, its value and kimg logged alongside
    i = int(np.argmin(fids))
    best_tensors, best_meta = ckpt.load(run / "best.safetensors")
    assert best_meta["best"]["value"] == fids[i] and best_meta["best"]["step"] == found[i]["step"]
    assert best_meta["best"]["metric"] == "fid" and best_meta["best"]["samples"] == SAMPLES
    src = ckpt.load(run / f"checkpoint-{int(found[i]['step']):08d}.safetensors")[0]
    assert best_tensors.keys() == src.keys() and all(torch.equal(best_tensors[k], src[k]) for k in src)
    assert [r["metrics/best_fid"] for r in found] == pytest.approx(np.minimum.accumulate(fids).tolist(), rel=0)
    assert found[-1]["metrics/best_kimg"] == found[i]["kimg"]
    again = api.evaluate(run / "best.safetensors", metrics="fid", data="fashion-mnist", n=SAMPLES, backbone=pooled,
                         progress=False)  # fmt: skip
    assert again["fid"] == fids[i]
    # TensorBoard has the same series
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    tb = acc.Scalars("metrics/fid")
    assert [e.step for e in tb] == [4, 8, 12, 16, 20]
    assert [e.value for e in tb] == pytest.approx(fids, rel=1e-6)
    assert "metrics/best_fid" in acc.Tags()["scalars"]


def test_metrics_neither_change_training_nor_break_exact_resume(pooled: str, tmp_path: Path) -> None:
    kw: dict[str, Any] = dict(lr=2e-3, snap_kimg=0.256, keep=10, seed=5)  # seed 5: loading a checkpoint seeds 0
    full = train(tmp_path / "full", pooled, kimg=0.512, **kw)
    plain = api.train(out=tmp_path / "plain", progress=False, kimg=0.512, **TINY, **kw).parent
    # the same steps, bit for bit, down to the stored global RNG state, with and without metrics
    a, b = ckpt.load(ckpt.latest(full))[0], ckpt.load(ckpt.latest(plain))[0]
    assert "rng.torch" in a and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    # half the run, then resumed to the end: same weights, same metric values, same best
    half = train(tmp_path / "half", pooled, kimg=0.256, **kw)
    assert (half / "best.safetensors").is_file()
    api.train(resume=half, kimg=0.512, progress=False)
    c = ckpt.load(ckpt.latest(half))[0]
    assert all(torch.equal(a[k], c[k]) for k in a)
    key = lambda r: (r["step"], r["metrics/fid"], r["metrics/kid"], r["metrics/best_fid"], r["metrics/best_kimg"])  # noqa: E731
    assert [key(r) for r in metric_rows(half)] == [key(r) for r in metric_rows(full)]
    best_full, meta_full = ckpt.load(full / "best.safetensors")
    best_half, meta_half = ckpt.load(half / "best.safetensors")
    assert meta_full["best"] == meta_half["best"]
    assert all(torch.equal(best_full[k], best_half[k]) for k in best_full)


def test_best_is_kept_when_a_later_evaluation_is_worse(pooled: str, tmp_path: Path) -> None:
    from artforge.train.build import open_data
    from artforge.train.metrics_hook import MetricsHook

    run = train(tmp_path / "r", pooled, kimg=0.256, snap_kimg=0.128, keep=10, metrics=["is"])
    cfg = TrainConfig.load(run / "config.json")
    early, late = ckpt.checkpoints(run)
    scores = {}
    for p in (early, late):
        scores[p] = api.evaluate(p, metrics="is", data="fashion-mnist", n=SAMPLES, backbone=pooled, progress=False)
    hi, lo = sorted((early, late), key=lambda p: -scores[p]["is"])  # IS: higher is better
    assert scores[hi]["is"] > scores[lo]["is"]
    (run / "best.safetensors").unlink()
    images = open_data(cfg)[1]
    hook = MetricsHook(cfg, images, torch.device("cpu"), progress=False)
    first, second = hook(hi), hook(lo)
    assert first["metrics/is"] == scores[hi]["is"] and second["metrics/is"] == scores[lo]["is"]
    assert second["metrics/best_is"] == first["metrics/is"]
    assert ckpt.load(run / "best.safetensors")[1]["step"] == ckpt.load(hi)[1]["step"]
    # a resumed run's hook picks the best up from best.safetensors
    assert (
        MetricsHook(cfg, open_data(cfg)[1], torch.device("cpu"), progress=False)(lo)["metrics/best_is"]
        == (first["metrics/is"])
    )


def test_bad_metric_settings_are_one_line_errors_before_a_run_dir_exists(pooled: str, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    cases = [
        (dict(metrics=["fid"], metrics_samples=16), "needs more than 16 real and generated images"),
        (dict(metrics=["fid"], max_images=12, batch=4), "this run has 12 real"),
        (dict(metrics=["sharpness"]), "unknown metric 'sharpness'"),
        (dict(metrics=["pr", "fid"]), "put fid, kid or is before pr"),
        (dict(metrics=["is"], metrics_backbone="vgg16"), "needs a classifier"),
        (dict(metrics=["fid"], metrics_backbone="resnet"), "unknown backbone 'resnet'"),
        (dict(metrics=["fid"], metrics_every=0.0), "--metrics-every must be > 0"),
    ]
    for kw, message in cases:
        opts = {**TINY, "metrics_backbone": pooled, "metrics_samples": SAMPLES, **kw}
        with pytest.raises(ArtforgeError, match=message):
            api.train(out=out, progress=False, kimg=0.032, **opts)
    assert not out.exists()


def test_configs_without_metric_keys_still_load() -> None:
    old = {k: v for k, v in TrainConfig().to_dict().items() if not k.startswith("metrics")}
    cfg = TrainConfig.from_dict(old)
    assert cfg.metrics == [] and cfg.metrics_every is None and cfg.metrics_samples == 10_000
    assert cfg.metrics_backbone == "inception"
    with pytest.raises(ArtforgeError, match="metrics_samples"):
        TrainConfig.from_dict({**old, "metrics_samples": "many"})
