"""optimize/tiles.py: a layout covers the picture with equal tiles that fit, and blending feathers seams."""

from __future__ import annotations

import numpy as np
import pytest

from stylizer.optimize import tiles


def fits_under(pixels: int):
    return lambda h, w: h * w <= pixels


def test_a_picture_that_fits_is_one_tile():
    assert tiles.layout(300, 400, fits_under(300 * 400)) == [tiles.Tile(0, 0, 300, 400, 0, 0)]


@pytest.mark.parametrize("height, width, pixels", [(600, 900, 200_000), (2160, 3840, 1_500_000),
                                                   (300, 1000, 60_000), (1000, 300, 40_000)])
def test_tiles_cover_the_picture_with_overlapping_seams_and_each_fits(height, width, pixels):
    layout = tiles.layout(height, width, fits_under(pixels))
    assert layout is not None and len(layout) > 1
    assert len({(t.height, t.width) for t in layout}) == 1  # one size: one compiled evaluation
    assert all(t.height * t.width <= pixels for t in layout)
    covered = np.zeros((height, width), int)
    for t in layout:
        assert t.y + t.height <= height and t.x + t.width <= width
        covered[t.window] += 1
    assert covered.min() >= 1
    # Raster order; every tile after the first row or column shares at least OVERLAP with the one before.
    assert layout == sorted(layout, key=lambda t: (t.y, t.x))
    for t in layout:
        assert (t.top == 0) == (t.y == 0) and (t.left == 0) == (t.x == 0)
        assert t.top == 0 or t.top >= tiles.OVERLAP
        assert t.left == 0 or t.left >= tiles.OVERLAP
    # A full grid of rows and columns.
    rows = len({t.y for t in layout})
    columns = len({t.x for t in layout})
    assert rows * columns == len(layout)


def test_no_layout_when_not_even_the_smallest_tiles_fit():
    assert tiles.layout(1000, 1000, fits_under(tiles.MIN_SIDE ** 2 - 1)) is None


def test_blending_ramps_in_over_the_tiles_done_before_and_replaces_elsewhere():
    canvas = np.zeros((200, 300, 3), np.float32)
    tile = tiles.Tile(50, 100, 150, 200, top=40, left=60)
    tiles.blend(canvas, tile, np.full((150, 200, 3), 100, np.float32))
    assert np.all(canvas[:50] == 0) and np.all(canvas[:, :100] == 0)  # outside the tile: untouched
    assert np.all(canvas[50 + 40:, 100 + 60:] == 100)  # past the overlaps: the tile's own result
    row = canvas[150, 100:160, 0]
    assert np.all(np.diff(row) > 0) and row[0] < 2 and row[-1] > 98  # ramped across the left overlap
    column = canvas[50:90, 250, 0]
    assert np.all(np.diff(column) > 0)
    # A tile whose result equals the canvas changes nothing: seams are where neighbours agree.
    before = canvas.copy()
    tiles.blend(canvas, tile, before[tile.window].copy())
    assert np.allclose(canvas, before)


def test_a_tile_starts_from_its_neighbours_where_the_picture_is_still_theirs():
    initial = np.zeros((100, 200, 3), np.float32)
    canvas = initial.copy()
    canvas[:, :120] = 200  # the tile to the left, done
    tile = tiles.Tile(0, 80, 100, 120, top=0, left=40)
    begin = tiles.start(canvas, initial, tile)
    row = begin[50, :, 0]
    assert row[0] > 195 and row[39] < 5 and np.all(np.diff(row[:40]) < 0)  # handed over along the ramp
    assert np.all(begin[:, 40:] == 0)  # the tile's own part: the level's start, with no edge at column 120
