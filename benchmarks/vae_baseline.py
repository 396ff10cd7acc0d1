"""VAE quality at equal wall-clock: artforge's VAE engine against a plain convolutional VAE.

Measured on Fashion-MNIST (28 px, grey, pixels scaled to [0, 1], Bernoulli likelihood on these continuous
targets as in the literature), in one process, on the same device and threads:

- artforge: ``VAETrainer.step()`` built exactly as ``artforge train --model vae`` builds it
  (``training.open_data`` + ``training.build_trainer`` from ``TrainConfig(model="vae",
  data="fashion-mnist")``: ``ConvVAE``, width 32, z_dim ``--z-dim`` (default 32, artforge's default),
  Adam(1e-3, (0.9, 0.999)), batch ``--batch`` (default 64, TrainConfig's), loss -ELBO averaged over
  the batch). The run-directory side of ``api.train`` (checkpoints, sample grids, logs) is not included.
- plain: a VAE written below in the style of pytorch/examples/vae/main.py, made convolutional: two
  stride-2 4x4 convs (32, 64 channels) + ReLU, linear layers to mu and logvar (z_dim as above), a mirrored
  decoder (linear + ReLU, two stride-2 transposed convs) giving Bernoulli logits; loss = BCE-with-logits
  summed over pixels + the analytic KL, summed over the batch; Adam(1e-3); ``DataLoader(TensorDataset,
  batch_size=--plain-batch (default 128, the example's), shuffle=True)``; ``loss.item()`` every step.

Both train on the 60000 training images for the same wall-clock budget (``--seconds`` each, default 180),
in interleaved slices of ``--slice`` seconds (order alternating) so that load drift hits both alike; only
the training steps are timed. Both are then evaluated by the SAME code (``artforge.objectives.likelihood``;
the plain model through a small adapter exposing ``encode``/``decode``/``likelihood``/``log_scale``) on
the first ``--test-images`` (default 2000) test images, with the same random draws:

- ELBO: the one-sample ELBO, averaged over ``--elbo-samples`` (default 10) samples, nats per image;
- IWAE NLL: ``iwae_nll`` with ``--k`` (default 100) importance samples (Burda et al. 2016), nats per image.

Target: artforge at least as good as plain: ELBO(artforge) >= ELBO(plain) and NLL(artforge) <= NLL(plain).

Full run (~8 min on 2 cores):  python benchmarks/vae_baseline.py
Quick check (seconds):         python benchmarks/vae_baseline.py --quick
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from _common import machine_info, print_header, table
from artforge.api import resolve_device
from artforge.families.config import TrainConfig
from artforge.families.registry import FAMILIES, check
from artforge.nn.vae import ConvVAE
from artforge.objectives.likelihood import elbo, iwae_nll
from artforge.train import build as training
from artforge.train.processes import init_processes
from artforge.train.vae import VAETrainer


class PlainConvVAE(nn.Module):
    """pytorch/examples' VAE with a convolutional encoder and decoder; decodes to Bernoulli logits."""

    def __init__(self, z_dim: int = 32, resolution: int = 28, channels: int = 1) -> None:
        super().__init__()
        self.map = (64, resolution // 4, resolution // 4)
        features = math.prod(self.map)
        self.enc = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten()
        )  # fmt: skip
        self.fc_mu = nn.Linear(features, z_dim)
        self.fc_logvar = nn.Linear(features, z_dim)
        self.fc_dec = nn.Sequential(nn.Linear(z_dim, features), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, channels, 4, 2, 1)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.enc(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z: Tensor) -> Tensor:
        logits: Tensor = self.dec(self.fc_dec(z).view(-1, *self.map))
        return logits

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Reconstruction + KL divergence, summed over pixels and the batch (as the example's)."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


class PlainAdapter:
    """What ``elbo`` / ``iwae_nll`` use of a ``ConvVAE``: encode, decode, likelihood, log_scale."""

    likelihood = "bernoulli"
    log_scale: Tensor | None = None

    def __init__(self, model: PlainConvVAE) -> None:
        self.model = model

    def encode(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.model.encode(x)

    def decode(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.model.decode(z)


class Stepper(Protocol):
    step_index: int

    def step(self) -> None: ...


class PlainTrainer:
    """The example's ``train()`` loop body, one batch per ``step()``; reshuffles at each epoch's end."""

    def __init__(self, images: Tensor, z_dim: int, batch: int, device: torch.device, seed: int) -> None:
        torch.manual_seed(seed)
        self.device = device
        self.model = PlainConvVAE(z_dim, int(images.shape[2]), int(images.shape[1])).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        x = images.float().div(255)  # [N, C, R, R] in [0, 1], like transforms.ToTensor()
        self.loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)
        self.batches: Iterator[list[Tensor]] = iter(self.loader)
        self.step_index = 0
        self.images_seen = 0
        self.train_loss = 0.0

    def step(self) -> None:
        try:
            (data,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (data,) = next(self.batches)
        data = data.to(self.device)
        self.optimizer.zero_grad()
        recon_batch, mu, logvar = self.model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        self.train_loss += loss.item()
        self.optimizer.step()
        self.step_index += 1
        self.images_seen += len(data)


def train_for(trainer: Stepper, seconds: float, device: torch.device) -> float:
    """Steps until ``seconds`` have passed (the last step may overrun); returns the wall seconds used
    (on CUDA, up to the device's completion of the queued work)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


@torch.no_grad()
def evaluate(
    model: ConvVAE | PlainAdapter, x_all: Tensor, k: int, elbo_samples: int, batch: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Per-image ELBO (mean of ``elbo_samples`` one-sample ELBOs) and IWAE NLL, nats, [N] each."""
    torch.manual_seed(seed)
    elbos: list[Tensor] = []
    nlls: list[Tensor] = []
    for i in range(0, len(x_all), batch):
        x = x_all[i : i + batch]
        samples = [elbo(model, x)[0] for _ in range(elbo_samples)]  # type: ignore[arg-type]
        elbos.append(torch.stack(samples).mean(dim=0).cpu())
        nlls.append(iwae_nll(model, x, k=k).cpu())  # type: ignore[arg-type]
    return torch.cat(elbos).double(), torch.cat(nlls).double()


def paired(a: Tensor, b: Tensor) -> tuple[float, float]:
    """Mean of a - b and its standard error over the (paired) test images."""
    d = a - b
    se = float(d.std()) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return float(d.mean()), se


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0, help="training wall-clock budget of each (default 180)")
    p.add_argument("--slice", type=float, default=15.0, help="interleaving slice, seconds (default 15)")
    p.add_argument("--test-images", type=int, default=2000, help="first N test images evaluated (default 2000)")
    p.add_argument("--k", type=int, default=100, help="IWAE importance samples (default 100)")
    p.add_argument("--elbo-samples", type=int, default=10, help="one-sample ELBOs averaged (default 10)")
    default_z = FAMILIES["vae"].z_dim
    p.add_argument("--z-dim", type=int, default=default_z, help=f"both models (default {default_z}, artforge's)")
    p.add_argument("--batch", type=int, default=64, help="artforge's batch (default 64, TrainConfig's)")
    p.add_argument("--plain-batch", type=int, default=128, help="plain batch (default 128, pytorch/examples')")
    p.add_argument("--eval-batch", type=int, default=100, help="test images per evaluation batch (default 100)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="5 s each, 200 test images, k=10: a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.slice, args.test_images, args.k = 5.0, 2.5, 200, 10

    print_header(
        "artforge benchmark: VAE quality at equal wall-clock (VAETrainer vs plain VAE)", machine_info(args.threads)
    )
    device = resolve_device(args.device)
    cfg = TrainConfig(
        model="vae", data="fashion-mnist", z_dim=args.z_dim, batch=args.batch, seed=args.seed, device=str(device)
    )  # fmt: skip
    check(cfg)
    t0 = time.perf_counter()
    ds, images, labels = training.open_data(cfg)
    test_cfg = TrainConfig.from_dict({**cfg.to_dict(), "max_images": args.test_images})
    _, test_images, _ = training.open_data(test_cfg, split="test")
    x_test = test_images.to(device).float() / 255  # [N, 1, 28, 28] in [0, 1]
    print(f"data       : train {ds!r}; test: first {len(x_test)} images ({time.perf_counter() - t0:.1f} s, not timed)")

    ours = training.build_trainer(cfg, init_processes(cfg.device), ds, images, labels)
    assert isinstance(ours, VAETrainer) and isinstance(ours.model, ConvVAE)
    plain = PlainTrainer(images, args.z_dim, args.plain_batch, device, args.seed)
    n_ours = sum(q.numel() for q in ours.model.parameters())
    n_plain = sum(q.numel() for q in plain.model.parameters())
    lr, betas = cfg.adam()
    print(f"artforge   : ConvVAE {n_ours:,} params, {ours.model.likelihood}, batch {args.batch}, Adam {lr:g} {betas}")
    print(f"plain      : PlainConvVAE {n_plain:,} params, bernoulli, batch {args.plain_batch}, Adam 0.001 (0.9, 0.999)")
    print(f"protocol   : {args.seconds:g} s training each, {args.slice:g} s slices; eval k={args.k}, seed {args.seed}")
    print(flush=True)

    runners: dict[str, Stepper] = {"artforge": ours, "plain": plain}
    used = dict.fromkeys(runners, 0.0)
    r = 0
    while any(u < args.seconds for u in used.values()):
        order = list(runners) if r % 2 == 0 else list(runners)[::-1]
        for name in order:
            left = args.seconds - used[name]
            if left > 0:
                used[name] += train_for(runners[name], min(args.slice, left), device)
        r += 1
        print(f"slice {r}: " + "  ".join(f"{k}={used[k]:.1f} s/{runners[k].step_index} steps" for k in runners))
        sys.stdout.flush()

    seen = {"artforge": ours.step_index * args.batch, "plain": plain.images_seen}
    print()
    t0 = time.perf_counter()
    ours.model.eval()
    plain.model.eval()
    e_ours, nll_ours = evaluate(ours.model, x_test, args.k, args.elbo_samples, args.eval_batch, args.seed)
    e_plain, nll_plain = evaluate(
        PlainAdapter(plain.model), x_test, args.k, args.elbo_samples, args.eval_batch, args.seed
    )
    print(f"evaluation : {time.perf_counter() - t0:.1f} s")
    print()

    rows = []
    for name, e, nll in (("artforge", e_ours, nll_ours), ("plain", e_plain, nll_plain)):
        step_s = used[name] / max(runners[name].step_index, 1)
        rows.append(
            [
                name, f"{used[name]:.1f}", runners[name].step_index, f"{seen[name] / len(images):.2f}",
                f"{seen[name] / used[name]:.0f}", f"{step_s * 1000:.1f}", f"{float(e.mean()):.2f}",
                f"{float(nll.mean()):.2f}",
            ]
        )  # fmt: skip
    d_elbo, se_elbo = paired(e_ours, e_plain)
    d_nll, se_nll = paired(nll_ours, nll_plain)
    rows.append(["artforge - plain", "", "", "", "", "", f"{d_elbo:+.2f}", f"{d_nll:+.2f}"])
    rows.append(["  (paired std. error)", "", "", "", "", "", f"{se_elbo:.2f}", f"{se_nll:.2f}"])
    heads = ["model", "train s", "steps", "epochs", "img/s", "ms/step", "ELBO nats", f"IWAE NLL (k={args.k}) nats"]
    print(f"Fashion-MNIST test, first {len(x_test)} images, nats per image (ELBO: higher is better; NLL: lower):")
    print(table(heads, rows))
    print()
    ok = d_elbo >= 0 and d_nll <= 0
    verdict = "PASS" if ok else "FAIL"
    note = "  (--quick: seconds of training, not meaningful)" if args.quick else ""
    print(
        f"RESULT: artforge - plain: ELBO {d_elbo:+.2f} nats (+-{se_elbo:.2f}), IWAE NLL {d_nll:+.2f} nats "
        f"(+-{se_nll:.2f}) ; target ELBO >= plain and NLL <= plain : {verdict}{note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
