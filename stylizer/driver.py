"""The driver: runs a plan through an executor, and owns everything durable.

    input -> plan (plan.py) -> tasks: segment specs and their frames, each frame decoded once
          -> executor (executors/) -> outcomes, in completion order
          -> work directory / output files, failures, goals, report, progress  (only here)

Workers return results and never write: a killed run resumes from what this module recorded, whatever
executor made it.
"""

from __future__ import annotations

import collections
import itertools
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from stylizer import colour, finished
from stylizer.engine import Styles, check_size, finish, resize, working_shape
from stylizer.errors import InputError, OutputError, UsageError
from stylizer.executors import Task, make_executor
from stylizer.io import readers, writers
from stylizer.plan import CHUNK, SCAN_SIDE, Span, VideoPlan, plan_video, selected_frames
from stylizer.report import FolderReport, thumbnail
from stylizer.segment import FrameOutcome, SegmentSpec
from stylizer.settings import Settings, describe_changes
from stylizer.workdir import WorkDir, append_line, lock_only, read_json, read_json_lines, write_json


class Interrupted(BaseException):
    """SIGINT/SIGTERM. A BaseException, like KeyboardInterrupt, so that no `except Exception` (an image
    decoder's, a library's) can turn the signal into a failed item and carry on."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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

    def add(self, outcome: FrameOutcome) -> None:
        self.iterations.append(outcome.iterations)
        self.seconds.append(outcome.seconds)

    def summary(self) -> str:
        wall = time.time() - self.started
        line = f"done {self.done}, skipped {self.skipped} (already finished), failed {len(self.failed)}"
        line += f" | wall {wall:.1f} s"
        if self.seconds:
            line += f" | mean {np.mean(self.iterations):.1f} iterations, {np.mean(self.seconds):.2f} s per item"
        return line + f" | output: {self.output}"


class Progress:
    """On a terminal, tqdm bars: items (ETA, s/item) and, unless quiet, the iterations of the item in flight.
    Without one (nohup, cron, a pipe) tqdm shows nothing, so a plain line goes to stderr at most once a
    minute instead. Messages and those lines also go to ``log`` (--log FILE), with the time."""

    EVERY_S = 60.0

    def __init__(self, total: int, unit: str, quiet: bool, log: Path | None = None):
        self.quiet = quiet
        self.unit = unit
        self.plain = not quiet and not sys.stderr.isatty()
        self.items = tqdm(total=total, unit=unit, dynamic_ncols=True, disable=None if not quiet else True)
        self.log = log
        self.started = self.last_line = time.time()
        self.total = total
        self.done = 0  # counted here: a disabled tqdm (no terminal) counts nothing
        self.made = 0  # items made by this run (skipped ones advance the bar but not the rate)

    def iterations(self, total: int, label: str):
        if self.quiet:
            return None
        return tqdm(total=total, desc=label, unit="it", leave=False, dynamic_ncols=True, position=1, disable=None)

    def reset(self, total: int) -> None:
        self.items.reset(total=total)
        self.total, self.done = total, 0

    def advance(self, n: int = 1, made: bool = True) -> None:
        self.items.update(n)
        self.done += n
        self.made += n if made else 0
        now = time.time()
        if now - self.last_line >= self.EVERY_S and (self.plain or self.log):
            self.last_line = now
            done, total = self.done, self.total
            line = f"progress: {done}/{total} {self.unit}"
            if self.made:
                each = (now - self.started) / self.made
                line += f", {each:.1f} s per {self.unit}, about {each * max(0, total - done) / 60:.0f} min left"
            self.write(line, terminal=self.plain)

    def write(self, message: str, terminal: bool = True) -> None:
        if terminal:
            tqdm.write(message, file=sys.stderr)  # stdout carries only the summary
        if self.log is not None:
            append_log(self.log, message)

    def close(self) -> None:
        self.items.close()


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _append_line(path: Path, line: str) -> None:
    """Append one line (a resumed night continues the same file); OSError becomes a one-line OutputError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        append_line(path, line)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}", whole_run=exc.errno in writers.WHOLE_RUN) from None


