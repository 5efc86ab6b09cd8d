"""Coarse-to-fine for cold frames and images: optimise at reduced scale first, upsample, finish at full size.

At half the side an evaluation costs a quarter, and the large-scale arrangement of the style forms there
as well; the full-size level then starts from it. Budgets are fractions of the cold budget, chosen by
measurement with independent measures (benchmarks/RESULTS.md, "Images per hour on a second folder"):
an image gets 25% at the coarser level and 40% at full size, at the plain content weight, which reaches
0305937's style and content distances (100 full-size iterations) within about 3% on two folders of unseen
photos at 192 and 256 px, for 2.35-2.76x its images per hour. A higher content weight on every level
(1.25x, the earlier default) kept the photo 4-6% closer than 0305937 but left one folder 3-5% less
stylised, and a longer full-size level (50%) bought about a point of style for 10-22% more time.
A shot's first frame keeps 50% at full size: it sets the level every warm frame of the shot holds to
(optimize.stopping.Goal), and 40% there left two of three shots 1.2-1.4 points less stylised at the start.
"""

from __future__ import annotations

MIN_SIDE = 128  # below this the deepest style layers see only a few pixels: a coarser level adds nothing
MAX_LEVELS = 3
# A coarser level is half the side of the one above it; a picture under twice MIN_SIDE gets one at MIN_SIDE
# instead, if that is at least MIN_STEP times smaller (less saves too little to pay for its trace and start).
MIN_STEP = 1.4
COARSE_SHARE = 0.25  # iterations at each coarser level, as a fraction of the cold budget
FINE_SHARE = 0.4  # iterations at full size for an image, as a fraction of the cold budget
SHOT_FINE_SHARE = 0.5  # the same for a shot's first frame (see above)


def levels(height: int, width: int, iterations: int, enabled: bool = True, fine_share: float | None = None
           ) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), iterations), ...] from the coarsest level to full size; ``fine_share``: the full-size
    level's fraction of ``iterations`` (None: FINE_SHARE, an image's)."""
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
    fine = max(1, round(iterations * (FINE_SHARE if fine_share is None else fine_share)))
    return [(shape, coarse) for shape in reversed(shapes[1:])] + [((height, width), fine)]
