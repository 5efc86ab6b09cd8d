"""How far the independent style distance moves when a finished picture is only moved.

A warm frame that is kept, or optimised for a step or two, is the previous result moved with the camera.
Its painted texture is unchanged, but it no longer sits where the optimiser painted it for: VGG16's
pooling is not shift-invariant, so the Gram matrices of a pixel-optimised texture change with its position.
This measures same-size windows of one picture, offset by whole pixels (no resampling, no invented border),
with the independent style distance of benchmarks/throughput.py (stylizer.metrics.IndependentFeatures),
relative to the window at 0,0. A slow pan moves every kept frame a little further, so read a panning
shot's start / mid / end figures against these (benchmarks/RESULTS.md).

    python benchmarks/shift_sensitivity.py STYLISED.mp4 STYLE.jpg              # the video's first frame
    python benchmarks/shift_sensitivity.py STYLISED.png STYLE.jpg --shifts 1,0 2,3 8,8 16,16
    python benchmarks/shift_sensitivity.py STYLISED.mp4 STYLE.jpg --network squeezenet   # a network the loss lacks
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylizer.metrics import NETWORKS


MARGIN = 16  # px: the deepest pooling stride of VGG16 (2^4), so the offsets cover a whole period of it


def window(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The picture less a MARGIN-pixel band, taken ``dx``, ``dy`` pixels from the top left: every window
    has the same size and holds only painted pixels (a mirrored or repeated border would bring strokes of
    the wrong orientation, which Gram matrices see), so windows differ in the grid's phase and in a thin
    band of content at their edges."""
    h, w = image.shape[:2]
    return image[dy:dy + h - MARGIN, dx:dx + w - MARGIN]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picture", type=Path, help="a stylised image, or a stylised video (its first frame)")
    parser.add_argument("style", type=Path)
    parser.add_argument("--shifts", nargs="+", default=["1,0", "0,1", "1,1", "2,3", "4,6", "8,8", "16,16"],
                        metavar="DX,DY", help=f"window offsets, each from 0 to {MARGIN}")
    parser.add_argument("--network", choices=NETWORKS, default="vgg16", help="the measure's network")
    args = parser.parse_args()

    from stylizer.io.readers import detect_input_kind, iter_video_frames, load_image
    from stylizer.metrics import IndependentFeatures

    if detect_input_kind(args.picture) == "video":
        frames = iter_video_frames(args.picture)
        try:
            picture = next(frames)[1]
        finally:
            frames.close()
    else:
        picture = load_image(args.picture).rgb
    style = load_image(args.style).rgb
    meter = IndependentFeatures(network=args.network)
    base = meter.style_distance(window(picture, 0, 0), style)
    print(f"{args.picture.name}: {picture.shape[1]}x{picture.shape[0]}, style distance of the window at 0,0 "
          f"{base:.4f}")
    changes = []
    for spec in args.shifts:
        dx, dy = (int(v) for v in spec.split(","))
        if not (0 <= dx <= MARGIN and 0 <= dy <= MARGIN):
            parser.error(f"--shifts {spec}: each offset must be from 0 to {MARGIN}")
        value = meter.style_distance(window(picture, dx, dy), style)
        changes.append(abs(value / base - 1))
        print(f"  window at {dx:2d},{dy:2d} px: {value:.4f} ({100 * (value / base - 1):+.1f}%)")
    print(f"summary: median |change| {100 * float(np.median(changes)):.1f}%, largest {100 * max(changes):.1f}% "
          f"over {len(changes)} shifts")


if __name__ == "__main__":
    main()
