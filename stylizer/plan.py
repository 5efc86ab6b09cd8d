"""Input -> plan: which frames a video run has, where its shots cut, and how they split into segments.

A segment is the unit of work: inside it frames depend on each other (each warm-started from the last),
between segments nothing does. A shot is one segment, unless the executor has several workers: then a shot
longer than a chunk is split, so that one long take still spreads across them. Each chunk after the first
starts ``overlap`` frames early, cold, and those frames are cross-faded with the end of the chunk before
(driver.py), so the cut between two independently started chunks is spread over the overlap instead of
jumping in one frame.

Each output frame keeps its input frame's timestamp (read from the container's packets, probe.frame_times),
so a variable-rate video comes out at the same variable rate.

The plan is scanned once (at thumbnail size, scaled inside ffmpeg) and kept in the work directory: a resumed
run reuses it instead of decoding the film again, and keeps the same segments even under another executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from stylizer import temporal
from stylizer.colour import ColourStats, ColourSums
from stylizer.engine import working_shape
from stylizer.errors import InputError
from stylizer.io import readers
from stylizer.io.probe import FrameTimes, frame_times
from stylizer.settings import Settings

SCAN_SIDE = 160  # longest side of the frames the scene-cut detector compares
# Chunks of long shots, for executors with several workers. Chosen by measuring flicker (independent
# Farneback flow) at chunk boundaries against inside chunks: benchmarks/chunks.py, RESULTS.md "Chunks".
CHUNK = 48
OVERLAP = 10


@dataclass(frozen=True)
class Span:
    """Output frames [first, stop) of one segment; [first, owned) is its fade-in, shared with the chunk before."""

    first: int
    owned: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.first


@dataclass
class VideoPlan:
    info: readers.VideoInfo
    frames: int  # output frames after --start/--every/--max-frames
    cuts: list[int]  # output frame indices that start a new shot
    segments: list[Span]
    times: FrameTimes  # of the output frames, the first at 0
    offset: float  # seconds from the input's first frame to the output's (--start): the sound's cut
    timed: bool  # times are the container's; else the nominal rate's (a container without timestamps)
    colours: ColourStats  # of all the frames (their thumbnails): --preserve-colors' reference

    def to_json(self) -> dict:
        return {"frames": self.frames, "cuts": self.cuts,
                "segments": [[s.first, s.owned, s.stop] for s in self.segments],
                "times": self.times.to_json(), "offset": self.offset, "timed": self.timed,
                "colours": self.colours.to_json()}

    def fades(self) -> dict[int, tuple[int, int]]:
        """{frame: (first frame of its fade, fade length)} for frames two chunks both make."""
        out = {}
        for span in self.segments:
            for j in range(span.first, span.owned):
                out[j] = (span.first, span.owned - span.first)
        return out


def selected_frames(path: Path, settings: Settings, size: tuple[int, int] | None = None, first: int = 0
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (output index, frame) for the frames kept by --start, --every and --max-frames, from output
    frame ``first`` on (the frames before it are dropped inside ffmpeg, never converted or piped)."""
    for index, frame in readers.iter_video_frames(path, start=settings.start + first * settings.every, size=size):
        offset = index - settings.start
        if offset % settings.every:
            continue
        j = offset // settings.every
        if settings.max_frames is not None and j >= settings.max_frames:
            return
        yield j, frame


def scan(path: Path, info: readers.VideoInfo, settings: Settings, quiet: bool,
         keep: Callable[[int, np.ndarray], None] | None = None) -> tuple[int, list[int], ColourStats]:
    """(frame count, cuts, colour statistics): one decoding pass at thumbnail size; ``keep(j, frame)`` gets
    each thumbnail (the report's, so that it needs no decode of its own)."""
    h, w = working_shape(info.height, info.width, SCAN_SIDE)
    cuts, previous, count, colours = [], None, 0, ColourSums()
    bar = tqdm(total=info.frame_count, desc="scanning", unit="fr", leave=False, disable=True if quiet else None)
    for j, small in selected_frames(path, settings, size=(w, h)):
        if previous is not None and settings.temporal != "none" and temporal.is_scene_cut(previous, small):
            cuts.append(j)
        previous, count = small, j + 1
        if keep is not None:
            keep(j, small)
        colours.add(small[::4, ::4])  # a 40-px sample is plenty for a mean and a covariance
        bar.update(1)
    bar.close()
    if count == 0:
        raise InputError(f"{path}: no frames to process (check --start/--max-frames)")
    return count, cuts, colours.stats()


def split(frames: int, cuts: list[int], chunk: int | None, overlap: int | None = None) -> list[Span]:
    """Shots, and with ``chunk`` each shot longer than about 1.5 chunks cut into equal chunks that start
    ``overlap`` frames early (default OVERLAP). A chunk owns more frames than its successor's fade-in
    repeats (so no frame is made by three chunks): a shorter ``chunk`` is raised to overlap + 1, since a
    shorter fade would show (RESULTS.md "Chunks")."""
    overlap = OVERLAP if overlap is None else overlap
    if chunk is not None:
        chunk = max(chunk, overlap + 1)
    bounds = [0, *cuts, frames]
    spans = []
    for a, b in zip(bounds, bounds[1:]):
        pieces = 1 if chunk is None else max(1, round((b - a) / chunk))
        if pieces > 1 and (b - a) // pieces <= overlap:
            pieces = max(1, (b - a) // (overlap + 1))
        edges = [a + round(i * (b - a) / pieces) for i in range(pieces + 1)]
        for i, (start, stop) in enumerate(zip(edges, edges[1:])):
            first = start if i == 0 else start - overlap
            spans.append(Span(first, start, stop))
    return spans


def plan_video(path: Path, settings: Settings, quiet: bool, chunk: int | None = None,
               cached: dict | None = None, keep: Callable[[int, np.ndarray], None] | None = None) -> VideoPlan:
    """The plan of a video; ``cached`` (VideoPlan.to_json of an earlier run on the same input and settings)
    is reused without decoding."""
    info = readers.probe_video(path)
    if cached and {"frames", "cuts", "segments", "times", "offset", "timed", "colours"} <= cached.keys():
        spans = [Span(*s) for s in cached["segments"]]
        return VideoPlan(info, int(cached["frames"]), list(cached["cuts"]), spans,
                         FrameTimes.from_json(cached["times"]), float(cached["offset"]), bool(cached["timed"]),
                         ColourStats.from_json(cached["colours"]))
    frames, cuts, colours = scan(path, info, settings, quiet, keep)
    return VideoPlan(info, frames, cuts, split(frames, cuts, chunk), *output_times(path, info, settings, frames),
                     colours)


def output_times(path: Path, info: readers.VideoInfo, settings: Settings, frames: int
                 ) -> tuple[FrameTimes, float, bool]:
    """(times of the ``frames`` output frames, the offset of the first, whether they are the container's
    own). The container's are used only where its packets match the frames that decoded: where a frame
    failed to decode, the packets' times would shift every later frame."""
    kept = [settings.start + j * settings.every for j in range(frames)]
    stamps = frame_times(path, info.stream)
    whole = settings.max_frames is None or frames < settings.max_frames  # the scan reached the end
    decoded = range(kept[-1] + 1, kept[-1] + settings.every + 1)  # frame counts that yield these frames
    timed = stamps is not None and (len(stamps) in decoded if whole else len(stamps) > kept[-1])
    if not timed:
        stamps = FrameTimes.constant(info.fps, kept[-1] + 1)
    return stamps.select(kept), stamps.seconds(kept[0]) - stamps.seconds(0), timed
