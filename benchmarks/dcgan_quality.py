"""DCGAN sample quality at equal wall-clock: artforge's GAN engine against a plain pytorch/examples loop.

Measured, in one process, on the same device and threads, on Fashion-MNIST (``--resolution`` 28 px by default),
with the SAME architecture (artforge's ``DCGANGenerator`` / ``DCGANDiscriminator``, width 64, z_dim 100) and batch
``--batch`` (default 64) in both:

- artforge: ``GANTrainer.step()`` built exactly as ``artforge train --model dcgan --data fashion-mnist`` builds it
  (``dcgan_throughput.artforge_trainer``: ``training.open_data`` + ``training.build_trainer``). Sampled as
  ``artforge sample`` samples a checkpoint: G_ema, after the standing BatchNorm statistics that
  ``GANTrainer.state()`` computes before every save, in eval mode. The run-directory side of ``api.train``
  (checkpoints, logs, grids) is not included.
- plain: ``dcgan_throughput.PlainDCGAN`` (the loop of pytorch/examples/dcgan/main.py: BCE, Adam(2e-4, (0.5,
  0.999)), DataLoader, ``.item()`` per step), no EMA. Sampled both as the example saves its samples (``netG(z)`` in
  train mode: BatchNorm on batches of ``--batch``) and in eval mode; the better FD of the two is plain's score.

Both train on the 60000 training images for the same wall-clock budget (``--seconds`` each, default 300), in
interleaved chunks of ``--chunk`` seconds (order alternating) so that load drift hits both alike; only the training
steps are timed. Then ``--samples`` (default 10000) images from each, with the same z, quantised to 8 bits like
saved PNGs, are compared with the 10000 test images by the SAME yardstick: a small CNN classifier (two conv+pool
stages, a 128-d ReLU layer, 10 logits) trained here on the training set (``--classifier-epochs``, seeded; its test
accuracy is printed). FD is ``artforge.metrics.frechet_distance`` between Gaussians fitted to its 128-d
penultimate features, KID ``artforge.metrics.kid`` on the same features. Real and generated images enter
the classifier alike: uint8 -> [-1, 1], the range of the generators' tanh. The floor is the FD of ``--samples``
random training images against the test set.

Target: FD(artforge) <= FD(plain), i.e. plain / artforge >= 1.0.

Full run (~13-15 min on 2 cores):  python benchmarks/dcgan_quality.py
Quick check (~40 s):               python benchmarks/dcgan_quality.py --quick --grid /tmp/dcgan_quality
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from _common import machine_info, print_header, table
from artforge.api import resolve_device
from artforge.data.grid import make_grid
from artforge.families.config import TrainConfig
from artforge.families.registry import FAMILIES
from artforge.metrics import feature_statistics, frechet_distance, kid
from artforge.train import build as training
from dcgan_throughput import PlainDCGAN, artforge_trainer, param_count

TARGET = 1.0
FEATURE_DIM = 128
EVAL_BATCH = 500


class FeatureNet(nn.Module):
    """The yardstick: a small Fashion-MNIST CNN; ``features`` is its 128-d penultimate (ReLU) layer."""

    def __init__(self, channels: int = 1, resolution: int = 28, dim: int = FEATURE_DIM, classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # [N, 32, R/2, R/2]
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # [N, 64, R/4, R/4]
            nn.Flatten(), nn.Linear(64 * (resolution // 4) ** 2, dim), nn.ReLU(),  # [N, dim]
        )  # fmt: skip
        self.head = nn.Linear(dim, classes)

    def features(self, x: Tensor) -> Tensor:
        out: Tensor = self.body(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(self.body(x))
        return out


def to_input(images: Tensor, device: torch.device) -> Tensor:
    """uint8 ``[N, C, R, R]`` -> float in [-1, 1] on ``device`` (real and generated images alike)."""
    return images.to(device).float().div(127.5).sub(1)


def quantise(x: Tensor) -> Tensor:
    """Generator output in [-1, 1] -> uint8, as a saved PNG holds it."""
    return x.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).cpu()


def train_classifier(
    images: Tensor, labels: Tensor, epochs: int, batch: int, device: torch.device, seed: int
) -> FeatureNet:
    """Adam(1e-3) on cross-entropy, reshuffled each epoch from ``seed``."""
    torch.manual_seed(seed)
    net = FeatureNet(int(images.shape[1]), int(images.shape[2]), classes=int(labels.max()) + 1).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(images), generator=gen)
        for i in range(0, len(perm), batch):
            idx = perm[i : i + batch]
            loss = F.cross_entropy(net(to_input(images[idx], device)), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def features(net: FeatureNet, images: Tensor, device: torch.device) -> tuple[np.ndarray, Tensor]:
    """Penultimate features ``[N, 128]`` (float64) and predicted classes ``[N]``."""
    feats, preds = [], []
    for i in range(0, len(images), EVAL_BATCH):
        h = net.features(to_input(images[i : i + EVAL_BATCH], device))
        feats.append(h.double().cpu())
        preds.append(net.head(h).argmax(1).cpu())
    return torch.cat(feats).numpy(), torch.cat(preds)


@torch.no_grad()
def generate(g: Callable[[Tensor], Tensor], z: Tensor, batch: int, device: torch.device) -> Tensor:
    """uint8 images from ``g`` on ``z`` in batches of ``batch``."""
    return torch.cat([quantise(g(z[i : i + batch].to(device))) for i in range(0, len(z), batch)])


def plain_train_mode(g: nn.Module) -> Callable[[Tensor], Tensor]:
    """The example's ``netG(fixed_noise)``: BatchNorm on the batch's own statistics (on a copy of G)."""
    g2 = copy.deepcopy(g).train()
    return lambda z: g2(z)


def train_for(step: Callable[[], None], seconds: float, device: torch.device) -> tuple[float, int]:
    """Steps until ``seconds`` have passed (the last may overrun): (wall seconds used, steps)."""
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0, n


def fit_yardstick(
    images: Tensor, labels: Tensor, test_images: Tensor, test_labels: Tensor, epochs: int, n_images: int,
    device: torch.device, seed: int,
) -> tuple[FeatureNet, np.ndarray, float]:  # fmt: skip
    """The yardstick trained on the first ``n_images`` training images (batch 128): (net, test features, test
    accuracy)."""
    clf = train_classifier(images[:n_images], labels[:n_images], epochs, 128, device, seed)
    f_test, pred_test = features(clf, test_images, device)
    return clf, f_test, float((pred_test == test_labels).float().mean())


def score(
    clf: FeatureNet, images: Tensor, f_test: np.ndarray, mu_test: np.ndarray, sigma_test: np.ndarray,
    device: torch.device, seed: int, what: str,
) -> tuple[float, float, float]:  # fmt: skip
    """(FD, KID mean, KID std) of uint8 ``images`` against the test set in the yardstick's features."""
    f, _ = features(clf, images, device)
    mu, sigma = feature_statistics(f, what=what)
    k_mean, k_std = kid(f_test, f, subsets=100, subset_size=1000, seed=seed)
    return frechet_distance(mu, sigma, mu_test, sigma_test), k_mean, k_std


