"""Checkpoints: safetensors tensors + JSON metadata written atomically; foreign files refused; newest by
step number; module / optimiser / RNG state through tensors, so a resumed step equals an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "G.weight": torch.randn(3, 4, generator=g),
        "G.bias": torch.randn(4, generator=g).to(torch.bfloat16),
        "steps": torch.tensor([1, 2, 3], dtype=torch.int64),
        "rng.torch": torch.randint(0, 256, (16,), dtype=torch.uint8, generator=g),
        "transposed": torch.arange(6.0).reshape(2, 3).t(),  # not contiguous
    }


def test_tensors_and_metadata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint-00000005.safetensors"
    meta = {"step": 5, "config": {"model": "dcgan", "betas": [0.5, 0.999], "lr": None}, "kimg": 0.32}
    ckpt.save(path, _tensors(), meta)
    tensors, back = ckpt.load(path)
    assert back == {"format": ckpt.FORMAT, **meta}
    assert tensors.keys() == _tensors().keys()
    for k, v in _tensors().items():
        assert tensors[k].dtype == v.dtype and torch.equal(tensors[k], v), k
    none, meta_only = ckpt.load(path, tensors=False)
    assert none == {} and meta_only == back
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_a_failed_write_keeps_the_old_checkpoint_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint-00000005.safetensors"
    ckpt.save(path, {"w": torch.ones(2)}, {"step": 5})
    old_bytes = path.read_bytes()

    def half_written(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str]) -> None:
        Path(filename).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{")  # a truncated file, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", half_written)  # imported inside save() ...
    monkeypatch.setattr(ckpt, "save_file", half_written, raising=False)  # ... or at the module's top
    with pytest.raises(OSError, match="No space left"):
        ckpt.save(path, {"w": torch.zeros(2)}, {"step": 6})
    assert path.read_bytes() == old_bytes
    tensors, meta = ckpt.load(path)
    assert torch.equal(tensors["w"], torch.ones(2)) and meta["step"] == 5
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_files_that_are_not_artforge_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtforgeError, match="no such checkpoint"):
        ckpt.load(tmp_path / "missing.safetensors")
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.ones(2)}, str(plain))  # someone else's safetensors file
    with pytest.raises(ArtforgeError, match="not an artforge checkpoint"):
        ckpt.load(plain)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.ones(2)}, str(other), metadata={"artforge": json.dumps({"format": "artforge-train-v0"})})
    with pytest.raises(ArtforgeError, match="unsupported checkpoint format 'artforge-train-v0'"):
        ckpt.load(other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"PK\x03\x04 this is a zip file, not safetensors")
    with pytest.raises(ArtforgeError, match="not a readable artforge checkpoint"):
        ckpt.load(garbage)
    for bad in (plain, other, garbage):  # the one-line message names the file
        with pytest.raises(ArtforgeError) as info:
            ckpt.load(bad)
        assert str(info.value).startswith(str(bad)) and "\n" not in str(info.value)


def test_checkpoints_are_ordered_by_step_number_not_by_name(tmp_path: Path) -> None:
    run = tmp_path / "00000-dcgan"
    run.mkdir()
    with pytest.raises(ArtforgeError, match="holds no checkpoint"):
        ckpt.latest(run)
    steps = [10, 100_000_000, 9, 99_999_999, 0]  # {:08d}: the 9-digit step sorts first by name
    for s in steps:
        (run / f"checkpoint-{s:08d}.safetensors").write_bytes(b"")
    for name in ("checkpoint-best.safetensors", ".checkpoint-00000011.safetensors.x1.tmp", "samples-00000012.png"):
        (run / name).write_bytes(b"")  # not checkpoints
    found = ckpt.checkpoints(run)
    assert [p.name for p in found] == [f"checkpoint-{s:08d}.safetensors" for s in sorted(steps)]
    assert ckpt.latest(run) == run / "checkpoint-100000000.safetensors"
    assert ckpt.latest(str(run / "checkpoint-00000009.safetensors")) == run / "checkpoint-00000009.safetensors"
    with pytest.raises(ArtforgeError, match="no such run directory or checkpoint"):
        ckpt.latest(tmp_path / "nope")


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.zero_grad()
    net(x).square().mean().backward()
    opt.step()


def test_module_and_optimizer_resume_takes_the_uninterrupted_step(tmp_path: Path) -> None:
    torch.manual_seed(0)
    xs = [torch.randn(8, 3) for _ in range(3)]
    net = _net().train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.99))
    for x in xs[:2]:
        _step(net, opt, x)
    # checkpoint after two steps: weights, BatchNorm buffers, Adam moments; hyper-parameters as JSON
    opt_t, groups = ckpt.optimizer_tensors("opt.G", opt)
    path = tmp_path / "checkpoint-00000002.safetensors"
    ckpt.save(path, {**ckpt.module_tensors("G", net), **opt_t}, {"step": 2, "groups": groups})
    _step(net, opt, xs[2])  # the uninterrupted third step

    tensors, meta = ckpt.load(path)
    net2 = _net().train()
    opt2 = torch.optim.Adam(net2.parameters(), lr=1.0)  # overwritten by the saved param_groups
    ckpt.load_module("G", net2, tensors, path)
    ckpt.load_optimizer("opt.G", opt2, tensors, meta["groups"])
    assert opt2.param_groups[0]["lr"] == 1e-2 and list(opt2.param_groups[0]["betas"]) == [0.5, 0.99]
    _step(net2, opt2, xs[2])
    for (name, a), b in zip(net.state_dict().items(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_load_module_takes_only_its_prefix_and_refuses_other_shapes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g, d = nn.Linear(3, 2), nn.Linear(2, 1)
    tensors = {**ckpt.module_tensors("G", g), **ckpt.module_tensors("D", d)}
    assert set(tensors) == {"G.weight", "G.bias", "D.weight", "D.bias"}
    g2 = nn.Linear(3, 2)
    ckpt.load_module("G", g2, tensors, tmp_path / "c.safetensors")
    assert torch.equal(g2.weight, g.weight) and torch.equal(g2.bias, g.bias)
    with pytest.raises(ArtforgeError, match="its G weights do not fit this model"):
        ckpt.load_module("G", nn.Linear(4, 2), tensors, tmp_path / "c.safetensors")
    with pytest.raises(ArtforgeError, match="its G weights do not fit"):
        ckpt.load_module("G", nn.Sequential(nn.Linear(3, 2)), tensors, tmp_path / "c.safetensors")  # other names


def test_rng_states_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    saved_global = torch.get_rng_state()
    try:
        torch.manual_seed(1)
        gen = torch.Generator().manual_seed(2)
        torch.rand(5), torch.rand(5, generator=gen)  # somewhere in the stream
        path = tmp_path / "rng.safetensors"
        ckpt.save(path, ckpt.rng_tensors({"noise": gen}), {})
        expect = (torch.rand(4), torch.rand(4, generator=gen))
        torch.manual_seed(123)
        gen2 = torch.Generator().manual_seed(456)
        tensors, _ = ckpt.load(path)
        assert tensors["rng.torch"].dtype == torch.uint8
        ckpt.restore_rng(tensors, {"noise": gen2})
        assert torch.equal(torch.rand(4), expect[0]) and torch.equal(torch.rand(4, generator=gen2), expect[1])
    finally:
        torch.set_rng_state(saved_global)


def test_run_dirs_are_numbered_one_past_the_highest(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    assert ckpt.next_run_dir(out, "dcgan") == out / "00000-dcgan"
    (out / "00007-vae").mkdir()
    (out / "notes").mkdir()
    assert ckpt.next_run_dir(out, "gan") == out / "00008-gan"
    assert (out / "00008-gan").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtforgeError, match="exists and is not a directory"):
        ckpt.next_run_dir(tmp_path / "file", "gan")
