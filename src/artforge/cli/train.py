"""``artforge train``: GAN / DCGAN / VAE / StyleGAN2 on a folder, a zip or a standard data set; ``--resume RUN``."""

from __future__ import annotations

import argparse
from typing import Any

from artforge.cli.choices import BACKBONES, FAMILIES

S = argparse.SUPPRESS


def _names(text: str) -> list[str]:
    return [m.strip().lower() for m in text.split(",") if m.strip()]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train a generative model (gan, dcgan, vae, stylegan2) or a styliser (johnson, gan-style, adain)",
        description="Train a generative model. Writes OUT/NNNNN-<model>-<data>/ with config.json, stats.jsonl, "
        "TensorBoard events, sample grids and checkpoints. Ctrl-C saves a checkpoint; --resume RUN continues exactly.",
    )  # fmt: skip
    p.add_argument("--model", choices=list(FAMILIES), default=S, help="(dcgan)")
    p.add_argument("--data", default=S, help="image folder, .zip, fashion-mnist, mnist, cifar10[:PATH] (fashion-mnist)")
    p.add_argument("--out", default="runs", help="parent directory of numbered run dirs (runs)")
    p.add_argument("--resume", metavar="RUN", help="continue a run dir from its newest checkpoint")
    g = p.add_argument_group("data")
    g.add_argument(
        "--resolution",
        type=int,
        default=S,
        help="28, 32, 64 or 128 (native size); stylegan2: a power of two from 8 (32 for the standard sets, "
        "else 64); stylisers: crop px (256)",
    )
    g.add_argument("--channels", type=int, choices=[1, 3], default=S)
    g.add_argument("--mirror", action="store_true", default=S, help="add x-flipped copies")
    g.add_argument("--conditional", action="store_true", default=S, help="class-conditional, from the labels")
    g.add_argument("--max-images", type=int, default=S)
    g = p.add_argument_group("model")
    g.add_argument("--z-dim", type=int, default=S)
    g.add_argument("--width", type=int, default=S, help="channel width (model default)")
    g.add_argument("--loss", choices=["bce", "hinge", "wgan-gp"], default=S, help="(bce, non-saturating)")
    g.add_argument("--spectral-norm", action="store_true", default=S)
    g.add_argument("--gp-weight", type=float, default=S, help="WGAN-GP lambda (10)")
    g.add_argument("--beta", type=float, default=S, help="VAE KL weight (1)")
    g.add_argument("--likelihood", choices=["bernoulli", "gaussian", "logistic"], default=S)
    g = p.add_argument_group("stylegan2 (Karras et al. 2020)")
    g.add_argument("--augment", default=S, metavar="ada|fixed:P|none", help="discriminator augmentation (ada)")
    g.add_argument("--ada-target", type=float, default=S, help="ADA's target for E[sign(D(real))] (0.6)")
    g.add_argument("--ada-kimg", type=float, default=S, help="kimg over which ADA's p can rise from 0 to 1 (500)")
    g.add_argument("--r1-gamma", type=float, default=S, help="R1 weight (0.0002 x resolution^2 / batch)")
    g.add_argument("--pl-weight", type=float, default=S, help="path-length regularisation weight (2; 0 = off)")
    g.add_argument("--style-mixing", type=float, default=S, help="style-mixing probability (0.9)")
    g.add_argument("--mapping-layers", type=int, default=S, help="FC layers of the mapping network (8)")
    g = p.add_argument_group("stylisers (johnson, gan-style, adain)")
    g.add_argument("--style", nargs="+", default=S, help="style image(s) (johnson, gan-style) or folder(s) of works")
    g.add_argument("--style-size", type=int, default=S, help="long side of the style images (2 x resolution)")
    g.add_argument("--content-weight", type=float, default=S, help="on the relative content loss (1)")
    g.add_argument("--style-weight", type=float, default=S,
                   help="on the relative style loss (5; adain 10, but 1 trains better: docs/models.md)")  # fmt: skip
    g.add_argument("--tv-weight", type=float, default=S, help="total variation (1; adain 0)")
    g.add_argument("--targets", default=S, metavar="DIR",
                   help="johnson, gan-style: stylised versions of --data's photos (same names) to distil")  # fmt: skip
    g.add_argument("--target-weight", type=float, default=S, help="on the relative feature error to --targets (1)")
    g.add_argument("--adv-weight", type=float, default=S, help="gan-style lambda3 on the hinge loss (0.05)")
    g.add_argument("--no-skip", dest="skip", action="store_false", default=S,
                   help="the paper's network: johnson/gan-style without artforge's y = x + f(x) skip, "
                        "adain without the decoder's multi-level skips")  # fmt: skip
    g.add_argument("--weights", default=S, help="VGG weights of the loss network (vgg16-hed)")
    g.add_argument("--encoder-width", type=int, default=S, metavar="K",
                   help="adain: distil a K-times thinner VGG encoder first (fast); --width follows it")  # fmt: skip
    g.add_argument("--distill-kimg", type=float, default=S, help="adain --encoder-width: distillation length (4)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--kimg", type=float, default=S, help="thousands of images to train for (10)")
    g.add_argument("--batch", type=int, default=S, help="global batch (64)")
    g.add_argument("--accumulate", type=int, default=S, help="micro-batches per step (1)")
    g.add_argument("--lr", type=float, default=S, help="Adam learning rate (2e-4 GAN, 1e-3 VAE, 0.0025 stylegan2)")
    g.add_argument(
        "--betas", type=float, nargs=2, default=S, help="Adam betas (0.5 0.999 GAN, 0.9 0.999 VAE, 0 0.99 stylegan2)"
    )
    g.add_argument(
        "--ema-kimg", type=float, default=S, help="G EMA half-life in kimg (1; stylegan2 batch/3.2; 0 = off)"
    )
    g.add_argument("--seed", type=int, default=S)
    g.add_argument("--device", default=S, help="auto, cpu, cuda (auto)")
    g.add_argument(
        "--amp", choices=["auto", "none", "bf16", "fp16"], default=S,
        help="mixed precision (auto: bf16 or fp16 on CUDA; stylisers also bf16 on a CPU with AMX/AVX512-BF16)",
    )  # fmt: skip
    g = p.add_argument_group("output")
    g.add_argument("--snap", dest="snap_kimg", type=float, default=S, help="checkpoint + grid every K kimg (5)")
    g.add_argument("--tick", dest="tick_kimg", type=float, default=S, help="log every K kimg (1)")
    g.add_argument("--keep", type=int, default=S, help="checkpoints to keep (3)")
    g = p.add_argument_group("sample quality while training (see docs/metrics.md)")
    g.add_argument(
        "--metrics",
        type=_names,
        default=S,
        metavar="M[,M]",
        help="fid, kid, is, pr of G_ema against the training data; the first picks RUN/best.safetensors",
    )
    g.add_argument("--metrics-every", type=float, default=S, metavar="K", help="every K kimg (every snapshot)")
    g.add_argument(
        "--metrics-samples",
        type=int,
        default=S,
        metavar="N",
        help="generated images, against the first min(N, data set size) real ones (10000)",
    )
    g.add_argument("--metrics-backbone", default=S, help=f"{', '.join(BACKBONES)} (inception; vgg16 works offline)")
    g.add_argument("--metrics-weights", metavar="FILE", default=S, help="local weights for the backbone")
    g.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api
    from artforge.api import TrainConfig, TrainingInterrupted

    fields = set(TrainConfig.__dataclass_fields__)
    overrides = {k: v for k, v in vars(args).items() if k in fields}
    try:
        last = api.train(out=args.out, resume=args.resume, progress=not args.quiet, **overrides)
    except TrainingInterrupted as e:
        print(f"interrupted; saved {e.checkpoint}. Continue with: artforge train --resume {e.checkpoint.parent}")
        return 130
    print(f"done; newest checkpoint: {last}")
    return 0
