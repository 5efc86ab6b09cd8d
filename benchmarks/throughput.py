"""Throughput at default settings, this checkout against an earlier revision, with independent quality figures.

Frames per hour for each clip and images per hour for the photo folder, end to end: each run is the command
line in a subprocess (`python -m stylizer INPUT STYLE -o OUT --size N --quiet --force ...`, start-up and
weight loading included), timed from outside with time.perf_counter. Only --size is lowered from the
defaults (and --max-frames where given). The earlier revision is checked out with `git worktree` and
installed into a temporary venv that borrows this interpreter's site-packages (no TensorFlow download);
both are removed at the end.

Quality is judged with measures the optimiser never sees (stylizer.metrics, this checkout), computed after
all timed runs: flicker E_warp with Farneback flow (the optimiser's temporal term uses DIS); style and
content distances on other VGG16 layers (style block1_conv2 ... block5_conv3, content block3_conv3) and on
another ImageNet network, SqueezeNet 1.1 (stylizer.squeezenet; columns "sq"), at a fixed working side;
sharpness relative to the input. For videos, style and sharpness are given at the
start, middle and end (means over 3 frames around the first, middle and last frame) and over all frames;
a drift between start and end is what warm-started frames accumulate.

    python benchmarks/throughput.py                                  # city.mp4 and samples/photos at 192 px
    python benchmarks/throughput.py --size 256 --max-frames 12 --repeat 3 --json /tmp/throughput.json
    python benchmarks/throughput.py --baseline HEAD~5 --only video --clip a.mp4 --clip b.mp4
    python benchmarks/throughput.py --only video --clip vtest.avi --start 400 --max-frames 30
    python benchmarks/throughput.py --extra "--iterations 2 --warm-iterations 1" --only folder   # smoke
    python benchmarks/throughput.py --current-extra "--precision bfloat16"

--extra and --current-extra are shlex-split; a value without a space that starts with "-" needs the
form --extra=--tolerance=0. With --repeat N the baseline and the current checkout alternate (ABAB..., then
BABA...) and medians are reported; quality is measured on the last output of each. Progress goes to
stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SUMMARY = re.compile(
    r"done (?P<done>\d+), skipped (?P<skipped>\d+) \(already finished\), failed (?P<failed>\d+)"
    r" \| wall (?P<wall>[\d.]+) s"
    r"(?: \| mean (?P<iterations>[\d.]+) iterations, (?P<seconds>[\d.]+) s per item)?"
    r" \| output: (?P<output>.*)"
)
SIDES = ("baseline", "current")


def log(message: str) -> None:
    print(f"[throughput {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def describe_current() -> str:
    head = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return head + ("+dirty" if dirty else "")


# ------------------------------------------------------------------------------------------- baseline

def install_baseline(rev: str, tmp: Path) -> Path:
    """Check out ``rev`` with git worktree and install it into a venv that sees this interpreter's
    site-packages through a .pth file; returns that venv's python."""
    src, venv = tmp / "src", tmp / "venv"
    log(f"baseline: git worktree add --detach {src} {rev}")
    git("worktree", "add", "--detach", str(src), rev)
    log(f"baseline: venv {venv} borrowing {sysconfig.get_paths()['purelib']}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    parent = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_stylizer_parent_site.pth").write_text("".join(p + "\n" for p in parent))
    log("baseline: pip install --no-deps --no-build-isolation")
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-build-isolation", "-q",
                           "--disable-pip-version-check", str(src)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pip could not install {rev}: {done.stderr.strip()[-2000:]}")
    # The package must come from the venv, not from the editable install of this checkout.
    where = subprocess.run([str(python), "-c", "import stylizer; print(stylizer.__file__)"], cwd=tmp,
                           check=True, capture_output=True, text=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise SystemExit(f"the baseline venv imports stylizer from {where}, not from {venv}")
    return python


def remove_baseline(tmp: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "src")],
                   capture_output=True, text=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, text=True)


# ------------------------------------------------------------------------------------------- runs

