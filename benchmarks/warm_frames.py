"""When should a warm frame stop? Time, flicker and style over whole clips for each --warm-margin.

Runs this checkout's command line on each clip once per setting (a --warm-margin value, or "off": every
warm frame spends --warm-iterations, the earlier behaviour) and judges the outputs with the independent
measures of benchmarks/throughput.py: E_warp with Farneback flow (the temporal loss uses DIS), style and
content distances on VGG16 layers the loss does not use, sharpness against the input, at the start, middle
and end of each clip.

    python benchmarks/warm_frames.py --clip samples/city.mp4 --clip other.avi --size 128 --max-frames 24 \\
        --margins off 0.02 0.05 0.1
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ROOT, log, run_cli, video_quality  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, action="append")
    ap.add_argument("--style", type=Path, default=ROOT / "samples/starry_night.jpg")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--max-frames", type=int, default=24)
    ap.add_argument("--margins", nargs="+", default=["off", "0.02", "0.05", "0.1"])
    ap.add_argument("--extra", default="", help="more options for every run (shlex-split)")
    ap.add_argument("--metric-side", type=int, default=256)
    args = ap.parse_args()
    clips = [c.resolve() for c in args.clip or [ROOT / "samples/city.mp4"]]
    args.style = args.style.resolve()

    from stylizer.io.readers import load_image
    from stylizer.metrics import IndependentFeatures

    meters = {"": IndependentFeatures(side=args.metric_side)}  # keys bare, as throughput.quality_meters
    style = load_image(args.style).rgb
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            for margin in args.margins:
                out = Path(tmp) / f"{clip.stem}-{margin}.mp4"
                log(f"{clip.name}: --warm-margin {margin}")
                run = run_cli(sys.executable, "video", clip, args.style, out, args,
                              ["--warm-margin", margin, *shlex.split(args.extra)], Path(tmp))
                if run["rc"] != 0:
                    print(f"{clip.name} {margin}: failed: {run.get('error')}")
                    continue
                rows.append((clip.stem, margin, run, video_quality(clip, out, style, meters)))
    print(f"{args.size} px, {args.max_frames} frames, style {args.style.name}")
    print(f"{'clip':>10} {'margin':>6} {'cli s':>7} {'it/fr':>6} {'E_warp fb':>9} {'style st':>8} {'mid':>7} "
          f"{'end':>7} {'content':>7} {'sharp st':>8} {'end':>7}  time / off")
    off = {}
    for clip, margin, run, q in rows:
        if margin == "off":
            off[clip] = run["cli_wall_s"]
        base = off.get(clip)
        print(f"{clip:>10} {margin:>6} {run['cli_wall_s']:7.1f} {run.get('mean_iterations', float('nan')):6.1f} "
              f"{q['ewarp_farneback']:9.6f} {q['style_start']:8.4f} {q['style_mid']:7.4f} {q['style_end']:7.4f} "
              f"{q['content_mean']:7.4f} {q['sharpness_start']:8.4f} {q['sharpness_end']:7.4f}  "
              f"{run['cli_wall_s'] / base if base else float('nan'):.3f}")


if __name__ == "__main__":
    main()
