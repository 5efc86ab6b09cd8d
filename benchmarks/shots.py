"""Time per frame of a many-shot film against a few-shot one of the same length: does work grow with cuts?

Two synthetic 1280x720 clips of the same number of frames are made from the repository's sample photos, each
shot a slow pan across another photo (hard cuts between them): one with --shots-many shots, one with
--shots-few. Both run through the command line at a tiny working size and one iteration per frame, so
decoding, planning and per-segment overhead dominate, which is what this measures. A driver that decoded
the video from its start for every segment would cost about shots/2 times more per frame on the first clip.

    python benchmarks/shots.py                         # 40 against 2 shots, 240 frames, this checkout
    python benchmarks/shots.py --baseline 0305937      # the same, side by side with an earlier revision
    python benchmarks/shots.py --repeat 3 --frames 480

Progress goes to stderr; the table (median wall seconds per frame and the many/few ratio) to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import install_baseline, log, remove_baseline  # noqa: E402

PHOTOS = [ROOT / "samples" / "chelsea.jpg", *sorted((ROOT / "samples" / "photos").glob("*.jpg"))]


def make_clip(path: Path, frames: int, shots: int, width: int = 1280, height: int = 720) -> Path:
    from stylizer.io.readers import load_image
    from stylizer.io.writers import assemble_video

    pictures = [load_image(p).rgb for p in PHOTOS]
    bounds = [round(k * frames / shots) for k in range(shots + 1)]

    def generate():
        for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
            count = b - a
            picture = cv2.resize(pictures[k % len(pictures)], (width + 4 * count, height),
                                 interpolation=cv2.INTER_CUBIC)
            for i in range(count):
                yield picture[:, 4 * i: 4 * i + width]

    assemble_video(generate(), path, Fraction(24), (width, height), frame_count_hint=frames)
    return path


def run(python: Path | str, clip: Path, style: Path, out: Path, cwd: Path) -> float:
    cmd = [str(python), "-m", "stylizer", str(clip), str(style), "-o", str(out), "--size", "64",
           "--iterations", "1", "--warm-iterations", "1", "--quiet", "--force"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-1500:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--shots-many", type=int, default=40)
    parser.add_argument("--shots-few", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", help="an earlier git revision to run side by side")
    args = parser.parse_args()
    style = ROOT / "samples" / "starry_night.jpg"
    with tempfile.TemporaryDirectory(prefix="shots") as tmp_name:
        tmp = Path(tmp_name)
        clips = {}
        for name, shots in (("many", args.shots_many), ("few", args.shots_few)):
            log(f"making {args.frames} frames of 1280x720 in {shots} shots")
            clips[name] = make_clip(tmp / f"{name}.mp4", args.frames, shots)
        sides = {"current": sys.executable}
        try:
            if args.baseline:
                sides = {"baseline": install_baseline(args.baseline, tmp / "baseline"), **sides}
            walls = {(side, name): [] for side in sides for name in clips}
            for r in range(args.repeat):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    for name, clip in clips.items():
                        wall = run(sides[side], clip, style, tmp / f"{side}-{name}.mp4", tmp)
                        walls[side, name].append(wall)
                        log(f"{side} {name}: {wall:.1f} s ({wall / args.frames:.3f} s per frame)")
        finally:
            if args.baseline:
                remove_baseline(tmp / "baseline")
    print(f"{args.frames} frames at 1280x720, --size 64, 1 iteration per frame; medians of {args.repeat}")
    print(f"{'side':<10}{'s/frame ' + str(args.shots_many) + ' shots':>20}{'s/frame ' + str(args.shots_few) + ' shots':>20}"
          f"{'ratio':>8}")
    for side in sides:
        many = statistics.median(walls[side, "many"]) / args.frames
        few = statistics.median(walls[side, "few"]) / args.frames
        print(f"{side:<10}{many:>20.3f}{few:>20.3f}{many / few:>8.2f}")


if __name__ == "__main__":
    main()
