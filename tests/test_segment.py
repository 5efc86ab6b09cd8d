"""One segment of a shot, optimised: how warm frames are judged (a plumbing test on random weights)."""

import numpy as np

from conftest import pattern
from stylizer import engine, features, temporal
from stylizer.optimize import multiscale
from stylizer.segment import SegmentSpec, run_segment
from stylizer.settings import Settings


def _stylizer(style_image, **options):
    settings = Settings(size=48, iterations=25, warm_iterations=40, coarse_to_fine=False, precision="float32",
                        optimizer="lbfgs", **options)
    return settings, engine.Stylizer(settings, engine.load_styles([style_image], ()),
                                     params=features.random_params(0, "block5_conv1"))


def _recorded(monkeypatch, stylizer, key: str) -> list:
    """What each frame's stylize call is given as ``key`` (None where not given), in order."""
    seen = []
    original = stylizer.stylize

    def recorded(content, iterations, **kwargs):
        seen.append(kwargs.get(key))
        return original(content, iterations, **kwargs)

    monkeypatch.setattr(stylizer, "stylize", recorded)
    return seen


def _sign(seed: int, colours) -> list[np.ndarray]:
    """A still view with a sign in it showing each colour in turn: no flow explains a new colour."""
    still = pattern(48, 40, seed=seed)
    frames = []
    for colour in colours:
        frame = still.copy()
        frame[14:26, 16:26] = colour
        frames.append(frame)
    return frames


def test_every_warm_start_is_judged_before_a_gradient_is_spent(style_image):
    """On a still shot every warm start is the previous result and is kept without a gradient. A start off the
    goal (the picture moved) is optimised, and its first evaluation is the optimiser's own, not an extra
    check; the next start, already at the goal, is kept without a gradient again."""
    settings, stylizer = _stylizer(style_image)
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


def test_a_moving_views_warm_frames_are_not_kept_and_run_the_moving_minimum(style_image):
    """A slow pan (1 px a frame): a warm frame that would be kept as warped runs --warm-moving-iterations
    instead, as its texture has moved off the place it was painted for; a still shot's frames are kept."""
    still = pattern(48, 40, seed=5)
    pan = [np.roll(still, k, axis=1) for k in range(5)]
    spec = SegmentSpec("frames 0-4", 0, 5, frozenset(range(5)))
    settings, stylizer = _stylizer(style_image, warm_moving_iterations=15)
    outcomes = list(run_segment(spec, enumerate(pan), stylizer, settings))
    assert all(o.iterations >= 15 for o in outcomes[1:]), [o.iterations for o in outcomes]
    outcomes = list(run_segment(spec, enumerate([still] * 5), stylizer, settings))
    assert [o.evaluations for o in outcomes[1:]] == [0] * 4
    # Without the minimum the same pan stops at the goal, sooner.
    settings, stylizer = _stylizer(style_image, warm_moving_iterations=0)
    outcomes = list(run_segment(spec, enumerate(pan), stylizer, settings))
    assert min(o.iterations for o in outcomes[1:]) < 15, [o.iterations for o in outcomes]


def test_a_still_views_warm_frames_with_something_moving_in_it_run_the_changing_minimum(style_image,
                                                                                      monkeypatch):
    """A still view with something changing in it (a sign switching colours; no flow explains a new colour):
    those frames start partly from the photo, so none is kept."""
    frames = _sign(6, [(250, 20, 240), (20, 240, 30), (30, 40, 250), (240, 240, 20)])
    still = pattern(48, 40, seed=6)
    assert not any(temporal.is_moving(temporal.motion_between(a, b), b.shape) for a, b in zip(frames, frames[1:]))
    spec = SegmentSpec("frames 0-3", 0, 4, frozenset(range(4)))
    settings, stylizer = _stylizer(style_image, warm_changing_iterations=15, warm_moving_iterations=9)
    minimums = _recorded(monkeypatch, stylizer, "min_iterations")
    outcomes = list(run_segment(spec, enumerate(frames), stylizer, settings))
    # The view itself does not move: the changing minimum applies, not the moving one.
    assert minimums == [None, 15, 15, 15]
    assert all(o.iterations >= 15 for o in outcomes[1:]), [o.iterations for o in outcomes]
    # The same view with nothing changing: no minimum, every warm frame kept.
    minimums.clear()
    outcomes = list(run_segment(spec, enumerate([still] * 4), stylizer, settings))
    assert minimums == [None, 0, 0, 0] and [o.evaluations for o in outcomes[1:]] == [0] * 3


