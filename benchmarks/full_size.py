"""--size full against --size 512 upscaled: the detail a full-resolution output has, its time and memory.

Each photo is stylised twice through the command line, in a child process each (so that each peak RSS is
its own): at --size 512 (the output is then the 512-px result upscaled, Lanczos) and at --size full. Detail
is the mean squared Laplacian of the output over the photo's (metrics.relative_sharpness), a measure the
optimiser does not see.

    python benchmarks/full_size.py PHOTO:PAINTING [PHOTO:PAINTING ...] [-- extra stylize-video options]

Prints one line per run (seconds, peak RSS, detail) and the ratio full / 512 per photo.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(photo: Path, painting: Path, size: str, out: Path, extra: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in GiB) of one stylize-video run in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.time()
    subprocess.run([sys.executable, "-m", "stylizer.cli", str(photo), str(painting), "--size", size, "-o", str(out),
                    "--quiet", *extra], check=True)
    seconds = time.time() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, in KiB
    return seconds, (peak if peak > before else float("nan")) / 2**20


def main() -> None:
    import numpy as np

    from stylizer.io.readers import load_image
    from stylizer.metrics import relative_sharpness

    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="PHOTO:PAINTING")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    ratios = []
    with tempfile.TemporaryDirectory(prefix="stylizer-full-") as scratch:
        for pair in args.pairs:
            photo, painting = map(Path, pair.split(":"))
            original = load_image(photo).rgb
            detail = {}
            for size in ("512", "full"):
                out = Path(scratch) / f"{photo.stem}.{size}.png"
                seconds, peak = run(photo, painting, size, out, extra)
                detail[size] = relative_sharpness(load_image(out).rgb, original)
                print(f"{photo.name} {original.shape[1]}x{original.shape[0]} --size {size}: {seconds:.0f} s, "
                      f"peak RSS {peak:.1f} GiB, detail {detail[size]:.3f} of the photo's", flush=True)
            ratios.append(detail["full"] / detail["512"])
            print(f"{photo.name}: detail full / 512 upscaled = {ratios[-1]:.2f}x", flush=True)
    print(f"median detail ratio {float(np.median(ratios)):.2f}x over {len(ratios)} photos")


if __name__ == "__main__":
    main()