def append_log(path: Path, message: str) -> None:
    """One timestamped line in the --log file."""
    _append_line(path, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}")


class Records:
    """A JSON line per item as it ends (status, reason, iterations, evaluations, seconds, loss parts, stop),
    appended beside the output: what each item did, for scripts and for the morning after."""

    def __init__(self, path: Path):
        self.path = path

    def add(self, item: str, status: str, outcome: FrameOutcome | None = None, reason: str | None = None,
            **extra) -> None:
        record: dict = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "item": item, "status": status}
        if reason:
            record["reason"] = reason
        if outcome is not None and not outcome.failed:
            record.update(iterations=outcome.iterations, evaluations=outcome.evaluations,
                          seconds=round(outcome.seconds, 3), stop=outcome.stop, cold=outcome.cold,
                          losses=outcome.parts)
        record.update(extra)
        _append_line(self.path, json.dumps(record))


class _Lazy:
    """The executor, started only when the first task exists: a finished run loads no network, starts no Ray."""

    def __init__(self, settings: Settings, styles: Styles, factory, progress: Progress):
        self.args = settings.executor, settings, styles, factory, progress.iterations, settings.workers
        self.executor = None

    def get(self):
        if self.executor is None:
            self.executor = make_executor(*self.args)
        return self.executor

    def run(self, tasks: Iterator[Task]):
        first = next(tasks, None)
        if first is None:
            return iter(())
        return self.get().run(itertools.chain([first], tasks))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None