def run_cli(python: Path | str, kind: str, source: Path, style: Path, out: Path, args: argparse.Namespace,
            extra: list[str], cwd: Path) -> dict:
    cmd = [str(python), "-m", "stylizer", str(source), str(style), "-o", str(out), "--size", str(args.size),
           "--quiet", "--force"]
    if kind == "video" and args.max_frames:
        cmd += ["--max-frames", str(args.max_frames)]
    if kind == "video" and args.start:
        cmd += ["--start", str(args.start)]
    cmd += extra
    env = dict(os.environ, STYLIZER_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    # cwd outside the repository: `-m stylizer` would otherwise import ./stylizer before the installed one.
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.perf_counter() - start
    run = {"command": shlex.join(cmd), "rc": done.returncode, "wall_s": wall}
    matches = list(SUMMARY.finditer(done.stdout + "\n" + done.stderr))
    if matches:
        m = matches[-1]
        run.update(done=int(m["done"]), skipped=int(m["skipped"]), failed=int(m["failed"]),
                   cli_wall_s=float(m["wall"]))
        if m["iterations"] is not None:
            run.update(mean_iterations=float(m["iterations"]), s_per_item=float(m["seconds"]))
    if done.returncode != 0:
        run["error"] = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return run


def count_items(kind: str, out: Path) -> int | None:
    try:
        if kind == "video":
            from stylizer.io.readers import count_frames

            return count_frames(out)
        from stylizer.io.readers import list_images

        return len(list_images(out, recursive=True)[0])
    except Exception:
        return None


# ------------------------------------------------------------------------------------------- quality

def windows(n: int, width: int = 3) -> dict[str, list[int]]:
    """Frame indices of the start, middle and end windows of an n-frame clip."""
    def around(centre: int) -> list[int]:
        lo = min(max(0, centre - width // 2), max(0, n - width))
        return list(range(lo, min(n, lo + width)))

    return {"start": list(range(min(n, width))), "mid": around(n // 2), "end": list(range(max(0, n - width), n))}


def _mean(values) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _distances(meters: dict, image: np.ndarray, style: np.ndarray, photo: np.ndarray) -> dict[str, float]:
    """{"style": .., "content": .., "sq_style": .., ...}: each meter's keys under its prefix ("" for none)."""
    return {f"{prefix}_{key}" if prefix else key: value for prefix, meter in meters.items()
            for key, value in meter.distances(image, style_image=style, photo=photo).items()}


def quality_meters(side: int) -> dict:
    """The independent measures by key prefix: VGG16 on layers the loss does not use (bare), SqueezeNet 1.1."""
    from stylizer.metrics import IndependentFeatures

    return {"": IndependentFeatures(side=side), "sq": IndependentFeatures(side=side, network="squeezenet")}


def video_quality(clip: Path, out: Path, style: np.ndarray, meters: dict, start: int = 0) -> dict:
    """``start``: the clip's frame the output's first frame was made from (the runs' --start); flow and
    content distances pair each output frame with that input frame."""
    import cv2

    from stylizer.io.readers import iter_video_frames
    from stylizer.metrics import WarpErrorMeter, relative_sharpness

    flicker, drift = WarpErrorMeter("farneback"), WarpErrorMeter("farneback", gap=10)
    scores, sharp = [], []
    inputs, outputs = iter_video_frames(clip, start=start), iter_video_frames(out)
    try:
        for (_, in_frame), (_, out_frame) in zip(inputs, outputs):
            if out_frame.shape != in_frame.shape:
                out_frame = cv2.resize(out_frame, in_frame.shape[1::-1], interpolation=cv2.INTER_AREA)
            flicker.add(in_frame, out_frame)
            drift.add(in_frame, out_frame)
            scores.append(_distances(meters, out_frame, style, in_frame))
            sharp.append(relative_sharpness(out_frame, in_frame))
    finally:
        inputs.close()
        outputs.close()
    q = {"frames": flicker.count, "ewarp_farneback": flicker.value, "ewarp_farneback_input": flicker.input_value,
         "ewarp_farneback_10": drift.value, "ewarp_farneback_10_input": drift.input_value,
         "sharpness_mean": _mean(sharp)}
    for key in (scores[0] if scores else {}):
        q[f"{key}_mean"] = _mean(d[key] for d in scores)
        for name, idx in windows(len(scores)).items():
            q[f"{key}_{name}"] = _mean(scores[i][key] for i in idx)
    for name, idx in windows(len(sharp)).items():
        q[f"sharpness_{name}"] = _mean(sharp[i] for i in idx)
    return q


def folder_quality(photos: Path, out: Path, style: np.ndarray, meters: dict) -> dict:
    from stylizer.io.readers import list_images, load_image
    from stylizer.metrics import relative_sharpness

    scores, sharp, missing = [], [], 0
    outputs = {p.relative_to(out).with_suffix(""): p for p in list_images(out, recursive=True)[0]}
    for photo_path in list_images(photos, recursive=True)[0]:
        out_path = outputs.get(photo_path.relative_to(photos).with_suffix(""))
        if out_path is None:
            missing += 1
            continue
        photo, result = load_image(photo_path).rgb, load_image(out_path).rgb
        scores.append(_distances(meters, result, style, photo))
        sharp.append(relative_sharpness(result, photo))
    q = {"images": len(scores), "missing": missing, "sharpness_mean": _mean(sharp)}
    for key in (scores[0] if scores else {}):
        q[f"{key}_mean"] = _mean(d[key] for d in scores)
    return q


# ------------------------------------------------------------------------------------------- report

def fmt(value, spec: str = ".4f", width: int = 9) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:{width}{spec}}"


def ratio(a, b) -> float:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return float("nan")
    return a / b


def summarise(kind: str, runs: list[dict]) -> dict:
    ok = [r for r in runs if r["rc"] == 0]
    s = {"runs": len(runs), "succeeded": len(ok)}
    if not ok:
        s["error"] = runs[-1].get("error") if runs else "not run"
        return s
    s["wall_s"] = statistics.median(r["wall_s"] for r in ok)
    items = [r.get("items") for r in ok if r.get("items")]
    s["items"] = int(statistics.median(items)) if items else None
    s["per_hour"] = s["items"] * 3600 / s["wall_s"] if s["items"] else None
    for key in ("mean_iterations", "s_per_item", "cli_wall_s"):
        values = [r[key] for r in ok if key in r]
        s[key] = statistics.median(values) if values else None
    return s


def print_table(entry: dict, labels: dict[str, str]) -> None:
    kind, unit = entry["kind"], "frames" if entry["kind"] == "video" else "images"
    print(f"\n{entry['input']} ({kind}, --size {entry['size']}"
          + (f", --max-frames {entry['max_frames']}" if kind == "video" and entry["max_frames"] else "")
          + (f", --start {entry['start']}" if kind == "video" and entry.get("start") else "") + ")")
    head = f"{'revision':>16} {'wall s':>8} {'cli s':>7} {unit:>6} {unit[:-1] + '/h':>9} {'ratio':>6} {'it/item':>7}"
    if kind == "video":
        head += (f" {'E_warp fb':>9} {'gap 10':>9} {'style st':>8} {'mid':>7} {'end':>7} {'all':>7}"
                 f" {'sq st':>7} {'mid':>7} {'end':>7}"
                 f" {'sharp st':>8} {'mid':>6} {'end':>6} {'all':>6} {'content':>7} {'sq cont':>7}")
    else:
        head += f" {'style':>7} {'content':>7} {'sq style':>8} {'sq cont':>7} {'sharp':>6}"
    print(head)
    base = entry["summary"]["baseline"].get("per_hour")
    for side in SIDES:
        s, q = entry["summary"][side], entry["quality"].get(side) or {}
        if not s.get("succeeded"):
            print(f"{labels[side]:>16} failed: {s.get('error')}")
            continue
        line = (f"{labels[side]:>16} {s['wall_s']:8.1f} {fmt(s['cli_wall_s'], '.1f', 7)} {fmt(s['items'], 'd', 6)} "
                f"{fmt(s['per_hour'], '.0f')} "
                f"{fmt(ratio(s['per_hour'], base), '.2f', 6)} {fmt(s['mean_iterations'], '.1f', 7)}")
        if kind == "video":
            line += (f" {fmt(q.get('ewarp_farneback'), '.5f')} {fmt(q.get('ewarp_farneback_10'), '.5f')}"
                     f" {fmt(q.get('style_start'), '.4f', 8)}"
                     f" {fmt(q.get('style_mid'), '.4f', 7)} {fmt(q.get('style_end'), '.4f', 7)}"
                     f" {fmt(q.get('style_mean'), '.4f', 7)} {fmt(q.get('sq_style_start'), '.4f', 7)}"
                     f" {fmt(q.get('sq_style_mid'), '.4f', 7)} {fmt(q.get('sq_style_end'), '.4f', 7)}"
                     f" {fmt(q.get('sharpness_start'), '.3f', 8)}"
                     f" {fmt(q.get('sharpness_mid'), '.3f', 6)} {fmt(q.get('sharpness_end'), '.3f', 6)}"
                     f" {fmt(q.get('sharpness_mean'), '.3f', 6)} {fmt(q.get('content_mean'), '.4f', 7)}"
                     f" {fmt(q.get('sq_content_mean'), '.4f', 7)}")
        else:
            line += (f" {fmt(q.get('style_mean'), '.4f', 7)} {fmt(q.get('content_mean'), '.4f', 7)}"
                     f" {fmt(q.get('sq_style_mean'), '.4f', 8)} {fmt(q.get('sq_content_mean'), '.4f', 7)}"
                     f" {fmt(q.get('sharpness_mean'), '.3f', 6)}")
        print(line)
    if kind == "video" and entry["quality"].get("input_ewarp_farneback") is not None:
        floor_10 = next((q.get("ewarp_farneback_10_input") for q in entry["quality"].values()
                         if isinstance(q, dict) and q.get("ewarp_farneback_10_input") is not None), float("nan"))
        print(f"{'(input itself)':>16} E_warp fb {entry['quality']['input_ewarp_farneback']:.5f}, "
              f"gap 10 {floor_10:.5f} (the floor)")
    entry["ratios"] = ratios = comparison(entry)
    if ratios:
        print("current vs baseline: " + "; ".join(ratios["text"]))


def comparison(entry: dict) -> dict:
    kind = entry["kind"]
    sb, sc = entry["summary"]["baseline"], entry["summary"]["current"]
    qb, qc = entry["quality"].get("baseline") or {}, entry["quality"].get("current") or {}
    if not (sb.get("succeeded") and sc.get("succeeded")):
        return {}
    unit = "frames" if kind == "video" else "images"
    out = {"per_hour": ratio(sc.get("per_hour"), sb.get("per_hour")), "text": []}
    out["text"].append(f"{out['per_hour']:.2f}x {unit} per hour")

    def rel(key: str) -> float:
        return ratio(qc.get(key), qb.get(key)) - 1

    if kind == "video":
        out["flicker"] = ratio(qc.get("ewarp_farneback"), qb.get("ewarp_farneback"))
        out["flicker_10"] = ratio(qc.get("ewarp_farneback_10"), qb.get("ewarp_farneback_10"))
        out["sharpness_end"] = ratio(qc.get("sharpness_end"), qb.get("sharpness_end"))
        out["text"] += [f"flicker {out['flicker']:.2f}x", f"over 10 frames {out['flicker_10']:.2f}x"]
        for net, prefix in (("VGG16", ""), ("SqueezeNet", "sq_")):
            for window in ("start", "mid", "end", "mean"):
                out[f"{prefix}style_{window}"] = rel(f"{prefix}style_{window}")
            out["text"].append(f"{net} style start / mid / end / all " + " / ".join(
                f"{out[f'{prefix}style_{w}']:+.1%}" for w in ("start", "mid", "end", "mean")))
        out["text"].append(f"sharpness end {out['sharpness_end']:.2f}x")
    else:
        for net, prefix in (("VGG16", ""), ("SqueezeNet", "sq_")):
            out[f"{prefix}style"], out[f"{prefix}content"] = rel(f"{prefix}style_mean"), rel(f"{prefix}content_mean")
            out["text"] += [f"{net} style {out[f'{prefix}style']:+.1%}", f"content {out[f'{prefix}content']:+.1%}"]
        out["sharpness"] = ratio(qc.get("sharpness_mean"), qb.get("sharpness_mean"))
        out["text"].append(f"sharpness {out['sharpness']:.2f}x")
    return out


# ------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="0305937", help="earlier git revision (default 0305937)")
    ap.add_argument("--clip", type=Path, action="append", help="video (repeatable; default samples/city.mp4)")
    ap.add_argument("--photos", type=Path, default=ROOT / "samples/photos")
    ap.add_argument("--style", type=Path, default=ROOT / "samples/starry_night.jpg")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--start", type=int, default=0,
                    help="first frame of each clip to make (the CLI's --start, on both sides; the measures follow it)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per side, alternating; medians reported")
    ap.add_argument("--only", choices=["video", "folder"])
    ap.add_argument("--extra", default="", help="arguments for both command lines (one string, shlex-split)")
    ap.add_argument("--current-extra", default="", help="arguments for this checkout's command line only")
    ap.add_argument("--metric-side", type=int, default=256, help="working side of the style/content distances")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()

    clips = [p.resolve() for p in (args.clip or [ROOT / "samples/city.mp4"])]
    inputs = ([] if args.only == "folder" else [("video", c) for c in clips])
    inputs += ([] if args.only == "video" else [("folder", args.photos.resolve())])
    style_path = args.style.resolve()
    extra, current_extra = shlex.split(args.extra), shlex.split(args.current_extra)
    if any(a == "--start" or a.startswith("--start=") for a in extra + current_extra):
        # The measures would pair the output's frames with the clip's first frames instead.
        ap.error("give --start to this script, not in --extra: the quality measures must follow it")
    labels = {"baseline": git("rev-parse", "--short", args.baseline), "current": describe_current()}
    report = {"baseline": git("rev-parse", args.baseline), "current": labels["current"], "size": args.size,
              "max_frames": args.max_frames, "repeat": args.repeat, "extra": extra, "current_extra": current_extra,
              "metric_side": args.metric_side, "inputs": []}

    tmp = Path(tempfile.mkdtemp(prefix="stylizer-throughput-"))
    try:
        pythons = {"baseline": install_baseline(args.baseline, tmp), "current": Path(sys.executable)}
        work = tmp / "work"
        work.mkdir()
        finals: list[dict[str, Path | None]] = []
        for kind, source in inputs:
            entry = {"input": str(source), "kind": kind, "size": args.size, "max_frames": args.max_frames,
                     "start": args.start,
                     "runs": {side: [] for side in SIDES}}
            final: dict[str, Path | None] = {side: None for side in SIDES}
            for r in range(args.repeat):
                order = SIDES if r % 2 == 0 else SIDES[::-1]
                for side in order:
                    name = source.stem + (".mp4" if kind == "video" else "_stylized")
                    out = tmp / "out" / side / str(r) / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    log(f"{side} {labels[side]} run {r + 1}/{args.repeat}: {kind} {source.name} at {args.size} px")
                    run = run_cli(pythons[side], kind, source, style_path, out, args,
                                  extra + (current_extra if side == "current" else []), work)
                    if run["rc"] == 0:
                        run["items"] = run.get("done") or count_items(kind, out)
                        if final[side] is not None:   # only the last output of each side is measured
                            shutil.rmtree(final[side].parent, ignore_errors=True)
                        final[side] = out
                        log(f"  {run['wall_s']:.1f} s, {run.get('items')} items"
                            + (f", {run['mean_iterations']:.1f} iterations per item" if "mean_iterations" in run else ""))
                    else:
                        log(f"  failed (exit {run['rc']}): {run.get('error')}")
                    entry["runs"][side].append(run)
            entry["summary"] = {side: summarise(kind, entry["runs"][side]) for side in SIDES}
            report["inputs"].append(entry)
            finals.append(final)

        # Quality after every timed run, so that it cannot disturb the timing.
        meters = style = None
        for entry, final in zip(report["inputs"], finals):
            entry["quality"] = {}
            for side in SIDES:
                if final[side] is None:
                    continue
                log(f"quality: {side} {entry['kind']} {Path(entry['input']).name}")
                try:
                    if meters is None:
                        from stylizer.io.readers import load_image

                        meters = quality_meters(args.metric_side)
                        style = load_image(style_path).rgb
                    if entry["kind"] == "video":
                        entry["quality"][side] = video_quality(Path(entry["input"]), final[side], style, meters,
                                                               args.start)
                    else:
                        entry["quality"][side] = folder_quality(Path(entry["input"]), final[side], style, meters)
                except Exception as exc:  # a broken measure must not lose the timings
                    log(f"  quality failed: {type(exc).__name__}: {exc}")
                    entry["quality"][side] = {"error": f"{type(exc).__name__}: {exc}"}
            if entry["kind"] == "video":
                floors = [q.get("ewarp_farneback_input") for q in entry["quality"].values()]
                entry["quality"]["input_ewarp_farneback"] = next((f for f in floors if f is not None), None)
    finally:
        remove_baseline(tmp)
        shutil.rmtree(tmp, ignore_errors=True)

    print("wall s: the subprocess, start-up included (per hour uses it); cli s: the run's own summary; "
          "it/item: mean L-BFGS iterations; sharp: sharpness relative to the input at the output's size")
    print(f"baseline {labels['baseline']} vs current {labels['current']}; --size {args.size}; "
          f"extra {shlex.join(extra) or '-'}; current extra {shlex.join(current_extra) or '-'}; "
          f"repeat {args.repeat}; quality: E_warp Farneback, VGG16 and SqueezeNet distances at {args.metric_side} px")
    for entry in report["inputs"]:
        print_table(entry, labels)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
