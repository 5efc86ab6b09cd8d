"""Coarse-to-fine for cold frames and images: optimise at reduced scale first, upsample, finish at full size.

At half the side an evaluation costs a quarter, and the large-scale arrangement of the style forms there
as well; the full-size level then starts from it. Budgets are fractions of the cold budget, chosen by
measurement with independent measures (benchmarks/RESULTS.md, "Images: a shorter coarse level"):
an image gets 10% at the coarser level and 48% at full size, which reaches 0305937's style and content
distances (100 full-size iterations) within 3% on both networks, on two folders of unseen photos at 192
and 256 px, for 2.4-2.9x its images per hour. 25% + 40%, the same work at 192 px, left the finer texture
short: one folder 3-4% less stylised on SqueezeNet, mostly one photo's sky.
An image gets one coarser level only, and 5% of the budget there once that level is 256 px or more. At
512 px, the default, 128:10 + 256:10 + 512:48 painted the painting's large shapes over the photo's own
(content 15% further from the photo than 0305937's, whose 100 full-size iterations at that size leave
the photo's shapes in place), and 256:10 + 512:48 still 6.6%; 256:5 + 512:48 is within 3% of it on
every measure and closer to the painting on three folders and paintings, for 2.9-3.2x its images per
hour (benchmarks/RESULTS.md, "Images at 512 px"). A 128 px level keeps its 10%: 5% there left one folder
at 256 px 3.3% less stylised on SqueezeNet. Larger pictures keep the 512 px schedule's shares, not
measured beyond 512 px.
A shot's first frame keeps 25% + 50%: it sets the level every warm frame of the shot holds to
(optimize.stopping.Goal). 40% at full size there left two of three shots 1.2-1.4 points less stylised at
the start, and 15% + 55% or 10% + 60% was no better on both networks at once. Under 256 px it gets no
coarser level but 60% at full size, about the same work: at 192 px the enlarged 128 px picture (a step of
1.5, not 2) left two shots of four short of 0305937's at the start (4.3% on the VGG16 layers, 5.1% on
SqueezeNet), and the full-size start brought them to -0.1% and +1.0% at the same frames per hour on the
slowest shot (benchmarks/RESULTS.md, "A shot's first frame under 256 px"). At 256 px the halved level
still pays: without it two shots of three were 3-4 points further from the painting. The cost: on a
panning shot at 192 px (city.mp4, which both schedules leave short of the painting) flicker went from 0.91x
to 1.04-1.05x of 0305937's.
Where the view moves (the segment looks one frame ahead), a shot's first frame under 256 px gets 80% at
full size: its warm frames run several iterations each, so it is a small part of the shot's cost, and at
60% two panning shots were 3.5-4.0% less stylised than 0305937's at the start on SqueezeNet (frame 0 itself
+5%); at 80% they were +1.2% and +0.3%, and 100% was no better on both networks at once (benchmarks/
RESULTS.md, "A moving shot's first frame"). From 256 px up it keeps the still shot's levels (not measured
for moving shots apart).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MIN_SIDE = 128  # below this the deepest style layers see only a few pixels: a coarser level adds nothing
# A coarser level is half the side of the one above it; a picture under twice MIN_SIDE gets one at MIN_SIDE
# instead, if that is at least MIN_STEP times smaller (less saves too little to pay for its trace and start).
MIN_STEP = 1.4


@dataclass(frozen=True)
class Schedule:
    """Iterations per level as fractions of the cold budget."""

    coarse: float  # at each coarser level
    fine: float  # at full size, after the coarser levels
    alone: float = 1.0  # at full size when no coarser level is made
    # A picture under twice MIN_SIDE gets one coarser level at MIN_SIDE (a step under 2x) when this is set.
    below_half: bool = True
    coarser: int = 2  # the most coarser levels
    large: float | None = None  # at a coarser level of twice MIN_SIDE or more, when it differs from `coarse`

    def coarse_share(self, side: int) -> float:
        return self.large if self.large is not None and side >= 2 * MIN_SIDE else self.coarse


IMAGE = Schedule(coarse=0.10, fine=0.48, coarser=1, large=0.05)
SHOT = Schedule(coarse=0.25, fine=0.50, alone=0.60, below_half=False)  # a shot's first frame (see above)
SHOT_MOVING = replace(SHOT, alone=0.80)  # ... where the view moves: the same levels, a longer lone one (see above)


def levels(height: int, width: int, iterations: int, enabled: bool = True, schedule: Schedule | None = None
           ) -> list[tuple[tuple[int, int], int]]:
    """[((h, w), iterations), ...] from the coarsest level to full size, with ``schedule``'s shares of
    ``iterations`` (None: IMAGE); ``enabled`` False: all of them at full size."""
    if not enabled:
        return [((height, width), iterations)]
    schedule = schedule or IMAGE  # looked up here, not bound as a default: benchmarks replace IMAGE
    shapes = [(height, width)]
    while len(shapes) <= schedule.coarser:
        h, w = shapes[-1]
        side = max(h, w)
        coarser = side // 2
        if coarser < MIN_SIDE and len(shapes) == 1 and schedule.below_half:
            coarser = MIN_SIDE  # a picture under twice MIN_SIDE: its one coarser level is MIN_SIDE itself
        if coarser < MIN_SIDE or coarser * MIN_STEP > side:
            break
        shapes.append((max(1, round(h * coarser / side)), max(1, round(w * coarser / side))))
    if len(shapes) == 1:
        return [((height, width), max(1, round(iterations * schedule.alone)))]
    coarse = [(shape, max(1, round(iterations * schedule.coarse_share(max(shape))))) for shape in reversed(shapes[1:])]
    return coarse + [((height, width), max(1, round(iterations * schedule.fine)))]
