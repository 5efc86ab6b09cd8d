"""One segment of a shot, optimised: how warm frames are judged (a plumbing test on random weights)."""

import numpy as np

from conftest import pattern
from stylizer import engine, features
from stylizer.segment import SegmentSpec, run_segment
from stylizer.settings import Settings


def test_every_warm_start_is_judged_before_a_gradient_is_spent(style_image):
    """On a still shot every warm start is the previous result and is kept without a gradient. A start off the
    goal (the picture moved) is optimised, and its first evaluation is the optimiser's own, not an extra
    check; the next start, already at the goal, is kept without a gradient again."""
    settings = Settings(size=48, iterations=25, warm_iterations=40, coarse_to_fine=False, precision="float32",
                        optimizer="lbfgs")
    stylizer = engine.Stylizer(settings, engine.load_styles([style_image], ()),
                               params=features.random_params(0, "block5_conv1"))
    still = pattern(48, 40, seed=3)
    moved = np.roll(still, 9, axis=1)  # the whole picture shifts: new content at the left edge
    frames = [still, still, still, moved, moved, moved]
    spec = SegmentSpec("frames 0-5", 0, len(frames), frozenset(range(len(frames))))

    calls = {"forward only": 0, "value and gradient": 0}
    value_and_grad, value = stylizer.value_and_grad, stylizer.value

    def counted(shape, colours=None):
        inner = value_and_grad(shape, colours)

        def call(*args, **kwargs):
            calls["value and gradient"] += 1
            return inner(*args, **kwargs)
        return call

    def forward_only(*args):
        calls["forward only"] += 1
        return value(*args)

    stylizer.value_and_grad, stylizer.value = counted, forward_only
    outcomes = list(run_segment(spec, enumerate(frames), stylizer, settings))

    assert [o.cold for o in outcomes] == [True] + [False] * 5
    assert outcomes[0].evaluations > 1
    # Still frames: kept, no evaluation at all.
    assert [(o.evaluations, o.stop) for o in outcomes[1:3]] == [(0, "reached")] * 2
    # The jump: off the goal, so optimised until it reaches it.
    assert outcomes[3].iterations >= 1 and outcomes[3].stop == "reached"
    # The same picture again, right after an optimised frame: kept without a gradient all the same.
    assert [(o.iterations, o.evaluations, o.stop) for o in outcomes[4:]] == [(0, 0, "reached")] * 2
    # No separate forward check anywhere: each kept frame is one call whose gradient was skipped, and the
    # optimised frames make exactly the evaluations they count.
    kept = sum(o.evaluations == 0 for o in outcomes)
    assert calls == {"forward only": 0, "value and gradient": sum(o.evaluations for o in outcomes) + kept}
