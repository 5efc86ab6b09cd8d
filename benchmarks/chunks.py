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
    python benchmarks/chunks.py --clip vtest.avi --max-frames 96 --chunk 24 --overlaps 0 2 4 8
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=ROOT / "samples" / "city.mp4")
    parser.add_argument("--style", type=Path, default=ROOT / "samples" / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=10)
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[0, 1, 2, 3])
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
            boundary = set()
            for span in spans[1:]:
                for j in range(span.first, span.owned + 1):  # pair (j-1, j) is item j-1
                    boundary.add(j - 1)
            inside = [e for k, e in enumerate(errors) if k not in boundary and not np.isnan(e)]
            at = [errors[k] for k in sorted(boundary) if k < len(errors) and not np.isnan(errors[k])]
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
                "wall s": wall, "inside median": median_inside, "boundary max": max(at),
                "boundary median": statistics.median(at), "max / inside": max(at) / median_inside,
                "sharpness faded": float(np.mean(sharp.get("faded", [np.nan]))),
                "sharpness other": float(np.mean(sharp["other"])),
            })
            print(f"[chunks] overlap {overlap}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"{args.clip.name}, --size {args.size}, --chunk {args.chunk}, defaults otherwise; E_warp with Farneback flow")
    keys = list(rows[0])
    print("".join(f"{k:>17}" for k in keys))
    for row in rows:
        print("".join(f"{v:>17.5f}" if isinstance(v, float) else f"{v:>17}" for v in row.values()))


if __name__ == "__main__":
    main()
