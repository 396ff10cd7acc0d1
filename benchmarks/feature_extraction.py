"""Feature-extraction throughput (images/s) of the metric backbones, the first stage of FID (Heusel et al. 2017).

For each backbone (``inception``: the FID InceptionV3 at 299 px; ``vgg16``: the offline VGG16 to relu5_3 at 224 px)
on the first ``--images`` Fashion-MNIST test images (28 px grey, read from /usr/share/datasets/fashion-mnist/):

- resize: ``resize_clean`` alone (clean-fid's PIL bicubic per channel in float), images/s;
- network: the backbone's forward on already-resized batches of ``--batch``, images/s, median of ``--rounds``;
- end to end: ``artforge.metrics.array_features`` (resize + forward, no cache), images/s, median of ``--rounds``;

so the end-to-end figure is what ``artforge eval`` and ``train --metrics`` see per image. Without the standard
Inception weights (offline, not in the artforge cache) the Inception is built with random weights and the output
says so: speed does not depend on the weights' values.

Full run (~7 min on 2 cores):  python benchmarks/feature_extraction.py
Quick check (seconds):         python benchmarks/feature_extraction.py --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

from _common import machine_info, print_header, table
from artforge.core.errors import ArtforgeError
from artforge.metrics import backbones
from artforge.metrics.features import array_features


def build(name: str, device: str) -> tuple[backbones.Backbone, str]:
    """The backbone ready to run, and where its weights came from."""
    try:
        net = backbones.Backbone(name, device=device, download=False, progress=False)
        net.net  # noqa: B018 - build now: a missing file should show here, not inside a timing
        return net, net.tag
    except ArtforgeError as e:
        if name != "inception":
            raise
        from artforge.metrics.inception import FIDInceptionV3

        print(f"note: {e}\nnote: timing the FID InceptionV3 with RANDOM weights; speed does not depend on them\n")
        spec = dataclasses.replace(
            backbones.BACKBONES["inception"], name="inception-random",
            build=lambda w, d, p: FIDInceptionV3().eval().requires_grad_(False), tag=lambda w: "inception-random",
        )  # fmt: skip
        backbones.BACKBONES["inception-random"] = spec
        return backbones.Backbone("inception-random", device=device, progress=False), "random (weights absent)"


def fashion(n: int) -> np.ndarray:
    """The first ``n`` Fashion-MNIST test images, uint8 ``[n, 1, 28, 28]``."""
    from artforge.data.datasets import open_dataset

    return open_dataset("fashion-mnist", split="test", max_images=n).tensors()[0].numpy()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", default="inception,vgg16", help="comma-separated (inception,vgg16)")
    p.add_argument("--images", type=int, default=256, help="Fashion-MNIST test images per round (256)")
    p.add_argument("--batch", type=int, default=32, help="images per forward pass, as artforge eval (32)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per measurement; the median is reported (3)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--quick", action="store_true", help="16 images, 1 round: a smoke test")
    args = p.parse_args()
    if args.quick:
        args.images, args.rounds = 16, 1
    info = machine_info(args.threads)
    print_header("metric feature extraction, images/s", [*info, ("load average", f"{os.getloadavg()[0]:.2f}")])
    images = fashion(args.images)
    rows = []
    for name in args.backbones.split(","):
        net, source = build(name, args.device)
        size = net.spec.input_size
        pil = [Image.fromarray(a[0]) for a in images]
        t0 = time.perf_counter()
        resized = np.stack([backbones.resize_clean(im, size) for im in pil])  # [N, 3, S, S]
        resize_rate = len(pil) / (time.perf_counter() - t0)
        net(resized[:2])  # warm-up
        forward, end_to_end = [], []
        for _ in range(args.rounds):
            sync(args.device)
            t0 = time.perf_counter()
            for i in range(0, len(resized), args.batch):
                net(resized[i : i + args.batch])
            sync(args.device)
            forward.append(len(resized) / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            array_features(images, net, batch=args.batch, progress=False, cache=False)
            sync(args.device)
            end_to_end.append(len(images) / (time.perf_counter() - t0))
        rows.append((name, source, size, resize_rate, statistics.median(forward), statistics.median(end_to_end)))
        print(f"{name}: network {rows[-1][4]:.1f} img/s, end to end {rows[-1][5]:.1f} img/s", flush=True)
    print()
    headers = ["backbone", "weights", "input px", "resize img/s", "network img/s", "end-to-end img/s"]
    print(table(headers, [[n, s, z, f"{r:.0f}", f"{f:.1f}", f"{e:.1f}"] for n, s, z, r, f, e in rows]))
    print(f"\n{args.images} Fashion-MNIST test images (28 px), batch {args.batch}, {args.device}, median of "
          f"{args.rounds} rounds; end to end = resize_clean + forward (array_features, no cache)")  # fmt: skip
    summary = ", ".join(f"{n} {e:.1f} img/s" for n, _, _, _, _, e in rows)
    print(f"RESULT: end-to-end feature extraction on {args.device}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