def floor_images(images: Tensor, n: int, seed: int) -> Tensor:
    """``n`` random training images: the floor that generated samples are judged against."""
    floor_idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed + 20_000))
    return images[floor_idx[:n]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=300.0, help="training wall-clock budget of each (default 300)")
    p.add_argument("--chunk", type=float, default=30.0, help="interleaving chunk, seconds (default 30)")
    p.add_argument("--samples", type=int, default=10_000, help="generated images per method (default 10000)")
    p.add_argument("--classifier-epochs", type=int, default=2, help="yardstick training epochs (default 2)")
    p.add_argument("--classifier-images", type=int, default=None, help="first N train images for it (default all)")
    p.add_argument("--batch", type=int, default=64, help="GAN batch, both methods (default 64, TrainConfig's)")
    p.add_argument("--resolution", type=int, choices=[28, 32, 64], default=28, help="px (default 28, native)")
    p.add_argument("--width", type=int, default=None, help="DCGAN width (default: the model's, 64)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", metavar="DIR", default=None, help="write 8x8 sample grids (artforge, plain, test) here")
    quick_help = "smoke test: 10 s each, 500 samples, yardstick 1 epoch on 6000 images (options given win)"
    p.add_argument("--quick", action="store_true", help=quick_help)
    args = p.parse_args(argv)
    if args.quick:  # only what the command line left at its default
        quick = {"seconds": 10.0, "chunk": 5.0, "samples": 500, "classifier_epochs": 1, "classifier_images": 6000}
        for key, value in quick.items():
            if getattr(args, key) == p.get_default(key):
                setattr(args, key, value)
    args.amp = "auto"  # what artforge_trainer reads (CUDA only)

    print_header(
        "artforge benchmark: DCGAN quality at equal wall-clock (GANTrainer vs plain loop)", machine_info(args.threads)
    )
    device = resolve_device(args.device)
    t0 = time.perf_counter()
    cfg = TrainConfig(model="dcgan", data="fashion-mnist", resolution=args.resolution, conditional=False)
    ds, images, _ = training.open_data(cfg)
    labels = ds.tensors()[1]
    test_ds, test_images, _ = training.open_data(cfg, split="test")
    test_labels = test_ds.tensors()[1]
    print(f"data       : train {ds!r}; test {len(test_images)} images ({time.perf_counter() - t0:.1f} s, not timed)")

    # The yardstick.
    t0 = time.perf_counter()
    n_cls = args.classifier_images or len(images)
    clf, f_test, acc = fit_yardstick(
        images, labels, test_images, test_labels, args.classifier_epochs, n_cls, device, args.seed
    )
    print(
        f"yardstick  : CNN, {param_count(clf):,} params, {FEATURE_DIM}-d features; {args.classifier_epochs} epoch(s) "
        f"on {n_cls} train images in {time.perf_counter() - t0:.1f} s; test accuracy {acc:.4f}"
    )
    mu_test, sigma_test = feature_statistics(f_test, what="test features")

    # The contestants.
    ours = artforge_trainer(args, device.type, True, args.amp, ds, images)
    z_dim = FAMILIES["dcgan"].z_dim
    width = args.width or FAMILIES["dcgan"].width
    plain = PlainDCGAN(images, labels, z_dim, width, args.batch, device, args.seed)
    sizes = (param_count(ours.g), param_count(ours.d))
    assert sizes == (param_count(plain.g), param_count(plain.d)), "artforge and plain DCGANs differ in size"
    print(f"models     : G {sizes[0]:,}, D {sizes[1]:,} params (identical in both); z_dim {z_dim}, width {width}")
    print(f"protocol   : {args.seconds:g} s training each, {args.chunk:g} s chunks alternating; batch {args.batch}")
    print(flush=True)

    steppers: dict[str, Callable[[], None]] = {"artforge": ours.step, "plain": plain.step}
    used, steps = dict.fromkeys(steppers, 0.0), dict.fromkeys(steppers, 0)
    r = 0
    while any(u < args.seconds for u in used.values()):
        order = list(steppers) if r % 2 == 0 else list(steppers)[::-1]
        for name in order:
            left = args.seconds - used[name]
            if left > 0:
                s, n = train_for(steppers[name], min(args.chunk, left), device)
                used[name] += s
                steps[name] += n
        r += 1
        print(f"chunk {r}: " + "  ".join(f"{k}={used[k]:.1f} s/{steps[k]} steps" for k in steppers), flush=True)
    assert steps["artforge"] == ours.step_index

    # Samples: the same z for every generator.
    t0 = time.perf_counter()
    z = torch.randn(args.samples, z_dim, generator=torch.Generator().manual_seed(args.seed + 10_000))
    ours.standing_stats()  # what GANTrainer.state() does before every checkpoint that `artforge sample` reads
    g_ema = ours.g_ema.eval()
    plain.g.eval()
    fakes = {
        "artforge (G_ema, as `artforge sample`)": generate(lambda v: g_ema(v), z, EVAL_BATCH, device),
        "plain (train-mode BN, as the example)": generate(plain_train_mode(plain.g), z, args.batch, device),
        "plain (eval-mode BN)": generate(lambda v: plain.g(v), z, EVAL_BATCH, device),
    }
    floor = floor_images(images, args.samples, args.seed)

    results: dict[str, tuple[float, float, float]] = {}
    for name, x in [*fakes.items(), ("train set (floor)", floor)]:
        results[name] = score(clf, x, f_test, mu_test, sigma_test, device, args.seed, name)
    print(f"evaluation : {args.samples} samples each vs {len(test_images)} test, {time.perf_counter() - t0:.1f} s")
    print()

    rows = []
    method_of = {name: name.split(" ")[0] for name in fakes}
    for name, (fd, k_mean, k_std) in results.items():
        x = fakes.get(name, floor).float()
        px = f"{x.mean():.1f} / {x.std():.1f}"
        if name in method_of:
            m = method_of[name]
            kimg = steps[m] * args.batch / 1000
            rows.append(
                [name, f"{used[m]:.1f}", steps[m], f"{kimg:.1f}", f"{kimg * 1000 / used[m]:.0f}", px, f"{fd:.3f}",
                 f"{k_mean:.4g} +- {k_std:.2g}"]
            )  # fmt: skip
        else:
            rows.append([name, "", "", "", "", px, f"{fd:.3f}", f"{k_mean:.4g} +- {k_std:.2g}"])
    t = test_images.float()
    rows.append(["test set (reference)", "", "", "", "", f"{t.mean():.1f} / {t.std():.1f}", "", ""])
    print(f"Frechet distance in the yardstick's {FEATURE_DIM}-d feature space to the test set (lower is better):")
    heads = ["method", "train s", "steps", "kimg", "img/s", "px mean / std", "FD", "KID"]
    print(table(heads, rows))
    print()

    if args.grid:
        out = Path(args.grid)
        out.mkdir(parents=True, exist_ok=True)
        pictures = {"artforge": fakes[next(iter(fakes))], "plain": fakes["plain (train-mode BN, as the example)"]}
        for name, x in {**pictures, "test": test_images}.items():
            path = out / f"dcgan_quality_{name}.png"
            make_grid(x[:64].float() / 255, nrow=8).save(path)
            print(f"grid       : {path}")
        print()

    fd_ours = results[next(iter(fakes))][0]
    fd_plain = min(results[n][0] for n in fakes if n.startswith("plain"))
    ratio = fd_plain / fd_ours if fd_ours > 0 else float("inf")
    verdict = "PASS" if fd_ours <= fd_plain else "FAIL"
    note = "  (--quick: seconds of training, a small yardstick, not meaningful)" if args.quick else ""
    print(
        f"RESULT: FD artforge {fd_ours:.3f}, plain {fd_plain:.3f} (best of its two BN modes), floor "
        f"{results['train set (floor)'][0]:.3f} ; plain/artforge = {ratio:.3f} ; target >= {TARGET:.1f} : "
        f"{verdict}{note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