def _write_failures(report: Report, path: Path) -> None:
    if report.failed:
        lines = "".join(f"{source}: {reason}\n" for source, reason in report.failed)
        writers.atomic_write_bytes(path, lines.encode())
    elif path.exists():
        path.unlink()


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
    """Independent images (a folder, or one image): each a one-frame segment; each output written atomically
    as it arrives; finished ones skipped."""
    report = Report(out)
    single = root is None
    # A folder keeps its settings hash and lock in out/.stylizer; a single image only needs a lock, held in
    # a work dir beside it for the run: its output records the settings (see `tag`).
    digest = settings.pixel_hash(styles.digest)
    work = lock_only(out.parent / f".{out.name}.work" if single else out / ".stylizer")
    progress = Progress(len(sources), "img", settings.quiet, _path(settings.log))
    records = Records(Path(settings.records)) if settings.records else None
    executor = _Lazy(settings, styles, stylizer_factory, progress)
    sheet = None if single else FolderReport(out, work.path)
    made = None if single else finished.FolderRecords(out, work.path)
    try:
        # Left by a run killed while writing (safe to remove: we hold the lock).
        if single:
            writers.remove_stale_temps(out.parent, out)
        else:
            writers.remove_stale_temps(out, recursive=True)
        if single and out.exists() and not settings.force:
            if not finished.same_settings(finished.tag_of(out) or "", digest):  # an edited photo: made again
                raise OutputError(f"{out} already exists and is not a result of these settings: "
                                  "use --force to replace it")
        if not single:
            manifest = work.path / "manifest.json"
            previous = read_json(manifest)
            if previous.get("settings") not in (None, digest) and not settings.force:
                changes = describe_changes(previous.get("options"), settings.hashed_options())
                raise OutputError(f"{out} holds results made with other settings"
                                  f"{f' ({changes})' if changes else ''}: use the same options to resume, "
                                  "or --force to start over")
            write_json(manifest, {"settings": digest, "options": settings.hashed_options()})

        failures = out.parent / f"{out.name}.failures.txt" if single else out / "failures.txt"

        def name(source: Path) -> str:
            return source.relative_to(root).as_posix()

        def failed(source: Path, reason: str, image: np.ndarray | None = None) -> None:
            report.failed.append((str(source), reason))
            if sheet:
                sheet.failed(name(source), reason, image)
            progress.write(f"failed: {reason}")
            progress.advance()
            _write_failures(report, failures)  # now: a run killed later still leaves the list
            if records:
                records.add(str(source), "failed", reason=reason)

        targets = {source: out if single else _target_path(source, root, out, settings.format)
                   for source in sources}
        claimed: dict[Path, list[Path]] = {}
        for source, target in targets.items():
            claimed.setdefault(target, []).append(source)
        collisions = {source: names for names in claimed.values() if len(names) > 1 for source in names}
        for source, names in collisions.items():  # refused before any work, and listed at once
            others = ", ".join(str(p) for p in names if p != source)
            failed(source, f"{source}: its output {targets[source]} would also be written for {others}"
                           + (f" (--format {settings.format})" if settings.format else ""))

        def tasks() -> Iterator[Task]:
            for source in sources:
                target = targets[source]
                if source in collisions:
                    continue
                try:
                    tag = finished.image_tag(digest, source)
                except OSError as exc:
                    failed(source, f"{source}: cannot read it: {exc.strerror}")
                    continue
                if target.exists() and not settings.force:
                    state = finished.status(target, tag, made)
                    if state == "finished":
                        report.skipped += 1
                        progress.advance(made=False)
                        if sheet:
                            sheet.finished_earlier(name(source), source, target)
                        continue
                    if state == "foreign" and not single:  # a single image's was refused before
                        failed(source, f"{target} already exists and was not made by stylizer: use --force to "
                                       "replace it")
                        continue
                    # "ours": other settings (an interrupted --force) or an edited input: made again
                try:
                    image = readers.load_image(source)
                    h, w = working_shape(*image.rgb.shape[:2], settings.size)
                    check_size(h, w, f"{source}")
                except InputError as exc:
                    if single:
                        raise  # the one input is unusable: a user error, like an unreadable video
                    failed(source, str(exc))
                    continue
                spec = SegmentSpec(source.name, 0, 1, frozenset({0}), video=False)
                yield Task(spec, [(0, resize(image.rgb, h, w))], (source, target, image, tag))

        for task, outcome in executor.run(tasks()):
            source, target, image, tag = task.context
            if outcome.failed:
                failed(source, f"{source}: {outcome.failed}")
                continue
            # A 16-bit photo is finished from its own 16 bits (written so in PNG and TIFF).
            deep = image.rgb16 is not None
            rgb = finish(outcome.image, image.rgb16 if deep else image.rgb, settings.preserve_colors)
            fmt = settings.format or (None if single else image.format)
            try:
                writers.save_image(target, rgb, alpha=image.alpha16 if deep and image.alpha16 is not None
                                   else image.alpha, format=fmt, comment=tag, icc=image.icc, exif=image.exif)
            except OutputError as exc:
                if exc.whole_run or single:
                    raise  # a full or read-only disk: every later image would fail the same way
                failed(source, str(exc), image.rgb)
                continue
            try:  # the sidecar, or the folder's record: where one cannot be written, no later one could be
                if single:
                    finished.confirm(target, tag)
                else:
                    made.add(target, tag)
            except OSError as exc:
                raise OutputError(f"cannot record {target} as finished: {exc.strerror}") from None
            report.done += 1
            report.add(outcome)
            if sheet:
                sheet.done(name(source), image.rgb, readers.to_eight_bits(rgb) if deep else rgb,
                           outcome.iterations, outcome.seconds)
            progress.advance()
            if records:
                records.add(str(source), "done", outcome)
    finally:
        executor.close()
        progress.close()
        if sheet:  # also after an interruption: the morning sees what was done so far
            try:
                sheet.write(f"stylizer: {root}", report.summary(), [thumbnail(s) for s in styles.images])
            except OSError:
                pass  # a full or read-only disk is already the run's error
        if single:
            work.remove()
        else:
            work.close()
    _write_failures(report, failures)
    if sheet:
        report.notes.append(f"report: {sheet.path}")
    return report


# ------------------------------------------------------------------------------------------------- video

