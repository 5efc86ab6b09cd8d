"""Inputs -> segments -> per-frame optimisation -> outputs, with a work directory that makes runs resumable.

A segment is the unit of work: one image of a folder, or a run of consecutive video frames between scene
cuts. Inside a segment frames depend on each other (warm start); segments do not, which is what lets a run
resume and lets an executor spread them out.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stylizer import temporal
from stylizer.engine import Stylizer, Styles, check_size, resize, working_shape
from stylizer.errors import InputError, NumericalError, OutputError, UsageError
from stylizer.executors import LocalExecutor
from stylizer.io import readers, writers
from stylizer.settings import Settings
from stylizer.workdir import WorkDir, lock_only, read_json, write_json


class Interrupted(BaseException):
    """SIGINT/SIGTERM. A BaseException, like KeyboardInterrupt, so that no `except Exception` (an image
    decoder's, a library's) can turn the signal into a failed item and carry on."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Segment:
    """Folder: one image (``source`` -> ``target``). Video: output frames [start, stop)."""

    kind: str
    start: int = 0
    stop: int = 0
    source: Path | None = None
    target: Path | None = None


@dataclass
class Report:
    output: Path
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def summary(self) -> str:
        wall = time.time() - self.started
        line = f"done {self.done}, skipped {self.skipped} (already finished), failed {len(self.failed)}"
        line += f" | wall {wall:.1f} s"
        if self.seconds:
            line += f" | mean {np.mean(self.iterations):.1f} iterations, {np.mean(self.seconds):.2f} s per item"
        return line + f" | output: {self.output}"


class Progress:
    """tqdm bars: items (ETA, s/item) and, unless quiet, the iterations of the item in flight."""

    def __init__(self, total: int, unit: str, quiet: bool):
        self.quiet = quiet
        self.items = tqdm(total=total, unit=unit, dynamic_ncols=True, disable=None if not quiet else True)

    def iterations(self, total: int, label: str):
        if self.quiet:
            return None
        return tqdm(total=total, desc=label, unit="it", leave=False, dynamic_ncols=True, position=1, disable=None)

    def write(self, message: str) -> None:
        tqdm.write(message)

    def close(self) -> None:
        self.items.close()


def _optimise(stylizer: Stylizer, progress: Progress, content, iterations, label, **kwargs):
    """One frame or image; NaN/inf in the loss is retried once from the content image, cold, then raised."""
    for attempt in range(2):
        bar = progress.iterations(iterations, label)
        try:
            return stylizer.stylize(content, iterations, progress=bar, **kwargs)
        except NumericalError:
            if attempt == 1:
                raise
            progress.write(f"{label}: loss became NaN/inf; retrying from the content image")
            kwargs = {"init": "content"}  # a cold start (coarse-to-fine) within this frame's budget
        finally:
            if bar is not None:
                bar.close()


# ----------------------------------------------------------------------------------------------- folders

def default_output(path: Path, kind: str) -> Path:
    if path.name in ("", ".", ".."):
        path = path.resolve()  # "." or ".." has no name to derive "<name>_stylized" from
    if kind == "folder":
        return path.with_name(path.name + "_stylized")
    suffix = ".mp4" if kind == "video" else path.suffix
    return path.with_name(f"{path.stem}.stylized{suffix}")


def _target_path(source: Path, root: Path, out: Path, fmt: str | None) -> Path:
    target = out / source.relative_to(root)
    if fmt:
        target = target.with_suffix("." + fmt.lower().replace("jpeg", "jpg"))
    return target


