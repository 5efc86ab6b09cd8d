"""What warping alone does to a stylised frame over a shot: the first frame carried through every flow.

A warm frame that is kept is the previous result warped once more, so over a shot the first frame's
picture is resampled once per frame. This carries a stylised video's first frame through the input
clip's flows (stylizer.temporal, as the warm start computes them) with no optimisation, and prints the
independent style distance (the measure of benchmarks/throughput.py) along the way, for:

- ``lanczos``: the product's warm-start warp (``temporal.warp(..., sharp=True)``);
- ``spline5``: scipy's order-5 spline with its prefilter, close to ideal interpolation;
- ``translation``: the product's warp, but every flow replaced by its median (the camera's motion only).

If the interpolation kernel were what degrades kept frames, ``spline5`` would stay flat where ``lanczos``
rises; if the motion itself does (the texture leaving the place it was painted for), all three rise.

    python benchmarks/warp_chain.py CLIP STYLISED.mp4 STYLE.jpg --frames 30
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylizer.metrics import NETWORKS


def spline_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    from stylizer import temporal

    # The sampling positions of the product's warp, so that only the kernel differs.
    map_x, map_y = temporal._sample_grid(flow)
    return np.stack([ndimage.map_coordinates(image[..., c], [map_y, map_x], order=5, mode="nearest")
                     for c in range(image.shape[2])], axis=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, help="the input video")
    parser.add_argument("stylised", type=Path, help="a stylised video of it")
    parser.add_argument("style", type=Path)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--network", choices=NETWORKS, default="vgg16", help="the measure's network")
    args = parser.parse_args()

    import cv2

    from stylizer import temporal
    from stylizer.io.readers import iter_video_frames, load_image
    from stylizer.metrics import IndependentFeatures

    def first(path: Path, n: int) -> list[np.ndarray]:
        frames = iter_video_frames(path)
        try:
            return [frame for _, (_, frame) in zip(range(n), frames)]
        finally:
            frames.close()

    outputs = first(args.stylised, 1)
    h, w = outputs[0].shape[:2]
    inputs = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
              for f in first(args.clip, args.frames)]
    if len(inputs) < 3:
        parser.error(f"{args.clip}: fewer than 3 frames")
    flows = [temporal.flow_between(inputs[k - 1], inputs[k]).flow_bw for k in range(1, len(inputs))]
    style, meter = load_image(args.style).rgb, IndependentFeatures(network=args.network)
    marks = sorted({1, len(inputs) // 2, len(inputs) - 1})

    def median_flow(flow: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.median(flow.reshape(-1, 2), axis=0), flow.shape).astype(np.float32)

    chains = {
        "lanczos": lambda x, f: temporal.warp(x, f, sharp=True),
        "spline5": lambda x, f: np.clip(spline_warp(x, f), 0, 255),
        "translation": lambda x, f: temporal.warp(x, median_flow(f), sharp=True),
    }
    start = meter.style_distance(outputs[0], style)
    print(f"{args.stylised.name}: first frame {w}x{h}, style distance {start:.4f}; "
          f"camera motion {np.sum([np.median(f.reshape(-1, 2), axis=0) for f in flows], axis=0).round(1)} px")
    ends = {}
    for name, step in chains.items():
        x, values = outputs[0].astype(np.float32), []
        for k, flow in enumerate(flows, start=1):
            x = step(x, flow)
            if k in marks:
                values.append(meter.style_distance(np.rint(x).astype(np.uint8), style))
        ends[name] = values[-1]
        print(f"  {name:<12} " + "  ".join(f"frame {k}: {v:.4f} ({100 * (v / start - 1):+.1f}%)"
                                          for k, v in zip(marks, values)))
    print("summary: after " + f"{marks[-1]} warps " + ", ".join(
        f"{name} {100 * (v / start - 1):+.1f}%" for name, v in ends.items()))


if __name__ == "__main__":
    main()
