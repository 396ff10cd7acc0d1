"""DCGAN training throughput (images/s): artforge's GAN engine against a plain pytorch/examples loop.

Measured, in one process, on the same device and threads, on Fashion-MNIST train (60000 images,
``--resolution`` 28 px by default, 32 or 64 allowed), global batch ``--batch`` (default 64):

- artforge: ``GANTrainer.step()`` built exactly as ``artforge train`` builds it
  (``training.open_data`` + ``training.build_trainer`` from ``TrainConfig(model="dcgan",
  data="fashion-mnist")``): one D and one G Adam step, EMA generator, running stats on the device.
  Two rows: ``channels_last=True`` (TrainConfig's default) and ``channels_last=False``.
- plain: the loop of pytorch/examples/dcgan/main.py on the SAME architecture (artforge's
  ``DCGANGenerator`` / ``DCGANDiscriminator`` at the same sizes, ``init_weights``), Adam(2e-4,
  (0.5, 0.999)), ``BCEWithLogitsLoss``: D on real (label 1), D on ``fake.detach()`` (label 0), step D;
  D(fake) with label 1, step G; five ``.item()`` calls per step, as the example prints. Data from
  ``DataLoader(TensorDataset(images in [-1, 1], labels), batch_size, shuffle=True, drop_last=True,
  num_workers=0)``, default (channels-first) memory format.

Each method is warmed up, then timed in ``--rounds`` interleaved rounds of ``--steps`` steps (order
reversed every other round; on CUDA the device is synchronised before and after each round). A round's
img/s is steps x batch / its wall time; the median over rounds is reported. CPU always runs; CUDA runs too
when ``torch.cuda.is_available()`` (``--device auto``, or ``--device cuda``), else it is reported skipped.
On CUDA artforge uses its default mixed precision (``--amp auto``: bf16 where supported); a fourth row then
runs artforge with ``amp="none"``, fp32 like the plain loop.

Target: artforge img/s / plain img/s >= 1.0 (artforge's default config, channels_last=True).

Full run (~1-2 min on 2 cores at 28 px):  python benchmarks/dcgan_throughput.py
Quick check (seconds):                    python benchmarks/dcgan_throughput.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from _common import machine_info, print_header, table
from artforge.families.config import TrainConfig
from artforge.families.registry import FAMILIES, check
from artforge.nn.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights
from artforge.train import build as training
from artforge.train.gan import GANTrainer
from artforge.train.processes import init_processes

TARGET = 1.0
REAL_LABEL, FAKE_LABEL = 1.0, 0.0  # as in pytorch/examples/dcgan/main.py


def param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class PlainDCGAN:
    """pytorch/examples/dcgan/main.py's training loop around artforge's DCGAN classes."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, z_dim: int, width: int, batch: int, device: torch.device,
        seed: int,
    ) -> None:  # fmt: skip
        torch.manual_seed(seed)
        channels, resolution = int(images.shape[1]), int(images.shape[2])
        self.device, self.z_dim = device, z_dim
        self.g = DCGANGenerator(z_dim, resolution, channels, width).to(device)
        self.g.apply(init_weights)
        self.d = DCGANDiscriminator(resolution, channels, width).to(device)
        self.d.apply(init_weights)
        self.criterion = nn.BCEWithLogitsLoss()
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        x = images.float().div(127.5).sub(1)  # [N, C, R, R] in [-1, 1], like Normalize((0.5,), (0.5,))
        self.loader = DataLoader(
            TensorDataset(x, labels), batch_size=batch, shuffle=True, drop_last=True, num_workers=0
        )  # fmt: skip
        self.batches: Iterator[list[torch.Tensor]] = iter(self.loader)
        self.last: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def _next(self) -> list[torch.Tensor]:
        """The next batch; a new epoch (reshuffled) when the loader is exhausted."""
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def step(self) -> None:
        data, dev = self._next(), self.device
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        self.d.zero_grad()
        real = data[0].to(dev)
        b = real.size(0)
        label = torch.full((b,), REAL_LABEL, dtype=real.dtype, device=dev)
        output = self.d(real)
        err_d_real = self.criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(b, self.z_dim, device=dev)  # the example's [b, nz, 1, 1]; artforge's G takes [b, nz]
        fake = self.g(noise)
        label.fill_(FAKE_LABEL)
        output = self.d(fake.detach())
        err_d_fake = self.criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        self.opt_d.step()
        # (2) Update G network: maximize log(D(G(z)))
        self.g.zero_grad()
        label.fill_(REAL_LABEL)  # fake labels are real for generator cost
        output = self.d(fake)
        err_g = self.criterion(output, label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        self.opt_g.step()
        self.last = (err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)  # what the example prints every step


@dataclass
class Method:
    name: str
    step: Callable[[], None]
    rates: list[float]  # img/s of each timed round


def run_steps(method: Method, n: int, device: torch.device) -> float:
    """Wall seconds of ``n`` steps (CUDA synchronised before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(n):
        method.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def artforge_trainer(
    args: argparse.Namespace, device: str, channels_last: bool, amp: str, ds: object, images: torch.Tensor
) -> GANTrainer:
    """A GANTrainer exactly as ``api.train`` builds it (the data set opened once and shared)."""
    cfg = TrainConfig(
        model="dcgan", data="fashion-mnist", resolution=args.resolution, batch=args.batch, width=args.width,
        seed=args.seed, device=device, amp=amp, channels_last=channels_last,
    )  # fmt: skip
    check(cfg)
    procs = init_processes(cfg.device)
    trainer = training.build_trainer(cfg, procs, ds, images, None)
    assert isinstance(trainer, GANTrainer)
    return trainer


def bench_device(
    args: argparse.Namespace, device: torch.device, ds: object, images: torch.Tensor, labels: torch.Tensor
) -> float:
    """Time every method on ``device``, print the tables; returns artforge(default) / plain."""
    dev = device.type
    variants = [(True, args.amp), (False, args.amp)]
    if dev == "cuda" and args.amp != "none":
        variants.append((True, "none"))
    methods: list[Method] = []
    trainers: list[GANTrainer] = []
    for cl, amp in variants:
        tr = artforge_trainer(args, dev, cl, amp, ds, images)
        trainers.append(tr)
        name = f"artforge channels_last={cl}" + (f" amp={amp}" if dev == "cuda" else "")
        methods.append(Method(name + (" (default)" if cl and amp == "auto" else ""), tr.step, []))
    z_dim = FAMILIES["dcgan"].z_dim
    width = args.width or FAMILIES["dcgan"].width
    plain = PlainDCGAN(images, labels, z_dim, width, args.batch, device, args.seed)
    methods.append(Method("plain (pytorch/examples loop)", plain.step, []))

    ref = trainers[0]
    same = (param_count(ref.g), param_count(ref.d)) == (param_count(plain.g), param_count(plain.d))
    assert same, "artforge and plain DCGANs differ in size"
    amp_note = {None: "fp32"}.get(ref.autocast, str(ref.autocast))
    print(f"== {dev} ==")
    print(
        f"models     : G {param_count(ref.g):,} params, D {param_count(ref.d):,} params (identical in both loops); "
        f"z_dim {z_dim}, width {width}"
    )
    print(f"precision  : artforge default {amp_note} (amp={args.amp}); plain fp32")
    print(f"protocol   : warm-up {args.warmup} steps/method, then {args.rounds} rounds x {args.steps} steps/method")
    sys.stdout.flush()

    for m in methods:
        if args.warmup:
            run_steps(m, args.warmup, device)
    for r in range(args.rounds):
        order = methods if r % 2 == 0 else methods[::-1]
        for m in order:
            m.rates.append(args.steps * args.batch / run_steps(m, args.steps, device))
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{m.name}={m.rates[-1]:.0f}" for m in methods) + " img/s")
        sys.stdout.flush()

    plain_rate = statistics.median(methods[-1].rates)
    rows = []
    for m in methods:
        med = statistics.median(m.rates)
        rows.append(
            [m.name, f"{med:.0f}", f"{min(m.rates):.0f}", f"{max(m.rates):.0f}", f"{med / plain_rate:.3f}"]
        )  # fmt: skip
    print()
    print(f"{dev}: training img/s at {images.shape[2]} px, batch {args.batch} ({len(methods[0].rates)} rounds):")
    print(table(["method", "median img/s", "min", "max", "vs plain"], rows))
    ratio = statistics.median(methods[0].rates) / plain_rate
    cl_gain = statistics.median(methods[0].rates) / statistics.median(methods[1].rates)
    print(f"channels_last True/False = {cl_gain:.3f}")
    print(flush=True)
    return ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=30, help="timed steps per method per round (default 30)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (default 3)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps of each method first (default 5)")
    p.add_argument("--batch", type=int, default=64, help="global batch (default 64)")
    p.add_argument("--resolution", type=int, choices=[28, 32, 64], default=28, help="px (default 28, native)")
    p.add_argument("--width", type=int, default=None, help="DCGAN width (default: the model's, 64)")
    p.add_argument("--amp", choices=["auto", "none", "bf16", "fp16"], default="auto", help="artforge, CUDA only")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CPU, plus CUDA if present")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="width 8, 3 steps, 1 round, 1 warm-up step: a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.width, args.steps, args.rounds, args.warmup = 8, 3, 1, 1

    print_header("artforge benchmark: DCGAN training throughput (GANTrainer vs plain loop)", machine_info(args.threads))
    cuda = torch.cuda.is_available()
    devices: list[torch.device] = []
    if args.device in ("auto", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device in ("auto", "cuda") and cuda:
        devices.append(torch.device("cuda"))
    gpu_note = ""
    if not cuda and args.device in ("auto", "cuda"):
        gpu_note = "GPU part skipped: no CUDA GPU is present (torch.cuda.is_available() is False)"
        print(gpu_note)
    elif cuda:
        print(f"gpu        : {torch.cuda.get_device_name()}")
    if not devices:
        print("RESULT: nothing measured ; cuda skipped (no GPU)")
        return 1

    t0 = time.perf_counter()
    cfg = TrainConfig(model="dcgan", data="fashion-mnist", resolution=args.resolution, conditional=False)
    ds, images, _ = training.open_data(cfg)
    labels = ds.tensors()[1]  # the plain loop's TensorDataset carries them, as a torchvision data set would
    print(f"data       : {ds!r}, opened in {time.perf_counter() - t0:.1f} s (not timed below)")
    print(flush=True)

    results: dict[str, float] = {}
    for device in devices:
        results[device.type] = bench_device(args, device, ds, images, labels)

    parts = []
    if "cpu" in results:
        verdict = "PASS" if results["cpu"] >= TARGET else "FAIL"
        parts.append(f"cpu artforge/plain = {results['cpu']:.3f} (median img/s) ; target >= {TARGET:.1f} : {verdict}")
    if "cuda" in results:
        ok = "PASS" if results["cuda"] >= TARGET else "FAIL"
        parts.append(f"cuda artforge/plain = {results['cuda']:.3f} : {ok}")
    elif gpu_note:
        parts.append("cuda skipped (no GPU)")
    note = "  (--quick: tiny model, not meaningful)" if args.quick else ""
    print(f"RESULT: {' ; '.join(parts)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