def run_images(settings: Settings, sources: list[Path], root: Path | None, out: Path, styles: Styles,
               stylizer_factory) -> Report:
    """Independent images (a folder, or one image): each output written atomically; finished ones skipped."""
    report = Report(out)
    single = root is None
    # A folder keeps its settings hash and lock in out/.stylizer; a single image only needs a lock, held in
    # a work dir beside it for the run: its output records the settings (see `tag`).
    digest = settings.pixel_hash(styles.digest)
    tag = f"stylizer {digest}"  # stored in each output, so that a finished single image is recognised
    work = lock_only(out.parent / f".{out.name}.work" if single else out / ".stylizer")
    try:
        # Left by a run killed while writing (safe to remove: we hold the lock).
        if single:
            writers.remove_stale_temps(out.parent, out)
        else:
            writers.remove_stale_temps(out, recursive=True)
        if single and out.exists() and not settings.force and readers.read_comment(out) != tag:
            raise OutputError(f"{out} already exists and is not a result of these settings: "
                              "use --force to replace it")
        if not single:
            manifest = work.path / "manifest.json"
            previous = read_json(manifest).get("settings")
            if previous not in (None, digest) and not settings.force:
                raise OutputError(f"{out} holds results made with other settings: use the same options to "
                                  "resume, or --force to start over")
            write_json(manifest, {"settings": digest})
        segments = [Segment("image", source=s, target=out if single else _target_path(s, root, out, settings.format))
                    for s in sources]
        progress = Progress(len(segments), "img", settings.quiet)
        stylizer = None

        def work_on(segment: Segment) -> None:
            nonlocal stylizer
            if segment.target.exists() and not settings.force:
                report.skipped += 1
                return
            started = time.time()
            try:
                image = readers.load_image(segment.source)
                h, w = working_shape(*image.rgb.shape[:2], settings.size)
                check_size(h, w, f"{segment.source}")
                if stylizer is None:
                    stylizer = stylizer_factory()
                content = resize(image.rgb, h, w)
                result = _optimise(stylizer, progress, content, settings.cold_iterations, segment.source.name)
                rgb = stylizer.finish(result.image, image.rgb)
                fmt = settings.format or (None if single else image.format)
                writers.save_image(segment.target, rgb, alpha=image.alpha, format=fmt, comment=tag)
            except (InputError, NumericalError) as exc:
                if single and isinstance(exc, InputError):
                    raise  # the one input is unusable: a user error, like an unreadable video
                report.failed.append((str(segment.source), str(exc)))
                progress.write(f"failed: {exc}")
                return
            report.done += 1
            report.iterations.append(result.iterations)
            report.seconds.append(time.time() - started)

        LocalExecutor(on_done=lambda _: progress.items.update(1)).run(segments, work_on)
        progress.close()
    finally:
        if single:
            work.remove()
        else:
            work.close()
    _write_failures(report, out.parent / f"{out.name}.failures.txt" if single else out / "failures.txt")
    return report


def _write_failures(report: Report, path: Path) -> None:
    if report.failed:
        lines = "".join(f"{source}: {reason}\n" for source, reason in report.failed)
        writers.atomic_write_bytes(path, lines.encode())
    elif path.exists():
        path.unlink()


# ------------------------------------------------------------------------------------------------- video

@dataclass
class VideoPlan:
    info: readers.VideoInfo
    frames: int  # output frames after --start/--every/--max-frames
    cuts: list[int]  # output frame indices that start a new shot
    segments: list[Segment]


def _selected(path: Path, settings: Settings):
    """Yield (output index, frame) for the frames kept by --start, --every and --max-frames."""
    for index, frame in readers.iter_video_frames(path, start=settings.start):
        offset = index - settings.start
        if offset % settings.every:
            continue
        j = offset // settings.every
        if settings.max_frames is not None and j >= settings.max_frames:
            return
        yield j, frame


def plan_video(path: Path, settings: Settings, quiet: bool) -> VideoPlan:
    """One decoding pass at thumbnail size: exact frame count and scene cuts (cheap next to optimisation)."""
    info = readers.probe_video(path)
    cuts, previous, count = [], None, 0
    total = info.frame_count
    bar = tqdm(total=total, desc="scanning", unit="fr", leave=False, disable=True if quiet else None)
    for j, frame in _selected(path, settings):
        h, w = working_shape(*frame.shape[:2], 160)
        small = resize(frame, h, w)
        if previous is not None and settings.temporal != "none" and temporal.is_scene_cut(previous, small):
            cuts.append(j)
        previous, count = small, j + 1
        bar.update(1)
    bar.close()
    if count == 0:
        raise InputError(f"{path}: no frames to process (check --start/--max-frames)")
    bounds = [0, *cuts, count]
    segments = [Segment("frames", start=a, stop=b) for a, b in zip(bounds, bounds[1:])]
    return VideoPlan(info, count, cuts, segments)


