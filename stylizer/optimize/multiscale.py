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

MIN_SIDE = 128  # below this the deepest style layers see only a few pixels: a coarser level adds nothing
MAX_LEVELS = 3
# A coarser level is half the side of the one above it; a picture under twice MIN_SIDE gets one at MIN_SIDE
# instead, if that is at least MIN_STEP times smaller (less saves too little to pay for its trace and start).
MIN_STEP = 1.4
COARSE_SHARE = 0.25  # iterations at each coarser level, as a fraction of the cold budget
FINE_SHARE = 0.5  # iterations at full size, as a fraction of the cold budget
# Every level's content weight for an image, relative to --content-weight (see above); a shot's first
# frame keeps 1 (segment.py).
CONTENT_SCALE = 1.25


def levels(height: int, width: int, iterations: int, enabled: bool = True) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), iterations), ...] from the coarsest level to full size."""
    shapes = [(height, width)]
    while enabled and len(shapes) < MAX_LEVELS:
        h, w = shapes[-1]
        side = max(h, w)
        coarser = side // 2
        if coarser < MIN_SIDE and len(shapes) == 1:
            coarser = MIN_SIDE  # a picture under twice MIN_SIDE: its one coarser level is MIN_SIDE itself
        if coarser < MIN_SIDE or coarser * MIN_STEP > side:
            break
        shapes.append((max(1, round(h * coarser / side)), max(1, round(w * coarser / side))))
    if len(shapes) == 1:
        return [((height, width), iterations)]
    coarse = max(1, round(iterations * COARSE_SHARE))
    fine = max(1, round(iterations * FINE_SHARE))
    return [(shape, coarse) for shape in reversed(shapes[1:])] + [((height, width), fine)]
