"""Log-likelihoods, KL, ELBO and IWAE against hand computations; discretised bins sum to 1."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from artforge.nn.vae import ConvVAE
from artforge.objectives.likelihood import bits_per_dim, elbo, iwae_nll, kl_normal, log_px_given_z

LOG_2PI = math.log(2 * math.pi)


def test_kl_normal_matches_hand_computation() -> None:
    mu = torch.tensor([[1.0, -2.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # 0.5 [(1 + 1 - 1 - 0) + (4 + 2 - 1 - log 2)]; the second row is the prior itself
    expected = [0.5 * (1 + 5 - math.log(2.0)), 0.0]
    assert kl_normal(mu, logvar).tolist() == pytest.approx(expected, abs=1e-6)


def test_bernoulli_log_likelihood_matches_hand_computation() -> None:
    logits = torch.tensor([0.0, 2.0, -1.0, 3.0]).view(1, 1, 2, 2)
    x = torch.tensor([1.0, 0.25, 0.0, 0.5]).view(1, 1, 2, 2)
    expected = 0.0
    for t, logit in zip([1.0, 0.25, 0.0, 0.5], [0.0, 2.0, -1.0, 3.0], strict=True):
        p = 1 / (1 + math.exp(-logit))
        expected += t * math.log(p) + (1 - t) * math.log(1 - p)
    assert float(log_px_given_z("bernoulli", logits, x, None)[0]) == pytest.approx(expected, rel=1e-6)


def _phi(t: float) -> float:
    return 0.5 * (1 + math.erf(t / math.sqrt(2)))


def _sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


@pytest.mark.parametrize("family, cdf", [("gaussian", _phi), ("logistic", _sig)])
def test_discretised_likelihood_matches_hand_computation(family: str, cdf: object) -> None:
    assert callable(cdf)
    mean, s = 0.4, 0.1
    xs = [0.0, 100 / 255, 1.0]
    expected = [
        math.log(cdf((0.5 / 255 - mean) / s)),  # left edge bin: (-inf, 0.5/255]
        math.log(cdf((100.5 / 255 - mean) / s) - cdf((99.5 / 255 - mean) / s)),
        math.log(1 - cdf((254.5 / 255 - mean) / s)),  # right edge bin: (254.5/255, inf)
    ]
    x = torch.tensor(xs).view(3, 1, 1, 1)
    params = torch.full((3, 1, 1, 1), mean)
    got = log_px_given_z(family, params, x, torch.tensor([math.log(s)]))
    assert got.tolist() == pytest.approx(expected, rel=1e-5)
    # x off the grid is quantised to the nearest k/255
    assert float(log_px_given_z(family, params[:1], x[1:2] + 0.3 / 255, torch.tensor([math.log(s)]))[0]) == (
        pytest.approx(expected[1], rel=1e-5)
    )


def test_discretised_gaussian_far_in_the_tails_and_very_broad() -> None:
    scipy_special = pytest.importorskip("scipy.special")
    # A bin 80 scales above the mean: log(Phi(b) - Phi(a)) = log(Phi(-a) - Phi(-b)) ~ -3200, far below float's 1 - Phi.
    mean, s, k = 0.1, 0.01, 230
    a, b = ((k - 0.5) / 255 - mean) / s, ((k + 0.5) / 255 - mean) / s
    hi, lo = scipy_special.log_ndtr(-a), scipy_special.log_ndtr(-b)
    expected = hi + math.log(-math.expm1(lo - hi))
    x = torch.tensor([k / 255]).view(1, 1, 1, 1)
    got = log_px_given_z("gaussian", torch.full((1, 1, 1, 1), mean), x, torch.tensor([math.log(s)]))
    assert float(got[0]) == pytest.approx(expected, rel=1e-6)
    # A scale of e^25: the bin's mass is its width times the density at its centre.
    log_s = 25.0
    t = (128 / 255 - 0.5) / math.exp(log_s)
    expected = -0.5 * t * t - 0.5 * LOG_2PI - log_s - math.log(255)
    got = log_px_given_z(
        "gaussian", torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), 128 / 255), torch.tensor([log_s])
    )
    assert float(got[0]) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("family", ["gaussian", "logistic"])
@pytest.mark.parametrize("mean", [0.0, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("log_scale", [-12.0, -6.0, -2.0, 0.0, 9.0])
def test_discretised_bins_sum_to_one_with_finite_gradients(family: str, mean: float, log_scale: float) -> None:
    x = torch.arange(256.0).view(256, 1, 1, 1) / 255  # every value of a 1-pixel image
    mu = torch.full((256, 1, 1, 1), mean, requires_grad=True)
    s = torch.tensor([log_scale], requires_grad=True)
    log_p = log_px_given_z(family, mu, x, s)
    assert float(log_p.detach().exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(log_p.detach().max()) <= 0.0
    log_p.sum().backward()
    assert mu.grad is not None and s.grad is not None
    assert torch.isfinite(mu.grad).all() and torch.isfinite(s.grad).all()


def test_per_channel_log_scale() -> None:
    torch.manual_seed(0)
    x, mean = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    log_scale = torch.tensor([-1.0, -2.0, -3.0])
    total = log_px_given_z("logistic", mean, x, log_scale)
    parts = [log_px_given_z("logistic", mean[:, i : i + 1], x[:, i : i + 1], log_scale[i : i + 1]) for i in range(3)]
    assert torch.allclose(total, parts[0] + parts[1] + parts[2], rtol=1e-5)
    with pytest.raises(ValueError, match="log_scale"):
        log_px_given_z("gaussian", mean, x, None)
    with pytest.raises(ValueError, match="likelihood"):
        log_px_given_z("poisson", mean, x, None)


def test_elbo_matches_hand_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ConvVAE(28, 1, z_dim=2, width=4)
    mu = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(0.25)], [-1.0, 0.5]])
    base = torch.linspace(-3.0, 3.0, 28 * 28).view(1, 1, 28, 28)
    seen: dict[str, Tensor] = {}

    def encode(x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return mu, logvar

    def decode(z: Tensor, c: Tensor | None = None) -> Tensor:
        seen["z"] = z
        return base + z[:, :1, None, None]  # logits that depend on z

    monkeypatch.setattr(model, "encode", encode)
    monkeypatch.setattr(model, "decode", decode)
    torch.manual_seed(1)
    x = torch.rand(2, 1, 28, 28)
    torch.manual_seed(123)
    value, log_px, kl = elbo(model, x)
    torch.manual_seed(123)
    eps = torch.randn(2, 2)
    z = mu + torch.exp(0.5 * logvar) * eps
    assert torch.allclose(seen["z"], z)
    for n in range(2):
        p = torch.sigmoid((base[0, 0] + z[n, 0]).double()).flatten().tolist()
        t = x[n, 0].double().flatten().tolist()
        hand_px = sum(ti * math.log(pi) + (1 - ti) * math.log(1 - pi) for ti, pi in zip(t, p, strict=True))
        m, lv = mu[n].tolist(), logvar[n].tolist()
        hand_kl = 0.5 * sum(mi**2 + math.exp(li) - 1 - li for mi, li in zip(m, lv, strict=True))
        assert float(log_px[n]) == pytest.approx(hand_px, rel=1e-5)
        assert float(kl[n]) == pytest.approx(hand_kl, rel=1e-5)
        assert float(value[n]) == pytest.approx(hand_px - hand_kl, rel=1e-5)
    torch.manual_seed(123)
    value4, _, _ = elbo(model, x, beta=4.0)
    assert torch.allclose(value4, log_px - 4 * kl)


def _tiny_vae(sharp: float = 1.0) -> ConvVAE:
    torch.manual_seed(0)
    vae = ConvVAE(16, 1, z_dim=2, width=4)
    with torch.no_grad():
        vae.from_z[0].weight.mul_(sharp)  # a decoder that depends strongly on z: q is far from the posterior
    return vae


def test_iwae_with_one_sample_is_the_monte_carlo_elbo() -> None:
    vae = _tiny_vae()
    with torch.no_grad():
        vae.to_posterior.bias.copy_(torch.tensor([1.0, -0.5, -1.0, 0.5]))  # q far from the prior: KL ~ 1 nat
    x = torch.rand(1, 1, 16, 16).expand(2000, 1, 16, 16)
    with torch.no_grad():
        torch.manual_seed(7)
        value, log_px, kl = elbo(vae, x)
        torch.manual_seed(7)
        nll1 = iwae_nll(vae, x, k=1)
        torch.manual_seed(7)
        eps = torch.randn(2000, 2)  # the same draws
        mu, logvar = vae.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    log_pz = -0.5 * (z.square() + LOG_2PI).sum(1)
    log_qz = -0.5 * (eps.square() + logvar + LOG_2PI).sum(1)
    assert torch.allclose(nll1, -(log_px + log_pz - log_qz), rtol=1e-5)
    # E_q[log q - log p] = KL, so k = 1 equals -ELBO in expectation.
    diff = nll1 + value
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / math.sqrt(len(diff)) + 1e-4


def test_iwae_bound_is_tighter_than_the_elbo() -> None:
    vae = _tiny_vae(sharp=8.0)
    torch.manual_seed(3)
    x = torch.rand(6, 1, 16, 16)
    with torch.no_grad():
        neg_elbo = torch.stack([-elbo(vae, x)[0] for _ in range(200)]).mean(0)  # [N], E_q[-ELBO]
        nll50 = iwae_nll(vae, x, k=50, chunk=16)
        nll5 = iwae_nll(vae, x, k=5)
    assert float(nll50.mean()) < float(nll5.mean()) < float(neg_elbo.mean())
    assert float((neg_elbo - nll50).mean()) > 1.0  # nats: a clear gap for a mismatched q


def test_iwae_is_exact_when_q_is_the_posterior(monkeypatch: pytest.MonkeyPatch) -> None:
    # A decoder that ignores z: the posterior is the prior, every weight is p(x), and any k or chunking gives -log p(x).
    vae = _tiny_vae()
    logits = torch.randn(1, 1, 16, 16)
    monkeypatch.setattr(vae, "encode", lambda x, c=None: (torch.zeros(len(x), 2), torch.zeros(len(x), 2)))
    monkeypatch.setattr(vae, "decode", lambda z, c=None: logits.expand(len(z), 1, 16, 16))
    x = torch.rand(3, 1, 16, 16)
    exact = -log_px_given_z("bernoulli", logits.expand(3, 1, 16, 16), x, None)
    for k, chunk in [(1, 1), (10, 3), (7, 25)]:
        assert torch.allclose(iwae_nll(vae, x, k=k, chunk=chunk), exact, rtol=1e-6)


def test_conditional_iwae_pairs_each_sample_with_its_label(monkeypatch: pytest.MonkeyPatch) -> None:
    # A decoder that depends on c only: every weight is p(x | c), so each image's bound is exactly -log p(x | c).
    vae = ConvVAE(16, 1, z_dim=2, width=4, num_classes=3)
    table = torch.randn(3, 1, 16, 16)  # logits per class
    monkeypatch.setattr(vae, "encode", lambda x, c=None: (torch.zeros(len(x), 2), torch.zeros(len(x), 2)))
    monkeypatch.setattr(vae, "decode", lambda z, c=None: table[c])
    x, c = torch.rand(2, 1, 16, 16), torch.tensor([0, 2])
    exact = -log_px_given_z("bernoulli", table[c], x, None)
    assert torch.allclose(iwae_nll(vae, x, c, k=5, chunk=3), exact, rtol=1e-6)


def test_bits_per_dim() -> None:
    dims = 3 * 8 * 8
    assert float(bits_per_dim(torch.tensor(dims * math.log(2.0)), dims)) == pytest.approx(1.0)
