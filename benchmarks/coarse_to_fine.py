"""Coarse-to-fine against full-size optimisation for cold frames and images: final full-size loss for the cost.

For each photo: the full-size run (``--no-coarse-to-fine``, the whole budget at full size) and each
schedule COARSE:FINE (iterations per coarser level and at full size, as fractions of --iterations). Reports
the final losses at full size (the temporal term is off for cold frames), the work in full-size evaluation
equivalents and the wall time, with ratios to the full-size run.

    python benchmarks/coarse_to_fine.py --size 256 --iterations 100 --schedules 1.0:0.3 1.0:0.5 0.5:0.3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, nargs="+",
                    default=[ROOT / "samples/chelsea.jpg", ROOT / "samples/photos/astronaut.jpg"])
    ap.add_argument("--style", type=Path, default=ROOT / "samples/starry_night.jpg")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--schedules", nargs="+", default=["0.5:0.8"])
    args = ap.parse_args()

    from stylizer import engine
    from stylizer.io.readers import load_image
    from stylizer.optimize import multiscale
    from stylizer.settings import Settings

    settings = Settings(size=args.size, iterations=args.iterations).resolved()
    styles = engine.load_styles([args.style], ())
    stylizer = engine.Stylizer(settings, styles)
    print(f"{args.size} px, {args.iterations} iterations, precision {settings.precision}, "
          f"optimizer {settings.optimizer}")
    print(f"{'photo':>14} {'schedule':>9} {'levels':>22} {'loss':>8} {'style':>8} {'content':>8} {'work':>6} "
          f"{'wall s':>7} {'loss/full':>9} {'work/full':>9} {'wall/full':>9}")
    for photo in args.photos:
        rgb = load_image(photo).rgb
        content = engine.resize(rgb, *engine.working_shape(*rgb.shape[:2], args.size)).astype("float32")
        stylizer.stylize(content, 2)  # trace every level's graphs before timing
        base = None
        for schedule in ["full", *args.schedules]:
            if schedule == "full":
                plan_enabled = False
            else:
                plan_enabled = True
                multiscale.IMAGE = multiscale.Schedule(*map(float, schedule.split(":")))
            stylizer.settings = settings.replace(coarse_to_fine=plan_enabled)
            plan = multiscale.levels(*content.shape[:2], args.iterations, plan_enabled)
            started = time.perf_counter()
            result = stylizer.stylize(content, args.iterations)
            wall = time.perf_counter() - started
            parts = stylizer.loss_parts(result.image, content)
            loss = (settings.content_weight * parts["content"] + settings.style_weight * parts["style"]
                    + settings.tv_weight * parts["tv"])
            work = result.work if result.work is not None else result.evaluations
            row = (loss, work, wall)
            if base is None:
                base = row
                full_history = result.history
            # how many full-size iterations reach this schedule's final loss (history holds total losses,
            # equal to the picture's loss here: cold frames have no temporal term)
            reached = next((i + 1 for i, v in enumerate(full_history) if v <= result.loss), None)
            levels = "+".join(f"{max(shape)}:{n}" for shape, n in plan)
            print(f"{photo.stem:>14} {schedule:>9} {levels:>22} {loss:8.4f} {parts['style']:8.4f} "
                  f"{parts['content']:8.4f} {work:6.1f} {wall:7.1f} {loss / base[0]:9.3f} {work / base[1]:9.3f} "
                  f"{wall / base[2]:9.3f}  (full size reaches this loss after {reached} iterations)", flush=True)


if __name__ == "__main__":
    main()
