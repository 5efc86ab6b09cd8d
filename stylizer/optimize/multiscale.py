"""Coarse-to-fine for cold frames and images: optimise at reduced scale first, upsample, finish at full size.

At half the side an evaluation costs a quarter, and the large-scale arrangement of the style (what most of a
cold start's iterations are spent on) forms there just as well; the full-size level then only has to add
the fine texture. Budgets are fractions of the cold budget, chosen by measurement (benchmarks/RESULTS.md,
"Coarse-to-fine"): equal or lower final full-size loss for less total cost.
"""

from __future__ import annotations

MIN_SIDE = 128  # below this the deepest style layers see only a few pixels: a coarser level adds nothing
MAX_LEVELS = 3
COARSE_SHARE = 1.0  # iterations at each coarser level, as a fraction of the cold budget
FINE_SHARE = 0.3  # iterations at full size, as a fraction of the cold budget


def levels(height: int, width: int, iterations: int, enabled: bool = True) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), iterations), ...] from the coarsest level to full size."""
    shapes = [(height, width)]
    while enabled and len(shapes) < MAX_LEVELS and max(shapes[-1]) // 2 >= MIN_SIDE:
        h, w = shapes[-1]
        shapes.append((max(1, round(h / 2)), max(1, round(w / 2))))
    if len(shapes) == 1:
        return [((height, width), iterations)]
    coarse = max(1, round(iterations * COARSE_SHARE))
    fine = max(1, round(iterations * FINE_SHARE))
    return [(shape, coarse) for shape in reversed(shapes[1:])] + [((height, width), fine)]
