"""Training statistics: per-key means that reset on read; stats.jsonl and TensorBoard events read back
(the real SummaryWriter, read with TensorBoard's own EventAccumulator); img/s over a tick."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge.train import stats as stats_module
from artforge.train.stats import Clock, Logger, Stats


def test_stats_are_per_key_means_and_reading_clears_them() -> None:
    s = Stats()
    assert s.read() == {}
    for v in (1.0, 2.0, 6.0):
        s.add("loss/G", torch.tensor(v))
    s.add("loss/D", torch.tensor(0.5, dtype=torch.float64))
    w = torch.tensor(3.0, requires_grad=True)
    s.add("grad", w * 2)  # detached: no graph is kept
    got = s.read()
    assert got == {"loss/G": 3.0, "loss/D": 0.5, "grad": 6.0}
    assert s.read() == {}  # cleared
    s.add("loss/G", torch.tensor(4))
    assert s.read() == {"loss/G": 4.0}  # a fresh mean after a read


def test_stats_keep_their_own_copy_of_the_first_value() -> None:
    s = Stats()
    v = torch.tensor(2.0)
    s.add("x", v)
    v += 10  # the caller reuses its tensor
    s.add("x", torch.tensor(4.0))
    assert s.read() == {"x": 3.0}


def test_logger_writes_stats_jsonl_and_tensorboard_scalars_and_images(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = Logger(tmp_path, enabled=True)
    log.scalars(0, {"loss/G": 1.5})
    log.scalars(10, {"loss/G": 0.5, "img_s": 250.0})
    pixels = torch.arange(3 * 4 * 5).reshape(3, 4, 5) * 4  # uint8 levels 0..236
    log.image("samples", (pixels.float() + 0.5) / 255, 10)  # mid-level, so x255 truncates to the level
    log.close()

    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert lines == [{"step": 0, "loss/G": 1.5}, {"step": 10, "loss/G": 0.5, "img_s": 250.0}]

    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == {"loss/G", "img_s"}
    assert [(e.step, e.value) for e in acc.Scalars("loss/G")] == [(0, 1.5), (10, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("img_s")] == [(10, 250.0)]
    (event,) = acc.Images("samples")
    assert (event.step, event.width, event.height) == (10, 5, 4)
    img = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
    assert np.array_equal(img, pixels.permute(1, 2, 0).numpy().astype(np.uint8))


def test_a_disabled_logger_writes_nothing(tmp_path: Path) -> None:
    log = Logger(tmp_path, enabled=False)
    log.scalars(0, {"loss": 1.0})
    log.image("samples", torch.zeros(3, 2, 2), 0)
    log.close()
    assert list(tmp_path.iterdir()) == []


def test_clock_rate_is_images_over_the_seconds_since_the_last_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    now = iter([100.0, 102.0, 102.5])  # a fake clock: no real time is measured
    monkeypatch.setattr(stats_module.time, "perf_counter", lambda: next(now))
    clock = Clock()
    assert clock.rate(500) == 250.0  # 500 images in 2 s
    assert clock.rate(100) == 200.0  # the next tick starts where the last ended: 100 in 0.5 s
