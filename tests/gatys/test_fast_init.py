"""``--init fast[:MODEL]``: a feed-forward first guess refined by the finest pyramid levels (shipped models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.core.errors import ArtforgeError
from artforge.data import samples
from artforge.data.images import resize_long, to_tensor
from artforge.feedforward.first_guess import DEFAULT_MODEL, fast_model, first_guess, load_for_init
from artforge.gatys.config import StylizeConfig
from artforge.gatys.pyramid import Level, build_level, refine_schedule, schedule
from artforge.nn.weights import encoder_for


def test_fast_model_names() -> None:
    assert fast_model("fast") == DEFAULT_MODEL
    assert fast_model("fast:adain-wesnoth-tiny") == "adain-wesnoth-tiny"
    assert fast_model("content") is None and fast_model("noise") is None and fast_model("x.png") is None
    with pytest.raises(ArtforgeError, match="artforge models"):
        fast_model("fast:")


def test_refine_schedule_is_the_two_finest_levels_at_half_the_iterations() -> None:
    assert schedule(512, 50, None, 128)[-2:] == [Level(256, 100), Level(512, 50)]
    assert refine_schedule(512, 50, None, 128) == [Level(256, 50), Level(512, 25)]
    assert refine_schedule(100, 10, None, 128) == [Level(100, 5)]  # no pyramid: one level
    assert refine_schedule(512, 1, 1, 128) == [Level(512, 1)]  # never zero


def test_unknown_model_and_a_per_style_model_for_another_style_get_one_line(cache_env: Path) -> None:
    with pytest.raises(ArtforgeError, match=r"no such model; see `artforge models`") as e:
        load_for_init("no-such-model", ["sample:swamp"], torch.device("cpu"))
    assert "\n" not in str(e.value)
    with pytest.raises(ArtforgeError, match=r"per-style model for sample:mountains.*`artforge models`") as e:
        load_for_init("johnson-mountains", ["sample:swamp"], torch.device("cpu"))
    assert "\n" not in str(e.value)
    # Its own style is accepted, by sample name or as the same file.
    assert load_for_init("johnson-mountains", ["sample:mountains"], torch.device("cpu")).kind == "johnson"
    path = str(samples.painting_path("mountains"))
    assert load_for_init("johnson-mountains", [path], torch.device("cpu")).kind == "johnson"
    with pytest.raises(ArtforgeError, match="fast:johnson-mountains"):
        api.stylize("sample:astronaut", "sample:swamp", size=64, iterations=1, init="fast:johnson-mountains")


def test_a_style_too_small_for_adain_gets_one_line(cache_env: Path) -> None:
    net = load_for_init("adain-wesnoth-tiny", [], torch.device("cpu"))
    thin = Image.new("RGB", (512, 40), (120, 30, 200))  # 40 px short side at 512 px long
    with pytest.raises(ArtforgeError, match="too small for AdaIN") as e:
        first_guess(net, Image.new("RGB", (64, 64)), [thin], 64)
    assert "\n" not in str(e.value)


def test_first_guess_is_the_models_own_picture(cache_env: Path) -> None:
    """The first guess equals the shipped network's output on the same tensors (AdaIN and per-style)."""
    content = samples.open_image("sample:astronaut", "content")
    style = samples.open_image("sample:swamp", "style")
    net = load_for_init("adain-wesnoth-tiny", [], torch.device("cpu"))
    got = to_tensor(first_guess(net, content, [style], 96))
    with torch.no_grad():
        want = net(to_tensor(resize_long(content, 96)), [to_tensor(resize_long(style, 512))])
    assert got.shape == want.shape == (1, 3, 96, 96)
    assert (got - want).abs().max() <= 1 / 255 + 1e-6  # 8-bit rounding only
    johnson = load_for_init("johnson-mountains", ["sample:mountains"], torch.device("cpu"))
    got = to_tensor(first_guess(johnson, content, [], 80))
    with torch.no_grad():
        want = johnson(to_tensor(resize_long(content, 80)))
    assert (got - want).abs().max() <= 1 / 255 + 1e-6


def test_refinement_starts_from_the_first_guess_and_lowers_its_objective(cache_env: Path) -> None:
    content = samples.open_image("sample:astronaut", "content")
    style = samples.open_image("sample:mountains", "style")
    # No iterations at one scale: the result is the feed-forward picture itself.
    cfg = {"size": 64, "scales": 1, "init": "fast:adain-wesnoth-tiny", "device": "cpu"}
    start = api.stylize("sample:astronaut", "sample:mountains", iterations=0, **cfg)
    net = load_for_init("adain-wesnoth-tiny", [], torch.device("cpu"))
    want = first_guess(net, content, [style], 64)
    assert np.abs(np.asarray(start, np.int16) - np.asarray(want, np.int16)).max() <= 1
    # Refining lowers the Gatys objective of that picture.
    refined = api.stylize("sample:astronaut", "sample:mountains", iterations=10, **cfg)
    problem = build_level(encoder_for("vgg16-hed", "max", "cpu"), content, [style], StylizeConfig(size=64), 64)
    loss = problem.loss()
    with torch.no_grad():
        before = float(loss(to_tensor(start))[0])
        after = float(loss(to_tensor(refined))[0])
    assert after < 0.8 * before
