"""VAE likelihoods in nats (pure functions): log p(x|z), KL(q(z|x) || N(0, I)), the ELBO and the IWAE bound.

- bernoulli: log p(x|z) = sum x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)), with continuous targets x in [0, 1]
  (the literature's convention for grey MNIST-like data; not a normalised density for non-binary x).
- gaussian / logistic: discretised over 256 bins (Salimans et al. 2017): x is quantised to k/255, and
  P(k) = F((x + 1/510 - mu)/s) - F((x - 1/510 - mu)/s), with the edge bins k = 0 and k = 255 extended to -inf
  and +inf, F the standard normal or logistic CDF. These are probabilities (they sum to 1 over the 256 values),
  so -log p / (dims ln 2) is a true bits/dim, comparable across models.
- ELBO = E_q[log p(x|z)] - beta KL, one sample of z; IWAE (Burda et al. 2016) = log mean_i p(x, z_i) / q(z_i|x).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from artforge.nn.vae import ConvVAE, reparameterise

LOG_2PI = math.log(2.0 * math.pi)
LEVELS = 255  # 8-bit images: 256 values k/255
NARROW = 1e-3  # bins narrower than this many scales (1e-2 in float32) use the midpoint rule: F(b) - F(a) cancels


def _log_cdf(family: str, t: Tensor) -> Tensor:
    return torch.special.log_ndtr(t) if family == "gaussian" else F.logsigmoid(t)


def _log_pdf(family: str, t: Tensor) -> Tensor:
    if family == "gaussian":
        return -0.5 * t.square() - 0.5 * LOG_2PI
    return F.logsigmoid(t) + F.logsigmoid(-t)  # log sigmoid'(t)


def discretised_log_prob(family: str, mean: Tensor, x: Tensor, log_scale: Tensor) -> Tensor:
    """log P(x) per pixel [N, C, H, W] of a discretised ``"gaussian"`` or ``"logistic"``, x and mean in [0, 1].

    ``log_scale`` is per channel [C], or anything that broadcasts against x. Stable in the tails: an interior
    bin's F(b) - F(a) is computed in whichever tail keeps F <= 1/2 (F(b) - F(a) = F(-a) - F(-b)), in log space.
    """
    out_dtype = torch.promote_types(mean.dtype, torch.float32)
    # The Gaussian in float64: float32's log_ndtr gradient is wrong beyond ~1000 scales, which a sharp decoder
    # reaches. The logistic's log-sigmoid is accurate in float32.
    dtype = torch.float64 if family == "gaussian" else out_dtype
    mean, x, log_scale = mean.to(dtype), x.to(dtype), log_scale.to(dtype)
    if log_scale.dim() == 1:
        log_scale = log_scale.view(1, -1, 1, 1)  # [1, C, 1, 1]
    k = torch.round(x * LEVELS).clamp(0, LEVELS)  # [N, C, H, W] bin index
    inv_s = torch.exp(-log_scale)
    a = ((k - 0.5) / LEVELS - mean) * inv_s  # standardised lower edge; (k +- 0.5) so neighbours share edges exactly
    b = ((k + 0.5) / LEVELS - mean) * inv_s  # standardised upper edge
    flip = (a + b) > 0
    hi = _log_cdf(family, torch.where(flip, -a, b))
    lo = _log_cdf(family, torch.where(flip, -b, a))
    narrow = (b - a) < (NARROW if dtype == torch.float64 else 10 * NARROW)  # float32 cancels sooner
    # log(F_hi - F_lo) = log F_hi + log(1 - exp(log F_lo - log F_hi)); the wheres keep unused branches finite.
    d = torch.where(narrow, torch.full_like(hi, -1.0), (lo - hi).clamp(max=-1e-30))
    interior = hi + torch.log(-torch.expm1(d))
    midpoint = _log_pdf(family, 0.5 * (a + b)) - log_scale - math.log(LEVELS)  # log(f(mid) / s * bin width)
    interior = torch.where(narrow, midpoint, interior)
    left = _log_cdf(family, b)  # k = 0: F(b) - F(-inf)
    right = _log_cdf(family, -a)  # k = 255: 1 - F(a)
    return torch.where(k == 0, left, torch.where(k == LEVELS, right, interior)).to(out_dtype)


def log_px_given_z(likelihood: str, params: Tensor, x: Tensor, log_scale: Tensor | None) -> Tensor:
    """log p(x|z) per image [N] in nats, summed over [C, H, W]; ``params`` from ``ConvVAE.decode``, x in [0, 1]."""
    if likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none").flatten(1).sum(dim=1)
    if likelihood in ("gaussian", "logistic"):
        if log_scale is None:
            raise ValueError(f"the {likelihood} likelihood needs a log_scale")
        return discretised_log_prob(likelihood, params, x, log_scale).flatten(1).sum(dim=1)
    raise ValueError(f"unknown likelihood {likelihood!r}; choose from bernoulli, gaussian, logistic")


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per image [N] = 0.5 sum(mu^2 + exp(logvar) - 1 - logvar)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def elbo(
    model: ConvVAE, x: Tensor, c: Tensor | None = None, beta: float = 1.0, eps: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(log p(x|z) - beta KL, log p(x|z), KL), each [N], with one z = mu + sigma eps, eps ~ N(0, I)
    (``eps`` [N, z_dim] if given, else from torch's RNG).

    The training loss is ``-elbo(...)[0].mean()``; with beta = 1 it is the ELBO, a lower bound on log p(x).
    """
    mu, logvar = model.encode(x, c)  # [N, z_dim]
    z = reparameterise(mu, logvar, torch.randn_like(mu) if eps is None else eps)
    log_px = log_px_given_z(model.likelihood, model.decode(z, c), x, model.log_scale)  # [N]
    kl = kl_normal(mu, logvar)  # [N]
    return log_px - beta * kl, log_px, kl


