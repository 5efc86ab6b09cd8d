"""Coarse-to-fine for cold frames and images: optimise at reduced scale first, upsample, finish at full size.

At half the side an evaluation costs a quarter, and the large-scale arrangement of the style forms there
as well; the full-size level then starts from it. Budgets are fractions of the cold budget and the content
weight is raised on every level, chosen by measurement with independent measures (benchmarks/RESULTS.md
"Images per hour"): 25% at half size and 50% at full size, content weight x1.25, reach the independent
style and content distances of 100 full-size iterations within 3% on unseen photos, for 0.56x the work.
The earlier 50% / 80% at the plain weight reached the same loss, but 4-7% further from the photo: a
full-size level that starts from an enlarged coarse result has lost some of the photo's mid-scale
structure, which the plain weight does not bring back in its budget.
"""

from __future__ import annotations

MAX_LEVELS = 3
# From 256 px up the levels halve, down to MIN_SIDE: at 256 px a 64 px level under the 128 px one brought
# whole shots closer to the painting on both independent networks (benchmarks/RESULTS.md, "A second
# network"). A picture under 256 px gets one coarser level at SMALL_LEVEL instead, if that is at least
# MIN_STEP times smaller (less saves too little to pay for its trace and start); a 64 px level below it
# measured worse at 192 px.
MIN_SIDE = 64
SMALL_LEVEL = 128
MIN_STEP = 1.4
MIN_SHORT_SIDE = 32  # as engine.MIN_SIDE: a level narrower than this would leave nothing of block5
COARSE_SHARE = 0.25  # iterations at each coarser level, as a fraction of the cold budget
FINE_SHARE = 0.5  # iterations at full size, as a fraction of the cold budget
# Every level's content weight for an image, relative to --content-weight (see above); a shot's first
# frame keeps 1 (segment.py).
CONTENT_SCALE = 1.25


def levels(height: int, width: int, iterations: int, enabled: bool = True) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), iterations), ...] from the coarsest level to full size."""
    side = max(height, width)
    if side < 2 * SMALL_LEVEL:
        sides = [SMALL_LEVEL] if SMALL_LEVEL * MIN_STEP <= side else []
    else:
        sides = [side >> k for k in range(1, MAX_LEVELS) if side >> k >= MIN_SIDE]
    shapes = [(max(1, round(height * s / side)), max(1, round(width * s / side))) for s in sides]
    shapes = [shape for shape in shapes if min(shape) >= MIN_SHORT_SIDE] if enabled else []
    if not shapes:
        return [((height, width), iterations)]
    coarse = max(1, round(iterations * COARSE_SHARE))
    fine = max(1, round(iterations * FINE_SHARE))
    return [(shape, coarse) for shape in reversed(shapes)] + [((height, width), fine)]
