"""One segment of a shot, optimised: how warm frames are judged (a plumbing test on random weights)."""

import numpy as np

from conftest import pattern
from stylizer import engine, features
from stylizer.segment import SegmentSpec, run_segment
from stylizer.settings import Settings


def test_kept_warm_frames_are_judged_by_a_forward_pass_and_busy_ones_by_their_first_evaluation(style_image):
    """On a still shot every warm start is the previous result and is kept without a gradient. After a frame
    that had to be optimised, the next start is judged by the optimiser's own first evaluation instead (a
    forward check would only add to a busy shot); once a frame is kept again, the check comes back."""
    settings = Settings(size=48, iterations=25, warm_iterations=40, coarse_to_fine=False, precision="float32",
                        optimizer="lbfgs")
    stylizer = engine.Stylizer(settings, engine.load_styles([style_image], ()),
                               params=features.random_params(0, "block5_conv1"))
    still = pattern(48, 40, seed=3)
    moved = np.roll(still, 9, axis=1)  # the whole picture shifts: new content at the left edge
    frames = [still, still, still, moved, moved, moved]
    spec = SegmentSpec("frames 0-5", 0, len(frames), frozenset(range(len(frames))))

    outcomes = list(run_segment(spec, enumerate(frames), stylizer, settings))

    assert [o.cold for o in outcomes] == [True] + [False] * 5
    assert outcomes[0].evaluations > 1
    # Still frames: kept, no evaluation at all.
    assert [(o.evaluations, o.stop) for o in outcomes[1:3]] == [(0, "reached")] * 2
    # The jump: the forward check finds it off the goal, then it is optimised.
    assert outcomes[3].iterations >= 1 and outcomes[3].evaluations >= 2
    assert outcomes[3].stop == "reached"
    # The same picture again, after an optimised frame: no forward check; the optimiser's first evaluation
    # finds it at the goal. Kept, so the frame after it is checked forward again.
    assert (outcomes[4].iterations, outcomes[4].evaluations, outcomes[4].stop) == (0, 1, "reached")
    assert (outcomes[5].evaluations, outcomes[5].stop) == (0, "reached")
