"""What the Gatys loop reports after every iteration: a :class:`Progress` event for a callback that
may ask the run to stop (return True, or raise :class:`StopRequested`). The progress bar,
``--save-every`` snapshots, the benchmarks and the web studio's previews and cancel all listen here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm


class StopRequested(Exception):  # noqa: N818 (a request, not an error)
    """Raised by a callback to end the run after this iteration (same as returning True)."""


class Interrupted(Exception):
    """The run ended early (Ctrl-C, or a callback asked to stop); ``partial`` is the image as far as it got."""

    def __init__(self, partial: torch.Tensor) -> None:
        super().__init__("interrupted")
        self.partial = partial


@dataclass(frozen=True)
class Progress:
    """One finished iteration.

    ``losses`` (content, style, tv and their weighted ``total``) are the values the optimiser's
    single loss evaluation of this iteration computed, i.e. the objective at the iterate this step
    started from (the previous event's image, or the level's starting image); no extra forward pass.
    ``image()`` is a copy of the image after the step and projection, ``[1, C, H, W]`` at this level's
    size (C = 1 under luminance preservation); on a tiled level it is the canvas of the tiles
    finished so far. It is built only when called.
    """

    level: int  # pyramid level, 0 = coarsest
    levels: int
    iteration: int  # 1-based, within the level (over all its tiles)
    iterations: int  # of the level: its iterations x its tiles
    step: int  # 1-based, over all levels
    total: int  # steps of the whole run
    size: tuple[int, int]  # (H, W) of the level's image, px
    tile: int  # 0-based tile of the level being optimised
    tiles: int
    losses: dict[str, float]
    image: Callable[[], torch.Tensor] = field(repr=False, compare=False)


Callback = Callable[[Progress], "bool | None"]


def chain(callbacks: Sequence[Callback]) -> Callback:
    """One callback calling ``callbacks`` in order; stops the run if any of them asks to."""

    def call(p: Progress) -> bool:
        stop = False
        for cb in callbacks:
            stop = bool(cb(p)) or stop
        return stop

    return call


class ProgressBar:
    """A tqdm bar over all steps, with the level's long side and the latest losses; ``close()`` it."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, desc="stylize", unit="it", disable=not enabled, dynamic_ncols=True)

    def __call__(self, p: Progress) -> None:
        self.bar.update(1)
        self.bar.set_postfix(
            size=max(p.size), content=f"{p.losses['content']:.3f}",
            style=f"{p.losses['style']:.4f}", tv=f"{p.losses['tv']:.4f}", refresh=False,
        )  # fmt: skip

    def close(self) -> None:
        self.bar.close()