def iwae_nll(model: ConvVAE, x: Tensor, c: Tensor | None = None, k: int = 100, chunk: int = 25) -> Tensor:
    """Burda et al. 2016: -log (1/k sum_i p(x, z_i) / q(z_i|x)), z_i ~ q(z|x), per image [N] in nats.

    An upper bound on -log p(x) that tightens as k grows (k = 1: the one-sample -ELBO with a Monte Carlo KL).
    The k samples are decoded ``chunk`` at a time; draws from torch's RNG. Wrap in ``torch.no_grad()`` to evaluate.
    """
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be positive, not {k} and {chunk}")
    mu, logvar = model.encode(x, c)  # [N, D]
    n = x.shape[0]
    parts: list[Tensor] = []
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        eps = torch.randn((s, *mu.shape), dtype=mu.dtype, device=mu.device)  # [s, N, D]
        z = reparameterise(mu, logvar, eps)  # [s, N, D]
        cs = None if c is None else c.repeat(s)  # [s N], sample-major like z
        params = model.decode(z.reshape(s * n, -1), cs)  # [s N, C, H, W]
        xs = x.expand(s, *x.shape).reshape(s * n, *x.shape[1:])  # [s N, C, H, W]
        log_px = log_px_given_z(model.likelihood, params, xs, model.log_scale).view(s, n)
        log_pz = -0.5 * (z.square() + LOG_2PI).sum(dim=-1)  # [s, N]
        log_qz = -0.5 * (eps.square() + logvar + LOG_2PI).sum(dim=-1)  # [s, N]
        parts.append(torch.logsumexp(log_px + log_pz - log_qz, dim=0))  # [N]
    return -(torch.logsumexp(torch.stack(parts), dim=0) - math.log(k))


def bits_per_dim(nll_nats: Tensor, dims: int) -> Tensor:
    """nats / (dims ln 2): the negative log-likelihood per dimension in bits."""
    return nll_nats / (dims * math.log(2.0))
