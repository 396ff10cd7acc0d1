"""Training feed-forward stylisers with the VGG losses of the Gatys work.

- johnson:   L = a L_content(f(x), x) + b L_style(f(x), s) + g L_tv   (Johnson et al. 2016)
- gan-style: L = l1 L_content + l2 L_style + l3 L_adv, with a PatchGAN telling crops of the style
             image(s) from crops of f(x) (the seed design's GAN-based stylisation)
  With ``--targets`` (distillation, e.g. from Gatys results t of the same photos): + d L_target, where
  L_target = mean_l ||F_l(f(x)) - F_l(t)||^2 / ||F_l(t)||^2 over the style layers, on crops cut alike
  from photo and target (docs/models.md: tried on CPU, not yet enough to ship)
- adain:     L = L_c(f(g(t)), t) + l L_s(moments), t = AdaIN(f(c), f(s))   (Huang & Belongie 2017)
             With ``--encoder-width k``: first distil a k-times thinner VGG student f' (Wang et al.
             2020, artforge.nn.distill), then train g on t' = AdaIN(f'(c), f'(s)) with the same
             losses in the teacher's space, L_c against AdaIN(f(c), f(s)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from artforge.core import checkpoint as ckpt
from artforge.core.device import native_bf16
from artforge.core.errors import ArtforgeError
from artforge.data.crops import centre_crops, crop_generator, random_crops
from artforge.families.config import TrainConfig
from artforge.families.stylizer import ENCODER, StylizerFamily
from artforge.nn.adain import LAYER, STYLE_LAYERS, adain, adain_forward, target_layers
from artforge.nn.distill import Embeddings, student_of
from artforge.nn.encoders import VGGEncoder
from artforge.objectives import functional as Fn
from artforge.objectives.adversarial import d_loss, g_loss
from artforge.objectives.distill import embedding_loss
from artforge.train.batches import Batches
from artforge.train.processes import Processes, all_reduce_grads
from artforge.train.stats import Stats

GRID = 8
JOHNSON_CONTENT = ["relu2_2"]  # Johnson et al. 2016, sec. 4.1
JOHNSON_STYLE = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]


def stylizer_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the VGG loss network and the AdaIN decoder: ``auto`` is bf16 where it is native (a CUDA
    GPU with bf16, a CPU with AVX512-BF16 or AMX: ~2x faster steps on such a CPU), else fp32. The losses run in fp32,
    and so do the Johnson / gan-style network and the discriminator: their instance norm turns a near-constant
    channel's bf16 rounding noise (an ulp of its bias) into unit-variance noise, which wrecked bf16 training of a
    Johnson network within ~1,500 steps (NaN gradients; the fp32 loss of the same weights was a third)."""
    if amp == "fp16":
        raise ArtforgeError("--amp fp16: stylisers train in bf16 or fp32 (--amp auto|bf16|none)")
    if amp == "bf16" or (amp == "auto" and native_bf16(str(device))):
        return torch.bfloat16
    return None


