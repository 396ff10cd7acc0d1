"""ConvVAE: shapes for every likelihood, class conditioning, and the mean picture."""

from __future__ import annotations

import pytest
import torch

from artforge.nn.vae import LIKELIHOODS, ConvVAE


@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [28, 32, 64, 128])
def test_vae_shapes(resolution: int, channels: int, num_classes: int) -> None:
    torch.manual_seed(0)
    c = torch.tensor([2, 7]) if num_classes else None
    x = torch.rand(2, channels, resolution, resolution)
    for likelihood in LIKELIHOODS:
        vae = ConvVAE(resolution, channels, z_dim=4, width=8, num_classes=num_classes, likelihood=likelihood)
        assert vae.z_dim == 4 and vae.likelihood == likelihood
        mu, logvar = vae.encode(x, c)
        assert mu.shape == logvar.shape == (2, 4)
        params, mu2, _ = vae(x, c)
        assert params.shape == x.shape and torch.equal(mu, mu2)
        pictures = vae.mean(torch.randn(2, 4), c)
        assert pictures.shape == x.shape and pictures.min() >= 0 and pictures.max() <= 1
        if likelihood == "bernoulli":
            assert vae.log_scale is None
        else:
            assert vae.log_scale is not None and vae.log_scale.shape == (channels,)
            assert params.min() >= 0 and params.max() <= 1  # the location of the discretised distribution
            assert any(p is vae.log_scale for p in vae.parameters())  # learned


def test_vae_conditioning_and_mean() -> None:
    torch.manual_seed(0)
    vae = ConvVAE(28, 1, z_dim=3, width=4, num_classes=5)
    x, z = torch.rand(2, 1, 28, 28), torch.randn(2, 3)
    assert not torch.allclose(vae.encode(x, torch.tensor([0, 0]))[0], vae.encode(x, torch.tensor([4, 4]))[0])
    assert not torch.allclose(vae.decode(z, torch.tensor([0, 0])), vae.decode(z, torch.tensor([4, 4])))
    c = torch.tensor([1, 2])
    assert torch.allclose(vae.mean(z, c), torch.sigmoid(vae.decode(z, c)))
    with pytest.raises(ValueError, match="conditional"):
        vae.encode(x)
    with pytest.raises(ValueError, match="likelihood"):
        ConvVAE(likelihood="poisson")
