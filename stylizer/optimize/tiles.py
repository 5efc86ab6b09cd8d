"""Tiles for sizes beyond memory: overlapping windows of one picture, optimised one after another and
feathered into one canvas (as neural-style's multires scripts and Neural-Tile do at the finest scale).

Over each overlap a linear ramp hands the picture from the tiles done before to the next one: the next
tile starts from their result where the picture is still theirs and from the level's own start where it
becomes its own, and its result is blended in with the same ramp. A seam is then where two neighbours
already agree, never a cut between two pictures, nor an edge in a tile's start. The style targets are
the whole picture's (stroke size is relative to the picture, not to a tile); every loss is a mean, so a
tile's losses are on the whole picture's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

MIN_SIDE = 128   # a smaller tile leaves too little of the deeper layers to carry the style's structure
OVERLAP = 96     # px of every seam, feathered (a fraction of block3's receptive field on each side)


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    height: int
    width: int
    top: int    # rows shared with the tile above (done before it), feathered; 0 in the first row
    left: int   # columns shared with the tile to the left, feathered; 0 in the first column

    @property
    def window(self) -> tuple[slice, slice]:
        return slice(self.y, self.y + self.height), slice(self.x, self.x + self.width)


def layout(height: int, width: int, fits: Callable[[int, int], bool]) -> list[Tile] | None:
    """The fewest equal tiles, in raster order, that cover the picture with ``OVERLAP`` at every seam and
    of which each ``fits`` (one evaluation of its size fits in memory): the whole picture as one tile when
    it fits; None when not even tiles of ``MIN_SIDE`` do."""
    if fits(height, width):
        return [Tile(0, 0, height, width, 0, 0)]
    best = None
    for rows in range(1, height // (MIN_SIDE - OVERLAP) + 2):
        for columns in range(1, width // (MIN_SIDE - OVERLAP) + 2):
            if rows * columns == 1 or (best and rows * columns >= len(best)):
                continue
            tile_h, tile_w = _span(height, rows), _span(width, columns)
            if min(tile_h, tile_w) < min(MIN_SIDE, height, width) or not fits(tile_h, tile_w):
                continue
            best = [Tile(y, x, tile_h, tile_w, _shared(ys, i, tile_h), _shared(xs, j, tile_w))
                    for ys in [_starts(height, tile_h, rows)] for xs in [_starts(width, tile_w, columns)]
                    for i, y in enumerate(ys) for j, x in enumerate(xs)]
    return best


def _span(length: int, count: int) -> int:
    """A tile's side: ``count`` of them, each seam ``OVERLAP`` wide, cover ``length``."""
    return min(length, -(-(length + (count - 1) * OVERLAP) // count))


def _starts(length: int, span: int, count: int) -> list[int]:
    if count == 1:
        return [0]
    return [round(i * (length - span) / (count - 1)) for i in range(count)]


def _shared(starts: list[int], i: int, span: int) -> int:
    return 0 if i == 0 else starts[i - 1] + span - starts[i]


def weight(tile: Tile) -> np.ndarray:
    """(h, w, 1): how much of the picture is this tile's, from 0 where the tiles done before it (above and
    to the left) end into it, rising over the overlap to 1; 1 elsewhere (the tiles after it ramp in over it
    in turn)."""
    return np.outer(_ramp(tile.height, tile.top), _ramp(tile.width, tile.left))[..., None]


def start(canvas: np.ndarray, initial: np.ndarray, tile: Tile) -> np.ndarray:
    """Where a tile's optimisation starts: the tiles done before it where the picture is still theirs, the
    level's own start where it is this tile's. Starting from the canvas alone would put an edge where the
    earlier tile ends (its result against the unoptimised start), which the tile then keeps as a seam."""
    share = weight(tile)
    return np.ascontiguousarray(initial[tile.window] + (1 - share) * (canvas[tile.window] - initial[tile.window]))


def blend(canvas: np.ndarray, tile: Tile, result: np.ndarray) -> None:
    """Put ``result`` into ``canvas`` at ``tile``, each pixel by the tile's ``weight``."""
    window = canvas[tile.window]
    window += weight(tile) * (result - window)


def _ramp(length: int, shared: int) -> np.ndarray:
    ramp = np.ones(length, np.float32)
    if shared:
        ramp[:shared] = (np.arange(shared, dtype=np.float32) + 0.5) / shared
    return ramp
