"""Run directories and checkpoints: safetensors tensors + JSON metadata, written atomically.

A checkpoint holds every tensor of the training state (weights, EMA, optimiser moments, RNG
states as byte tensors) and one JSON document (step, config, optimiser hyper-parameters). It
never holds pickled code, so loading one cannot run anything.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError

FORMAT = "artforge-train-v1"
CKPT_RE = re.compile(r"checkpoint-(\d+)\.safetensors$")


def next_run_dir(outdir: str | os.PathLike[str], desc: str) -> Path:
    """``outdir/NNNNN-desc``, numbered one past the highest existing run (stylegan2-ada style)."""
    root = Path(outdir)
    if root.exists() and not root.is_dir():
        raise ArtforgeError(f"--out {root}: exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    run = root / f"{max(ids, default=-1) + 1:05d}-{desc}"
    run.mkdir()
    return run


def save(path: Path, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """Write tensors + JSON metadata to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_path(path) as tmp:
        flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        save_file(flat, str(tmp), metadata={"artforge": json.dumps({"format": FORMAT, **meta}, sort_keys=True)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())


def load(path: Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (none when ``tensors`` is False: metadata only) and metadata of an artforge checkpoint;
    anything else is an ArtforgeError."""
    if not path.is_file():
        raise ArtforgeError(f"{path}: no such checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta_text = (f.metadata() or {}).get("artforge")
            values = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtforgeError(f"{path}: not a readable artforge checkpoint ({e})") from None
    if not meta_text:
        raise ArtforgeError(f"{path}: not an artforge checkpoint (no artforge metadata)")
    meta = json.loads(meta_text)
    if meta.get("format") != FORMAT:
        raise ArtforgeError(f"{path}: unsupported checkpoint format {meta.get('format')!r}")
    return values, meta


def checkpoints(run: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    found = [(int(m.group(1)), p) for p in run.glob("checkpoint-*.safetensors") if (m := CKPT_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def latest(run_or_file: str | os.PathLike[str]) -> Path:
    """A checkpoint file itself, or the newest checkpoint in a run directory."""
    p = Path(run_or_file)
    if p.is_file():
        return p
    if not p.is_dir():
        raise ArtforgeError(f"{p}: no such run directory or checkpoint")
    found = checkpoints(p)
    if not found:
        raise ArtforgeError(f"{p}: holds no checkpoint-*.safetensors yet")
    return found[-1]


# ---------------------------------------------------------------- state <-> tensors


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def load_module(prefix: str, module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], where: Path) -> None:
    sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    try:
        module.load_state_dict(sub, strict=True)
    except RuntimeError:
        raise ArtforgeError(f"{where}: its {prefix} weights do not fit this model (another architecture?)") from None


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[Any]]:
    """Optimiser moments as tensors, hyper-parameters (param_groups) as JSON."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            tensors[f"{prefix}.{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, sd["param_groups"]


def load_optimizer(
    prefix: str, opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], groups: list[Any]
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            idx, key = k[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def rng_tensors(generators: Mapping[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """The global CPU/CUDA RNG states and named generators, as uint8 tensors."""
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    for name, g in generators.items():
        out[f"rng.gen.{name}"] = g.get_state()
    return out


def restore_rng(tensors: Mapping[str, torch.Tensor], generators: Mapping[str, torch.Generator]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    for name, g in generators.items():
        g.set_state(tensors[f"rng.gen.{name}"])
