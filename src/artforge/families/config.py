"""TrainConfig: everything that determines a training run, saved as RUN/config.json (data only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from artforge.core.config import Config


@dataclass
class TrainConfig(Config):
    """Everything that determines a generative training run; saved as RUN/config.json."""

    model: str = "dcgan"  # gan | dcgan | vae | stylegan2 | johnson | gan-style | adain (artforge.families.registry)
    data: str = "fashion-mnist"  # folder, .zip, fashion-mnist, mnist, cifar10[:PATH]
    resolution: int | None = None  # None = the data set's native size (folders: 64)
    channels: int | None = None  # None = the data set's own
    mirror: bool = False  # add x-flipped copies of every image
    conditional: bool = False  # class-conditional model from the data set's labels
    max_images: int | None = None
    z_dim: int | None = None  # None = 100 for GANs, 32 for the VAE, 512 for stylegan2 (also its w_dim)
    width: int | None = None  # channel (or unit) width; None = the model's default
    loss: str = "bce"  # bce (non-saturating) | hinge | wgan-gp
    spectral_norm: bool = False
    gp_weight: float = 10.0  # lambda of the WGAN-GP gradient penalty
    beta: float = 1.0  # VAE KL weight (beta-VAE)
    likelihood: str | None = None  # VAE: None = bernoulli for grey, logistic for colour
    style: list[str] = field(default_factory=list)  # stylisers: style image(s); adain: folder(s) of works
    style_size: int | None = None  # long side of style images (johnson, gan-style); None = 2 x resolution
    content_weight: float | None = None  # stylisers' alpha / lambda1; None = the model's default
    style_weight: float | None = None  # beta / lambda2; None = the model's default
    tv_weight: float | None = None  # gamma; None = the model's default
    targets: str | None = None  # johnson/gan-style: folder of stylised versions of --data (distillation targets)
    target_weight: float = 1.0  # weight of L_target, the relative VGG-feature error to the target
    adv_weight: float = 0.05  # gan-style lambda3, on the hinge adversarial loss
    skip: bool = True  # johnson/gan-style: y = x + f(x) from the identity; adain: decoder skips (False: papers' nets)
    weights: str = "vgg16-hed"  # stylisers: VGG weights of the loss network / AdaIN encoder
    encoder_width: int = 1  # adain: >1 distils a k-times thinner encoder first (Wang et al. 2020); 1 = the VGG
    distill_kimg: float = 4.0  # adain with encoder_width > 1: kimg of encoder distillation before the decoder
    batch: int = 64  # global batch, over all processes
    accumulate: int = 1  # micro-batches per step (gradient accumulation)
    lr: float | None = None  # Adam; None = 2e-4 for GANs (Radford et al. 2016), 1e-3 for the VAE
    betas: list[float] | None = None  # None = (0.5, 0.999) for GANs, (0.9, 0.999) for the VAE
    ema_kimg: float | None = None  # half-life of the generator EMA, kimg (0 = off); None = 1, stylegan2 batch/3.2
    augment: str | None = None  # stylegan2: ada | fixed:P | none (None = ada); Karras et al. 2020b
    ada_target: float = 0.6  # stylegan2 ADA: the target of r_t = E[sign(D(real))]
    ada_kimg: float = 500.0  # stylegan2 ADA: kimg over which p can rise from 0 to 1 (the paper: 500)
    r1_gamma: float | None = None  # stylegan2: R1 weight; None = 0.0002 * resolution^2 / batch (ADA's auto)
    pl_weight: float = 2.0  # stylegan2: path-length regularisation weight (0 = off)
    style_mixing: float = 0.9  # stylegan2: probability of style-mixing regularisation
    mapping_layers: int = 8  # stylegan2: FC layers of the mapping network
    kimg: float = 10.0  # length of training, thousands of real images shown
    snap_kimg: float = 5.0  # checkpoint + sample grid interval
    tick_kimg: float = 1.0  # logging interval
    keep: int = 3  # checkpoints kept (the newest)
    metrics: list[str] = field(default_factory=list)  # fid, kid, is, pr in training; the first picks best.safetensors
    metrics_every: float | None = None  # kimg between evaluations (each on a snapshot); None = every snapshot
    metrics_samples: int = 10_000  # generated images per evaluation, against min(N, data set size) real ones
    metrics_backbone: str = "inception"  # inception | vgg16 (offline weights; its values only compare with vgg16)
    metrics_weights: str | None = None  # a local weights file for the metrics backbone; None = the standard one
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off on CPU; stylisers: bf16 where native) | none | bf16 | fp16
    channels_last: bool = True