def run_video(settings: Settings, source: Path, out: Path, styles: Styles, stylizer_factory) -> Report:
    report = Report(out)
    plan = plan_video(source, settings, settings.quiet)
    info = plan.info
    if plan.cuts:
        report.notes.append(f"scene cuts at frames {', '.join(map(str, plan.cuts))}: each shot starts cold")
    if info.frame_count and plan.frames < -(-(info.frame_count - settings.start) // settings.every) \
            and settings.max_frames is None:
        report.notes.append(f"{source}: only {plan.frames} frames decode (the container says {info.frame_count})")

    work = WorkDir(out.parent / f".{out.name}.work")
    # The source's identity is part of the hash: frames of another clip with the same length never mix in.
    stat = source.stat()
    digest = settings.pixel_hash(styles.digest, str(plan.frames), str(source.resolve()), str(stat.st_size))
    tag = f"stylizer {digest}"  # stored in the video: a finished output is recognised after its work dir is gone
    if out.exists() and not settings.force and not (work.path / "manifest.json").is_file():
        if readers.read_comment(out) != tag:
            raise OutputError(f"{out} already exists and is not a result of these settings: "
                              "use --force to replace it")
        report.skipped = plan.frames
        return report
    kept = work.open(digest, source, settings.force)
    writers.remove_stale_temps(out.parent, out)  # left by a run killed while encoding or saving a frame
    writers.remove_stale_temps(work.frames)
    try:
        # Frames that failed (NaN) stand in unstylised; they are listed in the work dir and tried again.
        failed = set(read_json(work.path / "failed.json").get("frames", []))
        finished = work.finished() - failed
        progress = Progress(plan.frames, "fr", settings.quiet)
        progress.items.update(len(finished & set(range(plan.frames))))
        report.skipped = len(finished)
        if kept:
            progress.write(f"resuming: {kept} finished frames kept in {work.path}")
        # The converged cold frame's losses of each shot (by its first frame), which warm frames stop at; kept
        # in the work dir so that a resumed shot's warm frames stop where they would have.
        state = {"stylizer": None, "failed": failed, "goals": read_json(work.path / "goals.json")}

        def work_on(segment: Segment) -> None:
            _run_segment(segment, settings, source, work, finished, state, stylizer_factory, progress, report)

        LocalExecutor(on_done=lambda _: None).run(plan.segments, work_on)
        progress.close()
        _write_failures(report, out.with_name(out.name + ".failures.txt"))
        _assemble(settings, source, out, plan, work, report, tag)
    finally:
        work.close()
    if not settings.keep_frames and not report.failed:
        work.remove()
    return report


def _run_segment(segment, settings, source, work, finished, state, factory, progress, report) -> None:
    """Frames of one shot, in order: the first cold, the rest warm-started (and flow-warped) from the last."""
    prev_content = prev_result = memory = None
    for j, frame in _selected(source, settings):
        if j < segment.start:
            continue
        if j >= segment.stop:
            return
        h, w = working_shape(*frame.shape[:2], settings.size)
        content = resize(frame, h, w).astype(np.float32)
        if j in finished:
            # Keep the chain going from the saved frame rather than recomputing it.
            prev_content, prev_result = content, None
            continue
        if prev_result is None and prev_content is not None and j - 1 in finished:
            prev_result = resize(work.load(j - 1).astype(np.float32), h, w)
        if state["stylizer"] is None:
            state["stylizer"] = factory()
        stylizer = state["stylizer"]
        started = time.time()
        kwargs, iterations = {}, settings.cold_iterations
        warm = prev_result is not None and settings.temporal != "none"
        if warm:
            iterations = settings.warm_iterations
            parts = state["goals"].get(str(segment.start))
            goal = stylizer.goal(parts) if parts else None
            if settings.temporal == "flow":
                pair = temporal.flow_between(prev_content, content)
                warped = temporal.warm_start(prev_result, pair)
                kwargs = {"init": warped, "temporal": warped, "mask": pair.mask, "goal": goal, "memory": memory}
            else:
                kwargs = {"init": prev_result, "goal": goal, "memory": memory}
        label = f"frame {j}"
        try:
            result = _optimise(stylizer, progress, content, iterations, label, **kwargs)
            image = result.image
        except NumericalError as exc:
            report.failed.append((f"{source} frame {j}", str(exc)))
            state["failed"].add(j)
            write_json(work.path / "failed.json", {"frames": sorted(state["failed"])})  # before the frame
            image = content  # keep the video's length: the unstylised frame stands in, and is listed
            result = None
        if result is not None and not warm and settings.temporal != "none":
            state["goals"][str(segment.start)] = result.parts
            write_json(work.path / "goals.json", state["goals"])
        work.save(j, stylizer.finish(image, frame))
        if result is not None and j in state["failed"]:
            state["failed"].discard(j)
            write_json(work.path / "failed.json", {"frames": sorted(state["failed"])})
        prev_content, prev_result = content, image
        memory = result.memory if result is not None else None
        progress.items.update(1)
        if result is not None:
            report.done += 1
            report.iterations.append(result.iterations)
            report.seconds.append(time.time() - started)


def _assemble(settings: Settings, source: Path, out: Path, plan: VideoPlan, work: WorkDir, report: Report,
              tag: str | None = None) -> None:
    missing = sorted(set(range(plan.frames)) - work.finished())
    if missing:
        raise OutputError(f"{len(missing)} frames are missing from {work.path} (first: {missing[0]}); re-run")
    info = plan.info
    size = writers.even_size(info.width, info.height)
    if size != (info.width, info.height):
        report.notes.append(f"output size {size[0]}x{size[1]} (rounded to even for yuv420p from "
                            f"{info.width}x{info.height})")
    audio = source if info.has_audio and settings.start == 0 else None
    if info.has_audio and audio is None:
        report.notes.append("audio not copied: --start shifts the picture against the sound")
    fps = Fraction(info.fps) / settings.every
    frames = (work.load(j) for j in range(plan.frames))
    writers.assemble_video(frames, out, fps, size, audio_from=audio, crf=settings.crf, codec=settings.codec,
                           frame_count_hint=plan.frames, comment=tag)


# -------------------------------------------------------------------------------------------- entry point

def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def run(settings: Settings, input_path: Path, style_paths: list[Path], output: Path | None,
        stylizer_factory=None) -> Report:
    """Stylise a video, a folder or an image. SIGINT/SIGTERM stop it with every finished item kept."""
    from stylizer.engine import load_styles

    if not input_path.exists():
        raise UsageError(f"input not found: {input_path}")
    settings = settings.resolved()
    kind = readers.detect_input_kind(input_path)
    out = output or default_output(input_path, kind)
    _check_output(input_path, out, kind)
    if kind == "video":
        writers.check_encoder(out, settings.codec, settings.crf)
    styles = load_styles(style_paths, settings.style_weights)
    factory = stylizer_factory or (lambda: Stylizer(settings, styles))
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if kind == "video":
            return run_video(settings, input_path, out, styles, factory)
        if kind == "folder":
            images, skipped = readers.list_images(input_path, settings.recursive, exclude=[out])
            if not images:
                raise UsageError(f"no images in {input_path}" + (f" ({len(skipped)} other files)" if skipped else ""))
            report = run_images(settings, images, input_path, out, styles, factory)
            for path in skipped:
                report.notes.append(f"skipped (not an image): {path}")
            return report
        return run_images(settings, [input_path], None, out, styles, factory)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_output(source: Path, out: Path, kind: str) -> None:
    src, dst = source.resolve(), out.resolve()
    if src == dst:
        raise UsageError(f"the output {out} would overwrite the input")
    if kind == "folder" and src.is_relative_to(dst):
        raise UsageError(f"the output folder {out} contains the input folder")
    if kind != "folder" and dst.is_dir():
        raise UsageError(f"the output {out} is a folder; give a file name")
    if kind == "video" and out.suffix.lower() not in readers.VIDEO_EXTENSIONS | {".gif"}:
        # Checked now: ffmpeg would only refuse the name after every frame is done.
        raise UsageError(f"the output {out} needs a video file extension such as .mp4")
    if kind == "folder" and dst.exists() and not dst.is_dir():
        raise UsageError(f"the output {out} exists and is not a folder")