class StylizerTrainer:
    """One Adam step of the stylisation network (and, for gan-style, one of the discriminator) per ``step()``.

    ``content`` is the uint8 crop pool ``[N, 3, 2R, 2R]``; ``style`` is the style pool (adain: crops
    are drawn from it each step) or the style images ``[K, 3, h, w]`` in [0, 1] (johnson, gan-style).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        family: StylizerFamily,
        net: nn.Module,
        encoder: VGGEncoder,
        content: torch.Tensor,
        style: list[torch.Tensor],
        procs: Processes,
        disc: nn.Module | None = None,
    ) -> None:
        self.cfg, self.procs, self.kind = cfg, procs, cfg.model
        dev = procs.device
        self.net, self.encoder = net.to(dev), encoder.to(dev)
        self.disc = disc.to(dev) if disc is not None else None
        self.content = content
        self.res = cfg.resolution or 256
        lr, betas = family.adam(cfg)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=betas) if self.disc is not None else None
        self.batches = Batches(len(content), cfg.batch, cfg.seed)
        self.student: VGGEncoder | None = None  # adain --encoder-width k: the distilled encoder f'
        self.distill_steps = 0
        if self.kind == "adain" and cfg.encoder_width > 1:
            self.student, kept = student_of(self.encoder, cfg.encoder_width, LAYER)
            self.student.to(dev)
            self.embed = Embeddings(self.student, self.encoder, STYLE_LAYERS, kept).to(dev)
            self.opt_e = torch.optim.Adam([*self.student.parameters(), *self.embed.parameters()], lr=lr, betas=betas)
            self.distill_steps = round(cfg.distill_kimg * 1000 / cfg.batch)
        self.step_index = 0
        self.stats = Stats()
        self.amp = stylizer_amp(cfg.amp, dev)
        self.w_content, self.w_style, self.w_tv = family.loss_weights(cfg)
        self.paired = content.shape[1] == 6  # photo | target channels (--targets)
        self.preview = centre_crops(content, min(GRID, len(content)), self.res)[:, :3].to(dev)
        if self.kind == "adain":
            self.style_pool = style[0]  # uint8 [M, 3, 2R, 2R]
            self.style_batches = Batches(len(self.style_pool), min(cfg.batch, len(self.style_pool)), cfg.seed + 1)
            self.preview_style = centre_crops(self.style_pool, len(self.preview), self.res)
            self.preview_style = self.preview_style[torch.arange(len(self.preview)) % len(self.preview_style)].to(dev)
        else:
            self.style_images = [s.to(dev) for s in style]
            with torch.no_grad():
                grams = [{k: Fn.gram(v) for k, v in self.encoder(s, JOHNSON_STYLE).items()} for s in self.style_images]
            self.targets = Fn.blend_grams(grams, [1.0] * len(grams))  # [1, C, C] per layer

    # ------------------------------------------------------------------ steps

    def _local(self, t: torch.Tensor) -> torch.Tensor:
        per = self.cfg.batch // self.procs.world
        return t[self.procs.rank * per : (self.procs.rank + 1) * per]

    def _content_batch(self) -> torch.Tensor:
        """This process's slice of the global batch of crops (drawn identically on every process)."""
        gen = crop_generator(self.cfg.seed, self.step_index)
        crops = random_crops(self.content, self.batches.indices(self.step_index), self.res, gen)
        return self._local(crops).to(self.procs.device)

    def _style_crops(self, n: int, salt: int) -> torch.Tensor:
        """``n`` random crops of the style image(s) at their training scale, [n, 3, R, R]."""
        gen = crop_generator(self.cfg.seed, self.step_index, salt)
        out = []
        for _ in range(n):
            s = self.style_images[int(torch.randint(len(self.style_images), (1,), generator=gen))]
            h, w = s.shape[-2:]
            r = min(self.res, h, w)
            y = int(torch.randint(h - r + 1, (1,), generator=gen))
            x = int(torch.randint(w - r + 1, (1,), generator=gen))
            out.append(s[0, :, y : y + r, x : x + r])
        return torch.stack(out)

    @property
    def distilling(self) -> bool:
        return self.step_index < self.distill_steps

    def step(self) -> None:
        x = self._content_batch()  # [B, 3, R, R] in [0, 1] ([B, 6, R, R] with --targets: photo | target)
        x, t = (x[:, :3], x[:, 3:]) if self.paired else (x, None)
        if self.distilling:
            self._distill_step(x)
            return
        if self.kind == "adain":
            loss = self._adain_loss(x)
        else:
            y = self.net(x)  # fp32: instance norm (stylizer_amp)
            loss = self._perceptual_loss(x, y, t)
            if self.disc is not None:
                self._disc_step(y.detach())
                self.disc.requires_grad_(False)  # G's adversarial term: no gradients for D's weights
                adv = g_loss("hinge", self.disc(y).flatten())
                self.disc.requires_grad_(True)
                self.stats.add("loss/adv", adv)
                loss = loss + self.cfg.adv_weight * adv
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        all_reduce_grads(self.net.parameters(), self.procs.world)
        self.opt.step()
        self.stats.add("loss/total", loss)
        self.step_index += 1

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.procs.device.type, self.amp or torch.bfloat16, enabled=self.amp is not None)

    def _decode(self, t: torch.Tensor, skips: dict[str, torch.Tensor]) -> torch.Tensor:
        """The AdaIN decoder (no normalisation layers) under the run's autocast, returned in fp32 for the losses."""
        with self._autocast():
            return self.net(t, skips).float()  # type: ignore[no-any-return]

    def _features(self, encoder: VGGEncoder, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """``encoder(x, layers)`` under the run's autocast, in fp32 for the losses."""
        with self._autocast():
            return {k: v.float() for k, v in encoder(x, layers).items()}

    def _perceptual_loss(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            fx = self._features(self.encoder, x, JOHNSON_CONTENT)
            ft = self._features(self.encoder, t, JOHNSON_STYLE) if t is not None else None
        fy = self._features(self.encoder, y, sorted(set(JOHNSON_CONTENT + JOHNSON_STYLE)))
        lc = sum(Fn.content_loss(fy[k], fx[k]) for k in JOHNSON_CONTENT) / len(JOHNSON_CONTENT)
        targets = {k: v.expand(len(y), -1, -1) for k, v in self.targets.items()}
        ls = Fn.style_loss({k: fy[k] for k in JOHNSON_STYLE}, targets, dict.fromkeys(JOHNSON_STYLE, 1.0))
        ltv = Fn.tv_loss(y)
        self.stats.add("loss/content", lc)  # type: ignore[arg-type]
        self.stats.add("loss/style", ls)
        self.stats.add("loss/tv", ltv)
        loss = self.w_content * lc + self.w_style * ls + self.w_tv * ltv
        if ft is not None:
            lt = sum(Fn.relative_mse(fy[k], ft[k]) for k in JOHNSON_STYLE) / len(JOHNSON_STYLE)
            self.stats.add("loss/target", lt)  # type: ignore[arg-type]
            loss = loss + self.cfg.target_weight * lt
        return loss  # type: ignore[no-any-return]

    def _disc_step(self, fake: torch.Tensor) -> None:
        assert self.disc is not None and self.opt_d is not None
        real = self._style_crops(len(fake), salt=1)
        loss = d_loss("hinge", self.disc(real).flatten(), self.disc(fake).flatten())
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        all_reduce_grads(self.disc.parameters(), self.procs.world)
        self.opt_d.step()
        self.stats.add("loss/D", loss)

    def _adain_styles(self, n: int) -> torch.Tensor:
        """``n`` random crops of the style pool, [n, 3, R, R] in [0, 1]."""
        gen = crop_generator(self.cfg.seed, self.step_index, salt=2)
        idx = self.style_batches.indices(self.step_index)
        idx = idx[torch.randint(len(idx), (n,), generator=gen)]
        return random_crops(self.style_pool, idx, self.res, gen).to(self.procs.device)

    def _distill_step(self, c: torch.Tensor) -> None:
        """One Adam step of the student f' and its embeddings on photos and paintings alike."""
        assert self.student is not None
        x = torch.cat([c, self._adain_styles(len(c))])
        with torch.no_grad():
            ft = self._features(self.encoder, x, STYLE_LAYERS)
        loss = embedding_loss(self._features(self.student, x, STYLE_LAYERS), ft, self.embed)
        self.opt_e.zero_grad(set_to_none=True)
        loss.backward()
        params = [*self.student.parameters(), *self.embed.parameters()]
        all_reduce_grads(params, self.procs.world)
        self.opt_e.step()
        self.stats.add("loss/distill", loss)
        self.step_index += 1

    def _adain_loss(self, c: torch.Tensor) -> torch.Tensor:
        s = self._adain_styles(len(c))
        layers = target_layers(self.net)  # relu4_1 and the decoder's skips, all among STYLE_LAYERS
        with torch.no_grad():
            fs = self._features(self.encoder, s, STYLE_LAYERS)
            if self.student is None:
                fc, fs_t = self._features(self.encoder, c, layers), fs
            else:
                fc, fs_t = self._features(self.student, c, layers), self._features(self.student, s, layers)
            t = {k: adain(fc[k], fs_t[k]) for k in layers}
            target = (
                t[LAYER] if self.student is None else adain(self._features(self.encoder, c, [LAYER])[LAYER], fs[LAYER])
            )
        g = self._decode(t[LAYER], t)
        fg = self._features(self.encoder, g, STYLE_LAYERS)
        lc = Fn.relative_mse(fg[LAYER], target)
        ls = Fn.moment_loss(fg, fs)
        self.stats.add("loss/content", lc)
        self.stats.add("loss/style", ls)
        return self.w_content * lc + self.w_style * ls + self.w_tv * Fn.tv_loss(g)

    # ------------------------------------------------------------------ outputs and state

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """Fixed preview crops, stylised (adain: each with its own fixed style crop) and the inputs above."""
        self.net.eval()
        if self.kind == "adain":
            enc = self.student or self.encoder
            y = adain_forward(enc, self.net, self.preview, [self.preview_style])  # each crop with its own style
            out = torch.cat([self.preview_style, y.clamp(0, 1)])
        else:
            out = self.net(self.preview).clamp(0, 1)
        self.net.train()
        return torch.cat([self.preview, out]).float().cpu()

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        t = ckpt.module_tensors("G", self.net)
        to, groups = ckpt.optimizer_tensors("opt", self.opt)
        t.update(to)
        all_groups = {"opt": groups}
        if self.student is not None:
            t.update(ckpt.module_tensors(ENCODER, self.student))
            t.update(ckpt.module_tensors("P", self.embed))
            te, groups_e = ckpt.optimizer_tensors("opt_e", self.opt_e)
            t.update(te)
            all_groups["opt_e"] = groups_e
        if self.disc is not None and self.opt_d is not None:
            t.update(ckpt.module_tensors("D", self.disc))
            td, groups_d = ckpt.optimizer_tensors("opt_d", self.opt_d)
            t.update(td)
            all_groups["opt_d"] = groups_d
        meta = {"step": self.step_index, "kimg": self.step_index * self.cfg.batch / 1000, "groups": all_groups}
        return t, meta

    def restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], where: Path) -> None:
        net = meta.get("net", {})  # files from before the skip options have neither
        if self.kind == "adain":
            saved, wanted = list(net.get("skips", ())), target_layers(self.net)[1:]
            if saved != wanted:
                hint = ' (a run from before AdaIN skips: set "skip": false in its config.json)' if not saved else ""
                raise ArtforgeError(f"{where}: its decoder's skips are {saved}, the run config's {wanted}{hint}")
            if (saved_k := int(net.get("encoder_width", 1))) != (k := self.cfg.encoder_width):
                raise ArtforgeError(f"{where}: its encoder is 1/{saved_k} of the VGG's width, the run config's 1/{k}")
        elif (saved_skip := bool(net.get("skip", False))) != getattr(self.net, "skip", False):
            raise ArtforgeError(f"{where}: its network {'has' if saved_skip else 'lacks'} the skip its run config says")
        ckpt.load_module("G", self.net, tensors, where)
        ckpt.load_optimizer("opt", self.opt, tensors, meta["groups"]["opt"])
        if self.student is not None:
            ckpt.load_module(ENCODER, self.student, tensors, where)
            ckpt.load_module("P", self.embed, tensors, where)
            ckpt.load_optimizer("opt_e", self.opt_e, tensors, meta["groups"]["opt_e"])
        if self.disc is not None and self.opt_d is not None:
            ckpt.load_module("D", self.disc, tensors, where)
            ckpt.load_optimizer("opt_d", self.opt_d, tensors, meta["groups"]["opt_d"])
        self.step_index = int(meta["step"])
