"""The HTML report beside an output: what a night did, to look at in the morning.

A page that opens from disk with no network: no scripts, nothing fetched from elsewhere, plots drawn as
inline SVG, the style in the page itself.

- A folder (``out/report.html``): a contact sheet of before/after thumbnails, each with its status,
  iterations and time, failures first. The thumbnails are small JPEG files in ``out/.stylizer/thumbs``,
  written as each image finishes: a report of thousands of photos stays a few hundred KB of HTML, and a
  resumed night keeps the earlier ones.
- A video (``<output>.report.html``): a strip of frames before and after (embedded: the report outlives the
  work dir) and per-frame plots of iterations, loss and flicker. Flicker is E_warp between consecutive
  output frames with Farneback flow of the input frames, at thumbnail size: a flow the temporal loss does
  not use, so the plot does not merely show that the optimiser met its own target.

The driver says what happened to each item; this module keeps the report's own state (thumbnails, a JSON
line per item in the run's state directory) and renders it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from stylizer.errors import InputError
from stylizer.io import readers
from stylizer.io.writers import atomic_write_bytes
from stylizer.workdir import append_line, read_json_lines

THUMB_SIDE = 160
STRIP_FRAMES = 8


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> bytes:
    """A JPEG whose longest side is at most ``side`` (area-averaged: no aliasing on painted texture)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok  # encoding a uint8 array in memory cannot fail
    return data.tobytes()


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@dataclass
class Item:
    """One image of a folder run. ``before``/``after`` are URLs relative to the report (None: no picture)."""

    name: str
    status: str  # "done" (this run), "finished earlier", "failed"
    reason: str | None = None
    iterations: int | None = None
    seconds: float | None = None
    before: str | None = None
    after: str | None = None


