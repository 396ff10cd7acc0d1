"""Deterministic batches: each epoch is a permutation fixed by (seed, epoch), so a resumed run sees the
images an uninterrupted one would."""

from __future__ import annotations

import pytest
import torch

from artforge.core.errors import ArtforgeError
from artforge.train.batches import Batches


def _epoch(b: Batches, epoch: int) -> list[int]:
    return torch.cat([b.indices(epoch * b.per_epoch + k) for k in range(b.per_epoch)]).tolist()


def test_every_index_of_an_epoch_appears_exactly_once() -> None:
    b = Batches(12, 3, seed=5)
    assert b.per_epoch == 4
    for epoch in range(3):
        assert all(len(b.indices(epoch * 4 + k)) == 3 for k in range(4))
        assert sorted(_epoch(b, epoch)) == list(range(12))
    assert _epoch(b, 0) != _epoch(b, 1)  # a fresh shuffle each epoch


def test_the_last_partial_batch_is_dropped_and_the_rest_never_repeats() -> None:
    b = Batches(10, 3, seed=1)
    assert b.per_epoch == 3  # 10 // 3: one image sits out each epoch
    seen = _epoch(b, 0)
    assert len(seen) == len(set(seen)) == 9 and set(seen) <= set(range(10))


def test_seed_zero_epoch_zero_is_torchs_randperm_under_manual_seed_zero() -> None:
    """Golden reference: a run's order must not change between versions, or resume would differ."""
    b = Batches(16, 4, seed=0)
    assert _epoch(b, 0) == torch.randperm(16, generator=torch.Generator().manual_seed(0)).tolist()


def test_the_permutation_depends_on_seed_and_epoch_only() -> None:
    walked = Batches(20, 4, seed=7)
    history = {s: walked.indices(s).tolist() for s in range(23)}  # 4 epochs and a bit, in order
    for s in (0, 3, 5, 9, 13, 22):
        fresh = Batches(20, 4, seed=7)  # a resumed run starts at step s
        assert fresh.indices(s).tolist() == history[s]
    jumping = Batches(20, 4, seed=7)  # any order of steps
    for s in (22, 0, 13, 5, 5, 9):
        assert jumping.indices(s).tolist() == history[s]
    other = Batches(20, 4, seed=8)
    assert [other.indices(s).tolist() for s in range(5)] != [history[s] for s in range(5)]


def test_a_data_set_smaller_than_a_batch_is_a_user_error() -> None:
    with pytest.raises(ArtforgeError, match="3 images, fewer than --batch 4"):
        Batches(3, 4, seed=0)
    assert Batches(4, 4, seed=0).indices(0).sort().values.tolist() == [0, 1, 2, 3]
