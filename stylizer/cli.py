"""Command line: parses arguments into a Settings and hands over to the driver. Nothing else lives here."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _size(text: str) -> int:
    from stylizer.settings import FULL

    if text.strip().lower() == "full":
        return FULL
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels or 'full', got '{text}'") from None


def build_parser() -> argparse.ArgumentParser:
    from stylizer.colour import MODES
    from stylizer.settings import PRESETS

    p = argparse.ArgumentParser(
        prog="stylize-video",
        description="Neural style transfer (Gatys et al.) for a video, a folder of images or one image.",
        epilog="Exit codes: 0 all done, 1 some items failed (listed in a failures file), 2 usage error, "
               "130/143 interrupted (re-run the same command to resume).",
    )
    p.add_argument("input", nargs="?", type=Path, help="video file, image folder or image")
    p.add_argument("styles", nargs="*", type=Path, metavar="style",
                   help="one or more style images; with -s, more inputs instead")
    p.add_argument("-s", "--style", action="append", type=Path, dest="style_options", metavar="STYLE",
                   help="a style image (repeatable); then every positional argument is an input, run one "
                        "after another with one model load: stylize-video a.mp4 b.mov photos/ -s style.jpg")
    p.add_argument("-o", "--output", type=Path, help="output file or folder (default: beside the input)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="bundle of size and budgets")
    g = p.add_argument_group("optimisation")
    g.add_argument("--size", type=_size, help="longest side of the working image (default 512), or full: "
                   "each input at its own size")
    g.add_argument("--iterations", type=int, help="L-BFGS iterations per image / cold frame (default 100)")
    g.add_argument("--first-iterations", type=int, help="iterations for the first frame of each shot")
    g.add_argument("--warm-iterations", type=int,
                   help="most iterations for a warm-started video frame (default 40)")
    g.add_argument("--warm-margin", type=_margin, metavar="FRACTION|off",
                   help="a warm frame stops once its losses are within this fraction of the shot's first, "
                        "converged frame (default 0.1); off: always spend --warm-iterations")
    g.add_argument("--warm-min-iterations", type=int,
                   help="iterations every warm frame runs before it may stop (default 0: a warped start already "
                        "as good as the shot's first frame is kept)")
    g.add_argument("--warm-moving-iterations", type=int,
                   help="iterations every warm frame of a moving view (a pan, a zoom) runs before it may stop "
                        "(default 7; 0: as any other warm frame)")
    g.add_argument("--warm-changing-iterations", type=int,
                   help="iterations every warm frame of a still view with things moving in it (people walking) "
                        "runs before it may stop (default 4; 0: as any other warm frame)")
    g.add_argument("--no-coarse-to-fine", action="store_false", dest="coarse_to_fine", default=None,
                   help="optimise cold frames and images at full size from the first iteration")
    g.add_argument("--content-weight", type=float)
    g.add_argument("--style-weight", type=float)
    g.add_argument("--tv-weight", type=float, help="total variation (smoothness) weight")
    g.add_argument("--temporal-weight", type=float, help="weight of the flow-warped previous frame")
    g.add_argument("--style-scale", type=float,
                   help="style image's longest side relative to the working side (larger: larger strokes)")
    g.add_argument("--style-weights", type=float, nargs="+", help="blend weights, one per style image")
    g.add_argument("--content-layer")
    g.add_argument("--style-layers", nargs="+")
    g.add_argument("--style-layer-weights", type=float, nargs="+", metavar="W",
                   help="one weight per style layer (default equal): more on the deep layers gives larger "
                        "structures of the painting, on the shallow ones its fine texture")
    g.add_argument("--pooling", choices=["max", "avg"],
                   help="VGG16's pooling (default max; avg is Gatys et al.'s recommendation)")
    g.add_argument("--init", help="where a cold start begins: auto (the default: an image from the palette, a "
                                  "shot's first frame from the photo), palette (the photo in the painting's "
                                  "colours), content, noise, or an image path")
    g.add_argument("--seed", type=int)
    g.add_argument("--preserve-colors", nargs="?", const="swap", choices=MODES, metavar="MODE",
                   help="keep the photo's colours: swap (the default of the bare flag: the result's luminance "
                        "with the photo's chroma), luminance (style transferred on luminance only) or "
                        "histogram (the painting's colours matched to the photo's first)")
    g.add_argument("--temporal", choices=["flow", "warm", "none"], help="video frame coupling (default flow)")
    g.add_argument("--temporal-frames", type=int, nargs="+", metavar="N",
                   help="earlier frames the temporal loss holds each frame to, 1 = the one before (default 1; "
                        "Ruder et al.'s long-term consistency: 1 2 4)")
    g.add_argument("--precision", choices=["auto", "float32", "bfloat16"],
                   help="network precision (default auto: bfloat16 where the hardware has it, else float32)")
    g.add_argument("--tolerance", type=float, help="stop once the loss improves less than this fraction")
    g.add_argument("--warm-tolerance", type=float,
                   help="the same for a warm frame past its minimum that has not reached its goal (default 0.01)")
    g.add_argument("--optimizer", choices=["auto", "scipy", "lbfgs"],
                   help="lbfgs: projected L-BFGS on the backend's tensors; scipy: L-BFGS-B on the host "
                        "(default auto: lbfgs on a CPU, scipy on a GPU)")
    v = p.add_argument_group("video")
    v.add_argument("--start", type=int, help="first input frame")
    v.add_argument("--end", type=int, help="stop before this input frame")
    v.add_argument("--max-frames", type=int)
    v.add_argument("--every", type=int, help="keep every Nth frame (fps divided by N, duration kept)")
    v.add_argument("--crf", type=int, help="H.264 quality (default 18)")
    v.add_argument("--codec", help="ffmpeg video encoder (default libx264)")
    o = p.add_argument_group("output and run")
    o.add_argument("--format", help="output image format for folders (default: each input's own)")
    o.add_argument("--recursive", action="store_true", help="include sub-folders, keeping the layout")
    o.add_argument("--keep-frames", action="store_true", help="keep the work directory of a video")
    o.add_argument("--force", "--overwrite", action="store_true", dest="force",
                   help="start over, replacing earlier results")
    o.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    o.add_argument("--memory", type=float, metavar="GIB",
                   help="memory one evaluation may use (default: what is available); larger pictures are "
                        "optimised in overlapping tiles")
    o.add_argument("--executor", choices=["local", "ray"], default=os.environ.get("STYLIZER_EXECUTOR") or "local",
                   help="local: this process (default); ray: actors on the Ray cluster named by RAY_ADDRESS, "
                        "or on a local Ray (also STYLIZER_EXECUTOR=ray)")
    o.add_argument("--workers", type=int, help="Ray actors (default: one per GPU, else one per node)")
    o.add_argument("--chunk", type=int, metavar="FRAMES",
                   help="split shots longer than this into chunks that run in parallel, cross-faded over "
                        "10 frames where they meet (default: 48 with several workers, none otherwise; at "
                        "least 11)")
    o.add_argument("--weights", help="VGG16 weights file (.npz, Keras .h5 or .onnx)")
    o.add_argument("--fetch-weights", action="store_true", help="obtain and verify the weights, then exit")
    o.add_argument("--evaluate", nargs=2, type=Path, metavar=("INPUT", "OUTPUT"),
                   help="print the flicker (warping error) of OUTPUT against INPUT, and the per-frame losses "
                        "when style images are given")
    o.add_argument("--log", metavar="FILE", help="append messages, a progress line a minute and the summary, "
                                                  "timestamped, to FILE")
    o.add_argument("--records", metavar="FILE", help="append a JSON line per image or frame to FILE (status, "
                                                     "reason, iterations, evaluations, seconds, losses)")
    o.add_argument("--dry-run", action="store_true",
                   help="show the plan (items, frames, shots, disk) and a time estimate from a short "
                        "measurement; optimise and write nothing")
    o.add_argument("--quiet", action="store_true", help="only the summary and errors")
    o.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _margin(value: str) -> float | str:
    if value.lower() == "off":
        return "off"
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.05, or off (got '{value}')") from None


OPTION_NAMES = (
    "size", "iterations", "first_iterations", "warm_iterations", "warm_margin", "warm_min_iterations",
    "warm_moving_iterations", "warm_changing_iterations", "coarse_to_fine", "content_weight", "style_weight",
    "tv_weight", "temporal_weight", "style_scale", "init", "seed", "preserve_colors", "temporal",
    "precision", "optimizer", "tolerance", "warm_tolerance", "start", "max_frames", "every", "crf", "codec",
    "format", "content_layer", "pooling", "memory",
)


def settings_from_args(args: argparse.Namespace):
    from stylizer.errors import UsageError
    from stylizer.settings import PRESETS, Settings

    values = dict(PRESETS[args.preset])
    values.update({name: getattr(args, name) for name in OPTION_NAMES if getattr(args, name) is not None})
    if values.get("warm_margin") == "off":
        values["warm_margin"] = None
    if args.style_weights:
        values["style_weights"] = tuple(args.style_weights)
    if args.style_layers:
        values["style_layers"] = tuple(args.style_layers)
    if args.style_layer_weights:
        values["style_layer_weights"] = tuple(args.style_layer_weights)
    if args.temporal_frames:
        values["temporal_frames"] = tuple(args.temporal_frames)
    if args.end is not None:
        start, every = values.get("start", 0), values.get("every", 1)
        if args.end <= start:
            raise UsageError("--end must be after --start")
        frames = -(-(args.end - start) // every)
        values["max_frames"] = min(frames, values.get("max_frames") or frames)
    settings = Settings(**values, device=args.device, quiet=args.quiet, recursive=args.recursive,
                        keep_frames=args.keep_frames, force=args.force, debug=args.debug, weights=args.weights,
                        executor=args.executor, workers=args.workers, chunk=args.chunk, log=args.log,
                        records=args.records, dry_run=args.dry_run)
    settings.validate()
    return settings


def _log(settings, message: str) -> None:
    if settings.log:
        from stylizer.driver import append_log

        append_log(Path(settings.log), message)


def _quiet_backend_logs() -> None:
    # TensorFlow's C++ start-up chatter (oneDNN notices, CUDA probing) is noise to a user of this tool.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def entry() -> None:
    """The console scripts and ``python -m stylizer``: main(); after SIGINT/SIGTERM, once everything is
    cleaned up, exit by that signal itself, so that a shell loop (`for f in *.mp4; do ...; done`) stops
    too. The shell then reports 130/143, as main() returns to callers in Python."""
    code = main()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if code == 128 + signum and _interrupted_by == signum:
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
    sys.exit(code)


_interrupted_by: int | None = None


def main(argv: list[str] | None = None) -> int:
    global _interrupted_by
    _quiet_backend_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    from stylizer.console import native_stderr_silenced

    with native_stderr_silenced(not args.debug):
        import stylizer.compute  # noqa: F401  (imports the backend, which prints C++ notices)
    from stylizer.errors import StylizerError
    from stylizer.driver import Interrupted

    try:
        return _dispatch(parser, args)
    except Interrupted as exc:
        print(f"stylize-video: interrupted ({exc}); finished work is kept: run the same command to resume",
              file=sys.stderr)
        _interrupted_by = exc.signum
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("stylize-video: interrupted; finished work is kept: run the same command to resume", file=sys.stderr)
        _interrupted_by = signal.SIGINT
        return 130
    except StylizerError as exc:
        if args.debug:
            raise
        print(f"stylize-video: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.debug:
            raise
        print("stylize-video: error: out of memory; try a smaller --size", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from stylizer.errors import UsageError

    if args.fetch_weights:
        from stylizer import weights

        weights.load_weights(args.weights)
        print(f"weights: ready ({weights.cache_dir() / weights.CACHE_NAME} or --weights)")
        return EXIT_OK
    if args.evaluate:
        from stylizer.evaluation import evaluate

        styles = [args.input, *args.styles] if args.input else []
        evaluate(args.evaluate[0], args.evaluate[1], styles, settings_from_args(args))
        return EXIT_OK
    if args.style_options:
        inputs, styles = [p for p in (args.input, *args.styles) if p is not None], args.style_options
    else:
        inputs, styles = [args.input] if args.input is not None else [], args.styles
    if not inputs or not styles:
        parser.print_usage(sys.stderr)
        raise UsageError("give an input (video, folder or image) and at least one style image")
    for style in styles:
        if not style.exists():
            raise UsageError(f"style image not found: {style}")
    if len(inputs) > 1 and args.output is not None:
        raise UsageError("-o names one output: with several inputs each output goes beside its input")
    settings = settings_from_args(args)
    from stylizer import compute, driver
    from stylizer.errors import StylizerError

    backend = compute.configure_device(settings.device, settings.debug)
    code = EXIT_OK
    for source in inputs:
        if not settings.quiet:
            print(f"stylize-video: {source} in the style of {', '.join(map(str, styles))} ({backend})",
                  file=sys.stderr)
        try:
            report = driver.run(settings, source, styles, args.output)
        except StylizerError as exc:
            if len(inputs) == 1 or args.debug:
                raise
            # One unusable input of several fails that input, not the others.
            print(f"stylize-video: error: {exc}", file=sys.stderr)
            _log(settings, f"error: {exc}")
            code = max(code, exc.exit_code)
            continue
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
            _log(settings, f"note: {note}")
        for item, reason in report.failed:
            print(f"failed: {reason}" if item in reason else f"failed: {item}: {reason}", file=sys.stderr)
        print(report.summary())
        _log(settings, report.summary())
        code = max(code, EXIT_FAILED if report.failed else EXIT_OK)
    return code


if __name__ == "__main__":
    sys.exit(main())