@dataclass
class FrameStat:
    """One frame of a video run. ``flicker`` is nan for a shot's first frame (nothing to compare with)."""

    index: int
    iterations: float = math.nan
    loss: float = math.nan
    flicker: float = math.nan


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } .summary { color: #555; margin-bottom: 1em; }
.sheet { display: flex; flex-wrap: wrap; gap: 12px; }
.item { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 6px; width: 336px; }
.item.failed { border-color: #c33; background: #fff5f5; }
.pair { display: flex; gap: 4px; height: 160px; align-items: center; }
.pair img, .pair .none { width: 160px; max-height: 160px; object-fit: contain; }
.pair .none { height: 120px; background: #eee; color: #999; display: flex; align-items: center;
  justify-content: center; }
.name { font-weight: 600; overflow-wrap: anywhere; } .meta { color: #666; font-size: 12px; }
.reason { color: #a22; font-size: 12px; overflow-wrap: anywhere; }
.strip { display: grid; grid-template-columns: 5em repeat(%d, 1fr); gap: 4px; align-items: center; }
.strip img { width: 100%%; } .strip .label { color: #666; font-size: 12px; }
.styles img { height: 80px; margin: 0 6px 1em 0; border: 1px solid #ddd; }
svg { background: #fff; border: 1px solid #ddd; margin: 4px 0; }
"""


def _page(title: str, summary: str, body: str, styles: Sequence[bytes] = (), columns: int = STRIP_FRAMES) -> bytes:
    paintings = "".join(f'<img class="style" src="{data_uri(jpeg)}" alt="style image">' for jpeg in styles)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE % columns}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><div class=\"summary\">{html.escape(summary)}</div>"
        f"<div class=\"styles\">{paintings}</div>{body}</body></html>\n"
    ).encode("utf-8")


def _picture(url: str | None, alt: str) -> str:
    if url is None:
        return f'<div class="none">{html.escape(alt)}: none</div>'
    return f'<img src="{html.escape(url)}" alt="{html.escape(alt)}">'


def write_folder_report(path: Path, title: str, summary: str, items: Sequence[Item],
                        styles: Sequence[bytes] = ()) -> None:
    """The contact sheet, failures first (what the morning has to act on), then in the run's order."""
    cards = []
    for item in sorted(items, key=lambda i: i.status != "failed"):
        meta = [item.status]
        if item.iterations is not None:
            meta.append(f"{item.iterations} iterations")
        if item.seconds is not None:
            meta.append(f"{item.seconds:.1f} s")
        reason = f'<div class="reason">{html.escape(item.reason)}</div>' if item.reason else ""
        cards.append(
            f'<div class="item {"failed" if item.status == "failed" else ""}">'
            f'<div class="pair">{_picture(item.before, "before")}{_picture(item.after, "after")}</div>'
            f'<div class="name">{html.escape(item.name)}</div><div class="meta">{html.escape(", ".join(meta))}</div>'
            f"{reason}</div>"
        )
    atomic_write_bytes(path, _page(title, summary, f'<div class="sheet">{"".join(cards)}</div>', styles))


def _plot(label: str, xs: Sequence[int], ys: Sequence[float], cuts: Sequence[int], width: int = 960,
          height: int = 140) -> str:
    """A line plot as inline SVG: x the frame index, y from 0 to the largest finite value; cuts as grey lines."""
    left, right, top, bottom = 60, 10, 22, 22
    finite = [y for y in ys if math.isfinite(y)]
    peak = max(finite, default=0.0) or 1.0
    span = max(1, (xs[-1] - xs[0]) if xs else 1)
    x0 = xs[0] if xs else 0

    def px(x: float) -> float:
        return left + (x - x0) / span * (width - left - right)

    def py(y: float) -> float:
        return top + (1 - y / peak) * (height - top - bottom)

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{html.escape(label)}">',
             f'<text x="{left}" y="15" font-size="13">{html.escape(label)}</text>',
             f'<line x1="{left}" y1="{py(0)}" x2="{width - right}" y2="{py(0)}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{py(peak) + 4}" font-size="11" text-anchor="end">{peak:.3g}</text>',
             f'<text x="{left - 4}" y="{py(0) + 4}" font-size="11" text-anchor="end">0</text>',
             f'<text x="{px(x0)}" y="{height - 6}" font-size="11">frame {x0}</text>']
    if xs:
        parts.append(f'<text x="{px(xs[-1])}" y="{height - 6}" font-size="11" text-anchor="end">{xs[-1]}</text>')
    for cut in cuts:
        parts.append(f'<line x1="{px(cut):.1f}" y1="{top}" x2="{px(cut):.1f}" y2="{py(0)}" stroke="#ccc"/>')
    # A gap (nan: a shot's first frame for flicker, a frame without a record) breaks the line.
    run: list[str] = []
    for x, y in list(zip(xs, ys)) + [(None, math.nan)]:
        if y is not None and math.isfinite(y):
            run.append(f"{px(x):.1f},{py(y):.1f}")
            continue
        if len(run) == 1:
            cx, cy = run[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="#2563eb"/>')
        elif run:
            parts.append(f'<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{" ".join(run)}"/>')
        run = []
    parts.append("</svg>")
    return "".join(parts)


def write_video_report(path: Path, title: str, summary: str, frames: Sequence[FrameStat],
                       strip: Sequence[tuple[int, bytes, bytes]], cuts: Sequence[int],
                       styles: Sequence[bytes] = ()) -> None:
    """``strip``: (frame index, input JPEG, output JPEG) for a few frames across the clip."""
    cells = ['<div class="label"></div>'] + [f'<div class="label">frame {j}</div>' for j, _, _ in strip]
    cells += ['<div class="label">input</div>'] + [f'<img src="{data_uri(a)}" alt="input frame {j}">'
                                                   for j, a, _ in strip]
    cells += ['<div class="label">output</div>'] + [f'<img src="{data_uri(b)}" alt="output frame {j}">'
                                                    for j, _, b in strip]
    xs = [f.index for f in frames]
    body = f'<div class="strip">{"".join(cells)}</div>'
    body += _plot("iterations per frame", xs, [f.iterations for f in frames], cuts)
    body += _plot("loss (content + style + TV, weighted)", xs, [f.loss for f in frames], cuts)
    body += _plot("flicker: E_warp with Farneback flow, at thumbnail size", xs, [f.flicker for f in frames], cuts)
    atomic_write_bytes(path, _page(title, summary, body, styles, max(1, len(strip))))


class FolderReport:
    """The state behind a folder's contact sheet: thumbnails and ``items.jsonl`` under ``state`` (the run's
    ``out/.stylizer``), the page at ``out/report.html``. Items are listed in the order the run met them."""

    def __init__(self, out: Path, state: Path):
        self.out = out
        self.path = out / "report.html"
        self.thumbs = state / "thumbs"
        self.log = state / "items.jsonl"
        self.items: dict[str, Item] = {}
        self.earlier = {record.get("item"): record for record in read_json_lines(self.log)}

    def _thumb(self, name: str, which: str, rgb: np.ndarray | None) -> str | None:
        """Writes the thumbnail when ``rgb`` is given; returns its URL relative to the page when it exists."""
        path = self.thumbs / f"{hashlib.sha1(name.encode()).hexdigest()[:16]}.{which}.jpg"
        if rgb is not None:
            try:
                self.thumbs.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, thumbnail(rgb))
            except OSError:
                return None  # the report is secondary: a full disk fails the outputs, not here first
        return path.relative_to(self.out).as_posix() if path.is_file() else None

    def _note(self, item: Item) -> None:
        self.items[item.name] = item
        line = {"item": item.name, "status": item.status, "reason": item.reason, "iterations": item.iterations,
                "seconds": item.seconds}
        try:
            append_line(self.log, json.dumps(line))
        except OSError:
            pass  # as for thumbnails: only the next run's report would miss this item's figures

    def done(self, name: str, before: np.ndarray, after: np.ndarray, iterations: int, seconds: float) -> None:
        self._note(Item(name, "done", None, iterations, round(seconds, 1),
                        self._thumb(name, "in", before), self._thumb(name, "out", after)))

    def failed(self, name: str, reason: str, before: np.ndarray | None = None) -> None:
        self._note(Item(name, "failed", reason, before=self._thumb(name, "in", before)))

    def finished_earlier(self, name: str, source: Path, target: Path) -> None:
        """An output already there: its thumbnails are made now if an earlier version left none."""
        urls = []
        for which, path in (("in", source), ("out", target)):
            url = self._thumb(name, which, None)
            if url is None:
                try:
                    url = self._thumb(name, which, readers.load_image(path).rgb)
                except InputError:
                    url = None
            urls.append(url)
        earlier = self.earlier.get(name, {})
        self.items[name] = Item(name, "finished earlier", None, earlier.get("iterations"), earlier.get("seconds"),
                                *urls)

    def write(self, title: str, summary: str, styles: Sequence[bytes] = ()) -> None:
        write_folder_report(self.path, title, summary, list(self.items.values()), styles)


def video_stats(records: Sequence[dict], frames: int, weights: tuple[float, float, float]) -> list[FrameStat]:
    """Per-frame iterations and loss from the work dir's records (one per version made: a cross-faded frame
    counts both chunks' iterations; a frame made again after a failure, its last version)."""
    latest: dict[tuple[int, str], dict] = {}
    for record in records:
        latest[(record["index"], record.get("role", "own"))] = record
    stats = [FrameStat(j) for j in range(frames)]
    wc, ws, wtv = weights
    for (j, _), record in sorted(latest.items()):
        if not 0 <= j < frames:
            continue
        stat = stats[j]
        stat.iterations = (0 if math.isnan(stat.iterations) else stat.iterations) + record["iterations"]
        parts = record.get("losses")
        if parts:
            stat.loss = wc * parts["content"] + ws * parts["style"] + wtv * parts["tv"]
    return stats


def add_flicker(stats: list[FrameStat], pairs, cuts: Sequence[int]) -> None:
    """``pairs`` yields (index, input frame, output frame) in order, at thumbnail size; a cut starts afresh."""
    from stylizer.metrics import warping_error

    previous = None
    cut_set = set(cuts)
    for j, frame_in, frame_out in pairs:
        if previous is not None and j not in cut_set and previous[0] == j - 1:
            stats[j].flicker = warping_error(previous[2], frame_out, previous[1], frame_in, method="farneback")
        previous = (j, frame_in, frame_out)
