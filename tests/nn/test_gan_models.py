"""MLP GAN and DCGAN: shapes at every resolution, the stride-2 plan, tanh range, conditioning, init, spectral norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from artforge.nn.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights, stage_plan
from artforge.nn.gan import MLPDiscriminator, MLPGenerator

RESOLUTIONS = (28, 32, 64, 128)
STAGES = {28: 2, 32: 3, 64: 4, 128: 5}
Z_DIM = 8


def _labels(num_classes: int) -> torch.Tensor | None:
    return torch.tensor([1, 3]) if num_classes else None


@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_generator_and_discriminator_shapes(family: str, resolution: int, channels: int, num_classes: int) -> None:
    torch.manual_seed(0)
    g: nn.Module
    d: nn.Module
    if family == "mlp":
        g = MLPGenerator(Z_DIM, resolution, channels, width=8, num_classes=num_classes)
        d = MLPDiscriminator(resolution, channels, width=8, num_classes=num_classes)
    else:
        g = DCGANGenerator(Z_DIM, resolution, channels, width=8, num_classes=num_classes)
        d = DCGANDiscriminator(resolution, channels, width=8, num_classes=num_classes)
    c = _labels(num_classes)
    x = g(torch.randn(2, Z_DIM), c)
    assert x.shape == (2, channels, resolution, resolution)
    assert x.min() >= -1.0 and x.max() <= 1.0
    logits = d(x, c)
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_conditioning_uses_the_labels(family: str) -> None:
    torch.manual_seed(0)
    res = 32
    g: nn.Module = MLPGenerator(Z_DIM, res, 1, 8, 10) if family == "mlp" else DCGANGenerator(Z_DIM, res, 1, 8, 10)
    d: nn.Module = MLPDiscriminator(res, 1, 8, 10) if family == "mlp" else DCGANDiscriminator(res, 1, 8, 10)
    g.eval()
    d.eval()
    z = torch.randn(2, Z_DIM)
    x = g(z, torch.tensor([0, 0]))
    assert not torch.allclose(x, g(z, torch.tensor([5, 5])))
    assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([5, 5])))
    with pytest.raises(ValueError, match="conditional"):
        g(z)
    with pytest.raises(ValueError, match="conditional"):
        d(x)
    with pytest.raises(ValueError, match="shape"):
        g(z, torch.tensor([1, 2, 3]))


def test_unconditional_models_take_no_labels_and_ignore_given_ones() -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(Z_DIM, 28, 1, 8).eval()
    d = MLPDiscriminator(28, 1, 8).eval()
    z = torch.randn(2, Z_DIM)
    x = g(z)
    assert torch.equal(x, g(z, torch.tensor([3, 4])))
    assert torch.equal(d(x), d(x, torch.tensor([3, 4])))


def test_mlp_gan_treats_every_sample_independently() -> None:
    # No batch norm: accumulation and data-parallel steps equal one big batch's step.
    torch.manual_seed(0)
    g, d = MLPGenerator(Z_DIM, 16, 1, 8, 3).train(), MLPDiscriminator(16, 1, 8, 3, spectral_norm=True).eval()
    z, c = torch.randn(4, Z_DIM), torch.tensor([0, 1, 2, 0])
    x = g(z, c)
    assert torch.allclose(x[:1], g(z[:1], c[:1]), atol=1e-6)
    assert torch.allclose(d(x, c)[:1], d(x[:1], c[:1]), atol=1e-6)


def _stride2(module: nn.Module, kind: type[nn.Module]) -> int:
    return sum(1 for m in module.modules() if isinstance(m, kind) and m.stride == (2, 2))


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_dcgan_stride2_stages_per_resolution(resolution: int) -> None:
    assert stage_plan(resolution) == (7 if resolution == 28 else 4, STAGES[resolution])
    g = DCGANGenerator(Z_DIM, resolution, 3, width=8)
    d = DCGANDiscriminator(resolution, 3, width=8)
    assert _stride2(g, nn.ConvTranspose2d) == STAGES[resolution]
    assert _stride2(d, nn.Conv2d) == STAGES[resolution]
    # The first map is 4x4 (7x7 at 28) with width 2^(n-1) channels; D's features end on the same map.
    first = g.net[0]
    assert isinstance(first, nn.ConvTranspose2d)
    assert first.out_channels == 8 * 2 ** (STAGES[resolution] - 1)
    h = d.features(torch.zeros(2, 3, resolution, resolution))
    s0 = 7 if resolution == 28 else 4
    assert h.shape == (2, first.out_channels, s0, s0)
    # Batch norm everywhere in G but the output; in D everywhere but the first layer.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == STAGES[resolution]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == STAGES[resolution] - 1


def test_bad_resolution_and_norm_are_rejected() -> None:
    with pytest.raises(ValueError, match="resolution"):
        DCGANGenerator(resolution=30)
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(32, norm="instance")


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_generator_output_is_squashed_into_minus_one_one(family: str) -> None:
    torch.manual_seed(0)
    g: nn.Module = MLPGenerator(Z_DIM, 28, 1, 8) if family == "mlp" else DCGANGenerator(Z_DIM, 28, 1, 8)
    last = [m for m in g.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.weight.mul_(1000.0)  # pre-activations far outside [-1, 1]
    x = g(torch.randn(4, Z_DIM))
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.abs().max() > 0.999


def test_discriminator_norm_options() -> None:
    for norm, kind in [("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)]:
        d = DCGANDiscriminator(32, 3, 8, norm=norm)
        assert sum(isinstance(m, kind) for m in d.modules()) == 2
    d = DCGANDiscriminator(32, 3, 8, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in d.modules())
    # Without batch norm each logit depends on its own image only (needed by WGAN-GP's per-sample penalty).
    torch.manual_seed(0)
    d = DCGANDiscriminator(32, 3, 8, norm="layer").train()
    x = torch.randn(3, 3, 32, 32)
    assert torch.allclose(d(x)[:1], d(x[:1]), atol=1e-6)


def test_dcgan_init_follows_the_paper() -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(resolution=32)  # default width 64: enough weights for tight statistics
    convs = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    bn = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert float(convs.mean().abs()) < 1e-3 and float(convs.std()) == pytest.approx(0.02, rel=0.02)
    assert float(bn.mean()) == pytest.approx(1.0, abs=0.01) and float(bn.std()) == pytest.approx(0.02, rel=0.2)
    # init_weights reaches the raw weight of a spectrally normalised conv.
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(64, 64, 4))
    init_weights(conv)
    raw = getattr(conv, "parametrizations")["weight"].original.detach()  # noqa: B009
    assert float(raw.std()) == pytest.approx(0.02, rel=0.05)


def _normalised(d: nn.Module) -> list[nn.Module]:
    return [m for m in d.modules() if nn.utils.parametrize.is_parametrized(m, "weight")]


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_spectral_norm_makes_every_weight_1_lipschitz(family: str) -> None:
    torch.manual_seed(0)
    sn: nn.Module = MLPDiscriminator(16, 3, 8, 4, True) if family == "mlp" else DCGANDiscriminator(16, 3, 8, 4, True)
    plain: nn.Module = MLPDiscriminator(16, 3, 8, 4) if family == "mlp" else DCGANDiscriminator(16, 3, 8, 4)
    sn.train()
    c = torch.tensor([0, 1, 2, 3])
    for _ in range(30):  # one power iteration per forward pass in train mode
        sn(torch.randn(4, 3, 16, 16), c)
    sn.eval()
    layers = _normalised(sn)
    assert len(layers) == (3 if family == "mlp" else 4)  # every linear/conv, and the projection embedding
    for m in layers:
        w = m.weight
        assert isinstance(w, torch.Tensor)
        sigma = torch.linalg.matrix_norm(w.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.01)
    assert not _normalised(plain)
    sigmas = [float(torch.linalg.matrix_norm(p.detach().flatten(1), ord=2)) for p in plain.parameters() if p.dim() > 1]
    assert max(abs(s - 1.0) for s in sigmas) > 0.3