def test_a_moving_view_with_something_changing_in_it_runs_the_larger_minimum(style_image, monkeypatch):
    """A pan across the changing sign: both minimums apply, and the frame runs the larger of them, whichever
    option that is."""
    frames = [np.roll(frame, k, axis=1) for k, frame in
              enumerate(_sign(8, [(250, 20, 240), (20, 240, 30), (30, 40, 250)]))]
    assert all(temporal.is_moving(temporal.motion_between(a, b), b.shape) for a, b in zip(frames, frames[1:]))
    spec = SegmentSpec("frames 0-2", 0, 3, frozenset(range(3)))
    for moving, changing in ((3, 6), (6, 3)):
        settings, stylizer = _stylizer(style_image, warm_moving_iterations=moving, warm_changing_iterations=changing)
        minimums = _recorded(monkeypatch, stylizer, "min_iterations")
        list(run_segment(spec, enumerate(frames), stylizer, settings))
        assert minimums == [None, 6, 6], (moving, changing)


def test_under_preserve_colors_luminance_warm_starts_follow_the_photos_luma(style_image, monkeypatch):
    """The optimiser works on the photo's luma there: the photo's change a warm start follows is its luma's,
    or the sign's colours would come back into the start."""
    frames = _sign(7, [(250, 20, 240), (20, 240, 30), (30, 40, 250)])
    settings, stylizer = _stylizer(style_image, preserve_colors="luminance", warm_changing_iterations=0)
    photos = []
    original = temporal.temporal_target

    def recorded(earlier, content):
        photos.extend([content] + [c for c, _ in earlier])
        return original(earlier, content)

    monkeypatch.setattr(temporal, "temporal_target", recorded)
    list(run_segment(SegmentSpec("frames 0-2", 0, 3, frozenset(range(3))), enumerate(frames), stylizer, settings))
    assert len(photos) == 4 and all(np.ptp(photo, axis=2).max() < 1e-3 for photo in photos)


def test_a_shots_first_frame_starts_from_the_photo_and_an_image_from_the_palette(style_image, monkeypatch):
    settings, stylizer = _stylizer(style_image)
    starts = []
    original = stylizer.initial_image

    def recorded(content, init=None, colours=None):
        starts.append(init)
        return original(content, init, colours)

    monkeypatch.setattr(stylizer, "initial_image", recorded)
    frame = pattern(48, 40, seed=2)
    list(run_segment(SegmentSpec("frame 0", 0, 1, frozenset({0})), enumerate([frame]), stylizer, settings))
    image = SegmentSpec("photo.png", 0, 1, frozenset({0}), video=False)
    list(run_segment(image, enumerate([frame]), stylizer, settings))
    assert starts == ["content", None]
    photo = frame.astype(np.float32)
    assert np.array_equal(original(photo, "content"), photo)
    assert not np.allclose(original(photo, None), photo)  # None: the settings' auto, for an image the palette
    # An --init the user gave is what both start from.
    chosen = Settings(init="noise")
    assert chosen.cold_start(shot=True) == chosen.cold_start(shot=False) == "noise"


def test_a_moving_shots_first_frame_gets_the_moving_schedule(style_image, monkeypatch):
    """The first frame looks one frame ahead: where the view moves it gets multiscale.SHOT_MOVING, a still
    view and a one-frame shot multiscale.SHOT; warm frames get no schedule."""
    settings, stylizer = _stylizer(style_image)
    schedules = _recorded(monkeypatch, stylizer, "schedule")
    still = pattern(48, 40, seed=4)
    pan = [np.roll(still, k, axis=1) for k in range(3)]
    for frames in (pan, [still] * 3, [still]):
        list(run_segment(SegmentSpec("s", 0, len(frames), frozenset(range(len(frames)))), enumerate(frames),
                         stylizer, settings))
    assert schedules == [multiscale.SHOT_MOVING, None, None, multiscale.SHOT, None, None, multiscale.SHOT]
    # Only the first frame to make is cold: with frame 0 finished, frame 1 starts warm from it.
    schedules.clear()
    saved = SegmentSpec("frames 0-2", 0, 3, frozenset({1, 2}), saved={0: pan[0]})
    list(run_segment(saved, enumerate(pan), stylizer, settings))
    assert schedules == [None, None]
