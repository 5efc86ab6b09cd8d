"""Flow, warping, reliability masks, warm starts and scene cuts on real photos moved by known amounts."""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from stylizer.temporal import (
    CHANGING,
    FlowPair,
    compute_flow,
    explained,
    flow_between,
    is_moving,
    is_scene_cut,
    motion,
    motion_between,
    reliability_mask,
    temporal_target,
    warm_start,
    warp,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MARGIN = 10


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_rgb(SAMPLES / "chelsea.jpg")


def shifted_pair(
    image: np.ndarray, dx: float, dy: float, size: tuple[int, int] = (160, 120)
) -> tuple[np.ndarray, np.ndarray]:
    """(prev, cur) centre crops of `image`; the content of cur is moved by (dx, dy) px, so new content
    enters from outside the crop (as with a camera pan) instead of wrapping around."""
    h, w = image.shape[:2]
    moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), flags=cv2.INTER_CUBIC)
    cw, ch = size
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return image[y0 : y0 + ch, x0 : x0 + cw], moved[y0 : y0 + ch, x0 : x0 + cw]


def interior(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


@pytest.mark.parametrize("method", ["dis", "farneback"])
@pytest.mark.parametrize("dx,dy", [(3.0, -2.0), (2.5, 1.25)])
def test_compute_flow_recovers_known_shift(photo: np.ndarray, method: str, dx: float, dy: float) -> None:
    prev, cur = shifted_pair(photo, dx, dy)
    # cur(x) = prev(x - d): the backward flow is -d, the forward flow +d.
    for src, dst, expected in ((cur, prev, (-dx, -dy)), (prev, cur, (dx, dy))):
        flow = compute_flow(src, dst, method)
        assert flow.shape == (*cur.shape[:2], 2) and flow.dtype == np.float32
        error = np.abs(interior(flow) - np.float32(expected))
        assert np.median(error) < 0.5 and error.mean() < 0.5


def test_fine_flow_is_more_accurate_than_medium_at_sub_pixel_shifts(photo: np.ndarray) -> None:
    """The default preset exists because the half-size finest level of medium misplaces sub-pixel motion,
    which the warm start carries from frame to frame."""
    errors = {}
    for preset in ("medium", "fine"):
        e = []
        for dx, dy in ((2.5, 1.25), (1.3, -0.7)):
            prev, cur = shifted_pair(photo, dx, dy, (320, 240))
            e.append(np.mean(np.hypot(*(interior(compute_flow(cur, prev, dis_preset=preset)) + (dx, dy)).T)))
        errors[preset] = float(np.mean(e))
    assert errors["fine"] < 0.7 * errors["medium"], errors


@pytest.mark.parametrize("width,level", [(128, 0), (511, 0), (512, 1), (3840, 1)])
def test_fine_flow_is_full_resolution_below_512_px_and_never_coarser_than_medium(width: int, level: int) -> None:
    from stylizer.temporal import _fine_scale

    assert _fine_scale(width) == level


def test_compute_flow_takes_float_frames(photo: np.ndarray) -> None:
    prev, cur = shifted_pair(photo, 3, -2)
    np.testing.assert_array_equal(
        compute_flow(cur.astype(np.float32), prev.astype(np.float32)), compute_flow(cur, prev)
    )


def test_compute_flow_rejects_frames_of_different_sizes(photo: np.ndarray) -> None:
    with pytest.raises(ValueError):
        compute_flow(photo[:100, :100], photo[:100, :120])


def test_warp_samples_at_x_plus_flow() -> None:
    image = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
    flow = np.zeros((6, 8, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2, 1
    out = warp(image, flow)
    np.testing.assert_allclose(out[:5, :6], image[1:, 2:])
    # Beyond the edge the border pixel is repeated.
    np.testing.assert_allclose(out[:5, 6:], image[1:, 7:8].repeat(2, axis=1))
    colour = np.stack([image, 2 * image, 3 * image], axis=2)
    assert warp(colour, flow).shape == colour.shape
    assert warp(colour[..., :1], flow).shape == (6, 8, 1)


@pytest.mark.parametrize("dx,dy", [(3.0, -2.0), (2.5, 1.25)])
def test_warp_with_backward_flow_reconstructs_current_frame(photo: np.ndarray, dx: float, dy: float) -> None:
    prev, cur = shifted_pair(photo, dx, dy)
    prev = prev.astype(np.float32)
    exact = np.zeros((*cur.shape[:2], 2), np.float32)
    exact[..., 0], exact[..., 1] = -dx, -dy
    # Bilinear warping cannot undo a bicubic sub-pixel shift exactly: compare with the exact flow's error.
    floor = np.abs(interior(warp(prev, exact)) - interior(cur)).mean()
    error = np.abs(interior(warp(prev, compute_flow(cur, prev))) - interior(cur)).mean()
    unaligned = np.abs(interior(prev) - interior(cur)).mean()
    assert error < floor + 0.5 and error < unaligned / 5


def test_reliability_mask_formula_on_handmade_flows() -> None:
    flow_bw = np.zeros((20, 30, 2), np.float32)
    flow_bw[..., 0] = -3
    consistent = -flow_bw
    mask = reliability_mask(flow_bw, consistent)
    assert mask.dtype == np.float32 and mask.shape == (20, 30)
    # Columns 0-2 come from outside the previous frame; the rest is a consistent translation, trusted
    # fully from a few pixels away, and less right next to the unreliable strip (the weights taper).
    assert not mask[:, :3].any() and mask[:, 3:].all()
    assert (mask[:, 8:] == 1).all()
    assert 0 < mask[5, 3] < mask[5, 4] < mask[5, 6] <= 1
    assert not reliability_mask(flow_bw, np.zeros_like(flow_bw)).any()  # forward flow disagrees: occluded
    edge = flow_bw.copy()
    edge[:, 15:, 0] = -1  # a jump in the flow: motion boundary either side of it
    assert not reliability_mask(edge, -edge)[:, 14:16].any()


def test_long_term_target_holds_each_pixel_to_the_nearest_earlier_frame_that_saw_it(monkeypatch) -> None:
    import stylizer.temporal as temporal

    h, w = 8, 12
    still = np.zeros((h, w, 2), np.float32)
    left = np.zeros((h, w), np.float32)
    left[:, : w // 2] = 1  # frame k-1 saw only the left half (a person stood on the right)
    masks = iter([left, np.ones((h, w), np.float32)])  # frame k-2 saw all of it
    monkeypatch.setattr(temporal, "flow_between", lambda prev, cur: FlowPair(still, still, next(masks)))
    content = np.zeros((h, w, 3), np.float32)
    earlier = [(content, np.full((h, w, 3), 10, np.float32)), (content, np.full((h, w, 3), 20, np.float32))]
    pull = temporal_target(earlier, content)
    assert (pull.init == 10).all()  # the warm start is the frame before, as without long-term terms
    assert (pull.target[:, : w // 2] == 10).all() and (pull.target[:, w // 2:] == 20).all()
    assert (pull.weights == 1).all()


@pytest.mark.parametrize("dx,dy", [(0.3, 0.0), (0.0, -0.25), (1.2, 1.6)])
def test_motion_is_how_far_the_view_moved(photo: np.ndarray, dx: float, dy: float) -> None:
    prev, cur = shifted_pair(photo, dx, dy)
    pull = temporal_target([(prev.astype(np.float32), prev.astype(np.float32))], cur.astype(np.float32))
    assert pull.motion == pytest.approx(np.hypot(dx, dy), abs=0.08)
    # A shot's first frame looks ahead with the same flow, without the reliability check.
    assert motion_between(prev, cur) == pytest.approx(pull.motion, abs=1e-6)
    assert is_moving(pull.motion, cur.shape)


def test_motion_of_a_still_view_with_one_thing_moving_is_nil(photo: np.ndarray) -> None:
    prev, _ = shifted_pair(photo, 0, 0)
    cur = prev.copy()
    cur[40:70, 60:100] = np.roll(prev[40:70, 60:100], 5, axis=1)  # a sixth of the picture moves 5 px
    assert motion(flow_between(prev, prev).flow_bw) < 0.02
    assert motion(flow_between(prev, cur).flow_bw) < 0.05
    assert not is_moving(motion_between(prev, cur), cur.shape)


def test_reliability_mask_flags_disoccluded_strip(photo: np.ndarray) -> None:
    prev, cur = shifted_pair(photo, 6, -4)
    pair = flow_between(prev, cur)
    assert isinstance(pair, FlowPair)
    # Content moves right and up: the left columns and bottom rows of cur were outside prev.
    assert pair.mask[:, :5].mean() < 0.2
    assert pair.mask[-3:, :].mean() < 0.2
    assert interior(pair.mask).mean() > 0.9


def test_warm_start_follows_motion_and_keeps_texture(photo: np.ndarray) -> None:
    prev, cur = shifted_pair(photo, 6, -4)
    pair = flow_between(prev, cur)
    stylized_prev = 255 - prev.astype(np.float32)  # stands in for a stylized frame: anything not the content
    init = warm_start(stylized_prev, pair)
    assert init.dtype == np.float32 and init.shape == cur.shape
    assert init.min() >= 0 and init.max() <= 255
    reliable = pair.mask > 0
    inside = np.zeros_like(reliable)
    inside[MARGIN:-MARGIN, MARGIN:-MARGIN] = True
    assert np.abs(init - (255 - cur.astype(np.float32)))[reliable & inside].mean() < 3
    # Lanczos sampling keeps more of the fine texture than bilinear: sub-pixel warps blur less
    half = np.zeros_like(pair.flow_bw)
    half[..., 0] = 0.5
    lap = lambda image: float(np.mean(np.square(cv2.Laplacian(image.mean(axis=2), cv2.CV_32F))))  # noqa: E731
    assert lap(warp(stylized_prev, half, sharp=True)) > 1.3 * lap(warp(stylized_prev, half))


def walker(photo: np.ndarray, x: int) -> np.ndarray:
    """A still view of the photo with a figure in a colour the photo does not have standing at column x."""
    frame, _ = shifted_pair(photo, 0, 0)
    frame = frame.copy()
    frame[50:80, x : x + 10] = (250, 20, 240)
    return frame


def test_explained_sees_a_changed_photo_but_not_a_change_of_exposure(photo: np.ndarray) -> None:
    prev = walker(photo, 60).astype(np.float32)
    assert (explained(np.clip(prev + 12, 0, 255), prev) == 1).mean() > 0.99
    cur = walker(photo, 68).astype(np.float32)
    fits = explained(cur, prev)  # the photo unwarped: the figure has moved 8 px
    assert fits[54:76, 61:67].max() == 0 and fits[54:76, 71:77].max() == 0  # where it was, where it is
    assert fits[:, :40].min() == 1 and fits[:, 100:].min() == 1


def test_a_figure_crossing_a_still_view_starts_from_the_photo_and_is_not_held_where_the_warp_is_wrong(
    photo: np.ndarray,
) -> None:
    """Whatever the flow makes of a figure walking across a still view, a pixel whose warped start is far
    from what this frame shows starts in the photo's colours and is left to the content and style losses."""
    prev, cur = walker(photo, 60).astype(np.float32), walker(photo, 66).astype(np.float32)
    stylized_prev = prev  # a "style" that keeps the photo: the right start is then the photo itself
    pull = temporal_target([(prev, stylized_prev)], cur)
    warped_only = warm_start(stylized_prev, flow_between(prev, cur))
    wrong = np.abs(warped_only - cur).mean(axis=2) > 40
    assert wrong.sum() > 30  # the figure's old and new pixels: the warp alone gets them wrong
    error = lambda start: np.abs(start - cur).mean(axis=2)[wrong].mean()  # noqa: E731
    assert error(pull.init) < 0.3 * error(warped_only)
    assert pull.weights[wrong].max() < 0.5
    assert CHANGING <= pull.changed < 0.1
    assert not is_moving(pull.motion, cur.shape)
    # Away from the figure the start is the warp, untouched.
    assert np.abs(pull.init - warped_only)[:, :40].max() < 1e-3


def test_a_glitch_that_goes_away_leaves_no_scar_in_the_start(photo: np.ndarray, monkeypatch) -> None:
    """A bright line across a dark still view for one frame (a decoding glitch), painted at a fraction of its
    contrast: when it goes away the start there is the painted wall again, not the painted line minus the
    photo's whole change (a dark scar the temporal loss would then hold)."""
    import stylizer.temporal as temporal

    dark, _ = shifted_pair(photo, 0, 0)
    dark = (0.3 * dark).astype(np.float32)
    h, w = dark.shape[:2]
    still = np.zeros((h, w, 2), np.float32)  # the still camera's flow (DIS may route around a thin line)
    monkeypatch.setattr(temporal, "flow_between", lambda prev, cur: FlowPair(still, still, np.ones((h, w), np.float32)))
    glitch = dark.copy()
    glitch[58:62] = 255
    painted = lambda image: 0.8 * image + 16  # noqa: E731  (a "style" with 0.8 of the photo's contrast)
    pull = temporal_target([(glitch, painted(glitch))], dark)
    assert pull.weights[58:62].max() == 0  # nothing holds the line's pixels
    assert np.abs(pull.init - painted(dark))[58:62].mean() < 8
    # Away from the line the start is the frame before, untouched.
    assert np.array_equal(pull.init[:50], painted(glitch)[:50])


def test_a_still_shots_sensor_noise_changes_nothing(photo: np.ndarray) -> None:
    """Fresh noise on every frame of a still shot (sigma 4 grey levels) is no change: its warm frames are
    kept as before."""
    rng = np.random.default_rng(3)
    still, _ = shifted_pair(photo, 0, 0)
    prev, cur = (np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.float32) for _ in range(2))
    pull = temporal_target([(prev, prev)], cur)
    assert pull.changed < CHANGING / 10
    assert np.abs(pull.init - warm_start(prev, flow_between(prev, cur))).max() < 1


def test_a_pixel_the_nearest_photo_does_not_explain_is_held_by_an_earlier_frame_whose_photo_does(
    monkeypatch,
) -> None:
    """A sign showed something else one frame ago and the same as now two frames ago: the pixel is held to
    two frames ago. Where no earlier photo agrees, nothing holds it."""
    import stylizer.temporal as temporal

    h, w = 12, 24
    still = np.zeros((h, w, 2), np.float32)
    monkeypatch.setattr(temporal, "flow_between", lambda prev, cur: FlowPair(still, still, np.ones((h, w), np.float32)))
    content = np.full((h, w, 3), 100, np.float32)
    before = content.copy()
    before[:, 14:] = 220  # one frame ago the right part showed something else
    never = content.copy()
    never[:, -3:] = 10  # ... and two frames ago the last columns showed something else again
    earlier = [(before, np.full((h, w, 3), 200, np.float32)), (never, np.full((h, w, 3), 70, np.float32))]
    pull = temporal_target(earlier, content)
    assert (pull.target[:, :12] == 200).all() and (pull.weights[:, :12] == 1).all()
    assert (pull.target[:, 16:-5] == 70).all() and (pull.weights[:, 16:-5] == 1).all()
    assert (pull.weights[:, -1] == 0).all()
    # The start is the frame before: its result did not follow its photo at all (flat 200 where the photo
    # showed 220 and 100), so it takes none of the photo's change.
    assert np.allclose(pull.init, 200)


def read_clip(path: Path) -> list[np.ndarray]:
    frames = imageio_ffmpeg.read_frames(str(path))
    w, h = next(frames)["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in frames]


def test_no_scene_cut_under_fast_camera_motion() -> None:
    clip = read_clip(SAMPLES / "city.mp4")
    assert len(clip) == 30
    assert not any(is_scene_cut(a, b) for a, b in zip(clip, clip[1:]))


@pytest.mark.parametrize("dx,dy", [(3, -2), (15, 8)])
def test_no_scene_cut_on_shifted_photo(photo: np.ndarray, dx: float, dy: float) -> None:
    assert not is_scene_cut(*shifted_pair(photo, dx, dy, size=(320, 240)))


@pytest.mark.parametrize("other", ["photos/coffee.jpg", "photos/astronaut.jpg", "photos/rocket.jpg"])
def test_scene_cut_between_different_photos(photo: np.ndarray, other: str) -> None:
    second = load_rgb(SAMPLES / other)
    first = cv2.resize(photo, second.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert is_scene_cut(first, second)
    assert is_scene_cut(second, first)
