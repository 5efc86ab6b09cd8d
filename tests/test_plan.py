"""plan.py: shots and chunks, the scan at thumbnail size, the plan kept for resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest_media import make_shots
from stylizer import plan as plan_module
from stylizer.io import readers
from stylizer.plan import OVERLAP, Span, plan_video, split
from stylizer.settings import Settings


def test_without_chunks_each_shot_is_one_segment():
    assert split(30, [10, 25], None) == [Span(0, 0, 10), Span(10, 10, 25), Span(25, 25, 30)]


@pytest.mark.parametrize("frames,cuts,chunk", [(200, [], 48), (500, [37, 300], 48), (61, [], 20), (9, [], 3)])
def test_chunks_cover_every_frame_once_and_fade_in_inside_their_own_shot(frames, cuts, chunk):
    spans = split(frames, cuts, chunk)
    owned = [j for s in spans for j in range(s.owned, s.stop)]
    assert owned == list(range(frames))  # every frame owned by exactly one chunk, in order
    starts = {0, *cuts}
    for before, span in zip(spans, spans[1:]):
        if span.owned in starts:
            assert span.first == span.owned  # a shot's first chunk starts cold at the cut, with no fade
        else:
            fade = span.owned - span.first
            assert fade == OVERLAP
            assert before.owned <= span.first < before.stop == span.owned  # the fade repeats the chunk before's end
            assert len(span) >= fade
    lengths = [s.stop - s.owned for s in spans if s.owned not in starts or s.first == s.owned]
    assert max(lengths) <= 2 * max(chunk, OVERLAP + 1)


def test_a_shot_too_short_to_fade_stays_whole():
    assert split(10, [], 48) == [Span(0, 0, 10)]
    assert split(12, [], 8) == [Span(0, 0, 12)]  # two chunks of 6 cannot hold a fade of 10
    assert split(30, [], 4) == [Span(0, 0, 15), Span(5, 15, 30)]  # chunks raised to hold the whole fade


def test_the_scan_decodes_at_thumbnail_size_inside_ffmpeg_and_a_cached_plan_decodes_nothing(
        tmp_path: Path, monkeypatch):
    clip = make_shots(tmp_path / "shots.mp4", [6, 5], width=320, height=240)
    sizes = []
    real = readers.iter_video_frames

    def counting(path, start=0, size=None):
        for index, frame in real(path, start, size):
            sizes.append(frame.shape[:2])
            yield index, frame

    monkeypatch.setattr(readers, "iter_video_frames", counting)
    plan = plan_video(clip, Settings(), quiet=True)
    assert (plan.frames, plan.cuts) == (11, [6])
    assert sizes == [(120, 160)] * 11  # 160 px thumbnails, scaled by ffmpeg: no full-size frame was piped

    sizes.clear()
    again = plan_video(clip, Settings(), quiet=True, cached=plan.to_json())
    assert (again.frames, again.cuts, again.segments) == (plan.frames, plan.cuts, plan.segments)
    assert sizes == []


def test_selected_frames_from_a_later_frame_match_a_full_decode(tmp_path: Path):
    clip = make_shots(tmp_path / "one.mp4", [9])
    settings = Settings(every=2, start=1)
    full = dict(plan_module.selected_frames(clip, settings))
    later = dict(plan_module.selected_frames(clip, settings, first=2))
    assert sorted(later) == [j for j in sorted(full) if j >= 2]
    assert all((later[j] == full[j]).all() for j in later)
