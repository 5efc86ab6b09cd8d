"""Chunks of one shot: flicker where two chunks meet against flicker inside chunks, for several overlaps.

With several workers a long shot is split into chunks that start cold, independently (plan.py); a chunk's
first ``overlap`` frames repeat the end of the chunk before and are cross-faded with it (driver.py). This
runs one shot at --chunk N with each overlap (0 = a hard switch) and measures, with Farneback flow (the
optimiser's temporal term uses DIS), the E_warp of every consecutive output pair: the boundary pairs (those
touching a fade, or the switch frame) against the median pair inside chunks; and the sharpness of the faded
frames against the others (a cross-fade of two different stylisations could also look soft).

The runs use the local executor with --chunk, which makes the same segments and the same frames as
--executor ray with several workers (tests/test_executors.py), without Ray's start-up in the timings.

    python benchmarks/chunks.py                                   # samples/city.mp4, --chunk 10, 128 px
    python benchmarks/chunks.py --clip vtest.avi --max-frames 72 --chunk 24 --size 96 --overlaps 0 4 10

Figures per overlap: the median and max E_warp of pairs inside chunks and at boundaries, their ratios, the
same ratios after dividing each pair's E_warp by the input's own for that pair ("rel"), and the mean
sharpness (relative to the input) of faded frames against the others.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[chunks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=ROOT / "samples" / "city.mp4")
    parser.add_argument("--style", type=Path, default=ROOT / "samples" / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=10)
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[0, 3, 9])
    args = parser.parse_args()

    from stylizer import driver, metrics, plan
    from stylizer.io.readers import iter_video_frames
    from stylizer.settings import Settings

    rows = []
    with tempfile.TemporaryDirectory(prefix="chunks") as tmp_name:
        tmp = Path(tmp_name)
        for overlap in args.overlaps:
            plan.OVERLAP = overlap
            settings = Settings(size=args.size, chunk=args.chunk, max_frames=args.max_frames, quiet=True,
                                force=True)
            out = tmp / f"overlap{overlap}.mp4"
            start = time.perf_counter()
            report = driver.run(settings, args.clip, [args.style], out)
            wall = time.perf_counter() - start
            spans = plan.split(report.done, [], args.chunk, overlap)
            # (the clip is one shot: the plan's segments are these)
            errors = metrics.pair_errors(args.clip, out, "farneback")
            # The input's own E_warp per pair (the flow's errors, duplicated or dropped source frames) makes
            # some pairs spike in any output; the ratio to it shows what the stylisation adds.
            floor = metrics.pair_errors(args.clip, args.clip, "farneback")[:len(errors)]
            relative = [e / max(f, 1e-12) for e, f in zip(errors, floor)]
            boundary = set()
            for span in spans[1:]:
                for j in range(span.first, span.owned + 1):  # pair (j-1, j) is item j-1
                    boundary.add(j - 1)
            inside = [e for k, e in enumerate(errors) if k not in boundary and not np.isnan(e)]
            at = [errors[k] for k in sorted(boundary) if k < len(errors) and not np.isnan(errors[k])]
            inside_rel = [r for k, r in enumerate(relative) if k not in boundary and not np.isnan(r)]
            at_rel = [relative[k] for k in sorted(boundary) if k < len(relative) and not np.isnan(relative[k])]
            sharp = {}
            faded = {j for span in spans[1:] for j in range(span.first, span.owned)}
            for (j, in_frame), (_, out_frame) in zip(iter_video_frames(args.clip), iter_video_frames(out)):
                if args.max_frames is not None and j >= args.max_frames:
                    break
                sharp.setdefault("faded" if j in faded else "other", []).append(
                    metrics.relative_sharpness(out_frame, in_frame))
            median_inside = statistics.median(inside)
            rows.append({
                "overlap": overlap, "chunks": len(spans), "frames made": sum(len(s) for s in spans),
                "inside median": median_inside, "inside max": max(inside),
                "bound. median": statistics.median(at), "bound. max": max(at),
                "b.med/in.med": statistics.median(at) / median_inside,
                "b.max/in.med": max(at) / median_inside,
                "rel b.med/in.med": statistics.median(at_rel) / statistics.median(inside_rel),
                "rel b.max/in.med": max(at_rel) / statistics.median(inside_rel),
                "sharp faded": float(np.mean(sharp.get("faded", [np.nan]))),
                "sharp other": float(np.mean(sharp["other"])),
            })
            log(f"overlap {overlap}: {wall:.0f} s")
    print(f"{args.clip.name}, --size {args.size}, --chunk {args.chunk}, defaults otherwise; E_warp with Farneback flow")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + " --- |" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{v:.5g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