class SharedDecode:
    """One sequential decode of the video at working size, handed out to segments in plan order. Chunks
    overlap (a chunk's fade-in repeats the frames before it), so the last ``lookback`` frames are kept."""

    def __init__(self, source: Path, settings: Settings, first: int, shape: tuple[int, int], lookback: int):
        self.frames = selected_frames(source, settings, first=first)
        self.shape = shape
        self.recent: collections.deque = collections.deque(maxlen=max(1, lookback))

    def take(self, first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        for j, content in self.recent:
            if first <= j < stop:
                yield j, content
        last = self.recent[-1][0] if self.recent else -1
        if last + 1 >= stop:
            return
        for j, frame in self.frames:
            content = resize(frame, *self.shape)
            self.recent.append((j, content))
            if j >= first:
                yield j, content
            if j + 1 >= stop:
                return
        raise InputError(f"the video ended before frame {stop - 1}: it decodes differently than when scanned")


@dataclass
class _Shot:
    """The driver's bookkeeping for one segment of a video."""

    span: Span
    roles: dict[int, str]  # frame -> "own", "fade-in" (this chunk's version) or "fade-out" (the chunk before's)


def _roles(plan: VideoPlan, fades: dict[int, tuple[int, int]]) -> list[_Shot]:
    shots = []
    for span in plan.segments:
        roles = {}
        for j in range(span.first, span.stop):
            roles[j] = "fade-in" if j < span.owned else "fade-out" if j in fades else "own"
        shots.append(_Shot(span, roles))
    return shots


def run_video(settings: Settings, source: Path, out: Path, styles: Styles, stylizer_factory) -> Report:
    report = Report(out)
    work = WorkDir(out.parent / f".{out.name}.work")
    # The source's identity is part of the hash, by content, not by path: frames of another clip never mix
    # in, and a project moved to another folder still resumes.
    digest = settings.pixel_hash(styles.digest, finished.fingerprint(source))
    # Stored in the video: a finished output is recognised after its work dir is gone. The encoding part
    # is apart, so that another --crf or --codec re-encodes kept frames instead of making them again.
    tag = finished.video_tag(digest, settings.encoding_hash())
    if out.exists() and not settings.force and not (work.path / "manifest.json").is_file():
        comment = finished.tag_of(out) or ""
        if comment.startswith(f"{finished.PREFIX}{digest} ") and comment != tag:
            raise OutputError(f"{out} was encoded with another --crf or --codec and its frames were not kept: "
                              "use --force to make it again (--keep-frames keeps them for re-encoding)")
        if comment != tag:
            raise OutputError(f"{out} already exists and is not a result of these settings: "
                              "use --force to replace it")
        made = readers.probe_video(out)  # the container's count (or its duration): no decode
        report.skipped = made.frame_count or max(1, round(made.duration * made.fps))
        return report
    kept = work.open(digest, source, settings.force, settings.hashed_options())  # the lock, before any scan
    progress = Progress(0, "fr", settings.quiet, _path(settings.log))
    records = Records(Path(settings.records)) if settings.records else None
    executor = _Lazy(settings, styles, stylizer_factory, progress)
    try:
        writers.remove_stale_temps(out.parent, out)  # left by a run killed while encoding or saving a frame
        writers.remove_stale_temps(work.frames, recursive=True)
        cached = read_json(work.path / "plan.json")
        chunk = settings.chunk
        if not cached and chunk is None and settings.executor != "local" and executor.get().workers > 1:
            chunk = CHUNK  # long shots in chunks only where several workers can share them
        plan = plan_video(source, settings, settings.quiet, chunk=chunk, cached=cached or None,
                          keep=work.save_thumb)
        write_json(work.path / "plan.json", plan.to_json())
        info = plan.info
        if plan.info.shape.transfer != "sdr":
            report.notes.append(f"{source} is HDR ({plan.info.shape.transfer.upper()}): tone-mapped to SDR BT.709 "
                                "(Mobius) for the optimisation and the output")
        if not plan.timed:
            report.notes.append(f"{source} records no usable frame timestamps: written at a constant "
                                f"{float(info.fps / settings.every):.3f} fps")
        if plan.cuts:
            report.notes.append(f"scene cuts at frames {', '.join(map(str, plan.cuts))}: each shot starts cold")
        if info.frame_count and plan.frames < -(-(info.frame_count - settings.start) // settings.every) \
                and settings.max_frames is None:
            report.notes.append(f"{source}: only {plan.frames} frames decode (the container says {info.frame_count})")
        shape = working_shape(info.height, info.width, settings.size)
        check_size(*shape, f"the working size of {source}")

        # Frames that failed (NaN, a lost worker) stand in unstylised; they are listed and made again.
        failed = set(read_json(work.path / "failed.json").get("frames", []))
        done_frames = work.finished() - failed
        work.check_space(plan.frames - len(done_frames), shape, settings.size)
        progress.reset(plan.frames)
        progress.advance(len(done_frames & set(range(plan.frames))), made=False)
        report.skipped = len(done_frames)
        if kept:
            progress.write(f"resuming: {kept} finished frames kept in {work.path}")
        # The converged cold frame's losses of each segment (by its first frame), which warm frames stop at;
        # kept so that a resumed segment's warm frames stop where they would have.
        goals = read_json(work.path / "goals.json")
        fades = plan.fades()
        shots = _roles(plan, fades)

        def made(shot: _Shot, j: int) -> bool:
            if j in failed:
                return False
            return j in done_frames or (shot.roles[j] != "own" and work.partial_path(j, shot.roles[j]).is_file())

        def version(shot: _Shot, j: int) -> np.ndarray:
            role = shot.roles[j]
            partial = work.partial_path(j, role)
            return work.load_path(partial) if role != "own" and partial.is_file() else work.load(j)

        def specs() -> Iterator[tuple[_Shot, SegmentSpec]]:
            for shot in shots:
                span = shot.span
                pending = [j for j in range(span.first, span.stop) if not made(shot, j)]
                if not pending:
                    continue
                first = max(span.first, pending[0] - 1)  # the finished frame before carries the chain
                stop = pending[-1] + 1
                saved = {j - 1: version(shot, j - 1) for j in pending
                         if j - 1 >= first and j - 1 not in pending}
                yield shot, SegmentSpec(f"frames {span.first}-{span.stop - 1}", first, stop, frozenset(pending),
                                        saved, goals.get(str(span.first)), colours=plan.colours)

        todo = list(specs())
        decode = SharedDecode(source, settings, todo[0][1].first if todo else 0, shape,
                              max((s.owned - s.first for s in plan.segments), default=0) + 1)
        tasks = (Task(spec, decode.take(spec.first, spec.stop), shot) for shot, spec in todo)
        failures = out.with_name(out.name + ".failures.txt")
        for task, outcome in executor.run(tasks):
            _record(task.context, outcome, work, fades, failed, goals, source, settings, report, progress)
            if outcome.failed:
                _write_failures(report, failures)
            if records:
                records.add(f"{source} frame {outcome.index}", "failed" if outcome.failed else "done", outcome,
                            outcome.failed)
        report.notes.extend(getattr(executor.executor, "notes", []))
        executor.close()
        progress.close()
        _write_failures(report, failures)
        # A video with stand-in frames is not finished: no tag, so that nothing takes it for a result.
        _assemble(settings, source, out, plan, work, report, None if failed else tag)
        try:
            flicker = _video_report(settings, source, out, plan, work, report, styles)
        except (OSError, InputError) as exc:  # the video is written: a report that fails is only a note
            flicker = float("nan")
            report.notes.append(f"no report: {exc}")
        if records:
            records.add(str(source), "done" if not failed else "failed", frames=plan.frames,
                        flicker=None if np.isnan(flicker) else round(flicker, 6))
    finally:
        executor.close()
        progress.close()
        work.close()
    if not settings.keep_frames and not report.failed:
        work.remove()
    return report


def _record(shot: _Shot, outcome: FrameOutcome, work: WorkDir, fades: dict, failed: set, goals: dict,
            source: Path, settings: Settings, report: Report, progress: Progress) -> None:
    """One frame made by a segment: into the work dir (a fade frame once both chunks' versions are in)."""
    j = outcome.index
    if outcome.failed:
        report.failed.append((f"{source} frame {j}", outcome.failed))
        failed.add(j)
        write_json(work.path / "failed.json", {"frames": sorted(failed)})  # before the frame
    if outcome.cold and not outcome.failed and settings.temporal != "none" and str(shot.span.first) not in goals:
        goals[str(shot.span.first)] = outcome.parts  # before the frame, so that a resume finds it
        write_json(work.path / "goals.json", goals)
    role = shot.roles[j]
    if not outcome.failed:  # what the report plots, kept across resumes
        _append_line(work.path / "stats.jsonl", json.dumps({
            "index": j, "role": role, "iterations": outcome.iterations, "seconds": round(outcome.seconds, 3),
            "cold": outcome.cold, "losses": outcome.parts}))
    final = None
    if role == "own":
        final = outcome.image
    else:
        work.save_partial(j, role, outcome.image)
        other = work.partial_path(j, "fade-out" if role == "fade-in" else "fade-in")
        if other.is_file():
            # Linear cross-fade: the later chunk's weight rises by 1/(n+1) a frame, the least change per frame.
            start, length = fades[j]
            t = (j - start + 1) / (length + 1)
            theirs = work.load_path(other)
            earlier, later = (theirs, outcome.image) if role == "fade-in" else (outcome.image, theirs)
            final = np.rint((1 - t) * earlier.astype(np.float32) + t * later.astype(np.float32)).astype(np.uint8)
    if final is not None:
        work.save(j, final)
        progress.advance()
        report.done += not outcome.failed
    if not outcome.failed and j in failed:
        failed.discard(j)
        write_json(work.path / "failed.json", {"frames": sorted(failed)})
    if not outcome.failed:
        report.add(outcome)


def _stream_starts(source: Path, out: Path, plan: VideoPlan) -> dict:
    """Where the output's streams start. A clip cut with --start begins at 0, its sound cut where its
    first frame is (ffmpeg counts from the source's earliest stream: the sound may start before the
    picture). A whole clip keeps the picture's lead over the sound, and the source's start time where the
    output is the same kind of file (a camera's MPEG-TS at 1.4 s stays there; made into an MP4, it would
    begin with 1.4 s of nothing in most players)."""
    lead = plan.info.lead
    if plan.offset > 0:
        return {"audio_start": plan.offset + lead}
    same_kind = _CONTAINER_KIND.get(source.suffix.lower(), source.suffix.lower()) == \
        _CONTAINER_KIND.get(out.suffix.lower(), out.suffix.lower())
    return {"video_delay": lead, "start_time": plan.info.start if same_kind else 0.0}


_CONTAINER_KIND = {".m4v": ".mp4", ".mov": ".mp4", ".mts": ".ts", ".m2ts": ".ts", ".webm": ".mkv"}


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
    if colour.keeps_chroma(settings.preserve_colors):
        # The content's own chroma at the output size: one more decode, in step with the finished frames.
        frames = (finish(work.load(j), frame, settings.preserve_colors)
                  for j, frame in selected_frames(source, settings))
    else:
        frames = (resize(work.load(j), info.height, info.width) for j in range(plan.frames))
    # Sound, subtitles, chapters and metadata from the input, from the first frame kept (--start) on.
    try:
        writers.assemble_video(frames, out, Fraction(info.fps) / settings.every, size, audio_from=source,
                               crf=settings.crf, codec=settings.codec, frame_count_hint=plan.frames, comment=tag,
                               times=plan.times, **_stream_starts(source, out, plan))
    except OutputError as exc:
        raise OutputError(f"{exc}; the finished frames are kept in {work.path}: run the same command again to "
                          "retry", whole_run=exc.whole_run) from None
    if tag:
        finished.confirm(out, tag)  # a record beside it where the container keeps no comment (AVI, TS, GIF)


def _video_report(settings: Settings, source: Path, out: Path, plan: VideoPlan, work: WorkDir, report: Report,
                  styles: Styles) -> float:
    """``<output>.report.html``: a strip of frames and per-frame plots; returns the mean flicker (nan if none).
    Flicker is measured at thumbnail size, on the input's thumbnails kept by the scan (decoded again only
    when a work dir from an earlier version has none)."""
    from stylizer import report as html_report

    records = read_json_lines(work.path / "stats.jsonl")
    weights = (settings.content_weight, settings.style_weight, settings.tv_weight)
    stats = html_report.video_stats(records, plan.frames, weights)
    h, w = working_shape(plan.info.height, plan.info.width, SCAN_SIDE)  # the size of the kept thumbnails
    kept = all(work.thumb_path(j).is_file() for j in range(plan.frames))
    inputs = ((j, work.load_path(work.thumb_path(j))) for j in range(plan.frames)) if kept \
        else selected_frames(source, settings, size=(w, h))
    shown = set(np.linspace(0, plan.frames - 1, min(plan.frames, html_report.STRIP_FRAMES)).round().astype(int))
    strip = []

    def pairs():
        for j, frame_in in inputs:
            if j >= plan.frames:
                return
            frame_out = resize(work.load(j), *frame_in.shape[:2])
            if j in shown:
                strip.append((j, html_report.thumbnail(frame_in), html_report.thumbnail(frame_out)))
            yield j, frame_in, frame_out

    html_report.add_flicker(stats, pairs(), plan.cuts)
    flicker = [f.flicker for f in stats if not np.isnan(f.flicker)]
    mean = float(np.mean(flicker)) if flicker else float("nan")
    summary = report.summary() + (f" | flicker (E_warp, Farneback) {mean:.5f}" if flicker else "")
    path = out.with_name(out.name + ".report.html")
    html_report.write_video_report(path, f"stylizer: {source.name}", summary, stats, strip, plan.cuts,
                                   [thumbnail(s) for s in styles.images])
    report.notes.append(f"report: {path}")
    return mean


# -------------------------------------------------------------------------------------------- entry point

_loaded: dict = {}


def _stylizer_for(settings: Settings, styles: Styles, make):
    """One network per process for consecutive runs with the same settings and styles (several inputs of
    one command, repeated stylizer.stylize calls); a different run replaces it."""
    key = (settings.pixel_hash(styles.digest), settings.weights)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = make(settings, styles)
    return _loaded[key]


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def run(settings: Settings, input_path: Path, style_paths: list[Path], output: Path | None,
        stylizer_factory=None) -> Report:
    """Stylise a video, a folder or an image. SIGINT/SIGTERM stop it with every finished item kept."""
    from stylizer.engine import Stylizer, load_styles

    if not input_path.exists():
        raise UsageError(f"input not found: {input_path}")
    settings = settings.resolved()
    kind = readers.detect_input_kind(input_path)
    out = output or default_output(input_path, kind)
    _check_output(input_path, out, kind)
    if kind == "video":
        writers.check_encoder(out, settings.codec, settings.crf)
    styles = load_styles(style_paths, settings.style_weights)
    factory = stylizer_factory or (lambda: _stylizer_for(settings, styles, Stylizer))
    previous = {}
    if threading.current_thread() is threading.main_thread():  # Python allows handlers only there
        previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if settings.dry_run:
            return _dry_run(settings, kind, input_path, out, factory)
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


def _dry_run(settings: Settings, kind: str, source: Path, out: Path, factory) -> Report:
    """The plan and an estimate, as notes; nothing written (dryrun.py)."""
    from stylizer import dryrun

    report = Report(out)
    if kind == "video":
        report.notes += dryrun.describe_video(settings, source, out, factory)
    else:
        images = readers.list_images(source, settings.recursive, exclude=[out])[0] if kind == "folder" else [source]
        targets = [_target_path(p, source, out, settings.format) for p in images] if kind == "folder" else [out]
        report.notes += dryrun.describe_images(settings, images, targets, factory)
    report.notes.append(f"dry run: nothing was optimised or written (output would be {out})")
    return report


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


