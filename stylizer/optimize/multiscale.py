"""Coarse-to-fine for cold frames and images: optimise at reduced scale first, upsample, finish at full size.

At half the side an evaluation costs a quarter, and the large-scale arrangement of the style forms there
as well; the full-size level then starts from it. Budgets are fractions of the cold budget, chosen by
measurement (benchmarks/coarse_to_fine.py, RESULTS.md "Coarse-to-fine"): at 256 px, 50% at half size and
80% at full size reach the full-size run's final loss (0.985x and 0.999x on two photos) with a 9% lower style
loss, for 0.95x its evaluations. Shorter full-size budgets save more but end at a higher loss (30%: 1.14x),
which is why the saving here is small: the full-size level, not the layout, is what costs.
"""

from __future__ import annotations

MIN_SIDE = 128  # below this the deepest style layers see only a few pixels: a coarser level adds nothing
MAX_LEVELS = 3
COARSE_SHARE = 0.5  # iterations at each coarser level, as a fraction of the cold budget
FINE_SHARE = 0.8  # iterations at full size, as a fraction of the cold budget


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
