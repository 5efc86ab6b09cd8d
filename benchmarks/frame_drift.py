"""Where a stylised video moves away from a reference one: frame by frame, and inside the frame or at its edges.

throughput.py gives a shot's independent style distance at its start, middle and end against an earlier
revision's. This says what is behind such a figure: both videos' own distances to the painting for every
frame (does the candidate get worse, or does the reference get better?), and the same on the frame's
interior alone, a band of ``--margin`` of the short side left off every edge (is the gap in the view's
edges, where a panning camera brings new content in, or all over the picture?).

    python benchmarks/frame_drift.py REFERENCE.mp4 CANDIDATE.mp4 STYLE.jpg
    python benchmarks/frame_drift.py REFERENCE.mp4 CANDIDATE.mp4 STYLE.jpg --network squeezenet --margin 0.1

Both videos must be stylisations of the same frames (throughput.py's outputs, or two `stylize-video` runs
with the same --size, --start and --max-frames). Start, middle and end are means over 3 frames, as in
throughput.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylizer.metrics import NETWORKS
from throughput import windows


def interior(image: np.ndarray, margin: float) -> np.ndarray:
    band = int(round(margin * min(image.shape[:2])))
    return image[band:image.shape[0] - band, band:image.shape[1] - band]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="a stylised video (e.g. the earlier revision's)")
    parser.add_argument("candidate", type=Path, help="a stylised video of the same frames")
    parser.add_argument("style", type=Path)
    parser.add_argument("--margin", type=float, default=0.06,
                        help="the band left off every edge for the interior, as a fraction of the short side")
    parser.add_argument("--network", choices=NETWORKS, default="vgg16", help="the measure's network")
    args = parser.parse_args()
    if not 0 <= args.margin < 0.4:
        parser.error("--margin must be at least 0 and under 0.4 (a fifth of the short side is left either way)")

    from stylizer.errors import InputError
    from stylizer.io.readers import iter_video_frames, load_image
    from stylizer.metrics import IndependentFeatures

    def frames(path: Path) -> list[np.ndarray]:
        reader = iter_video_frames(path)
        try:
            return [frame for _, frame in reader]
        finally:
            reader.close()

    try:
        reference, candidate, style = frames(args.reference), frames(args.candidate), load_image(args.style).rgb
    except InputError as exc:
        parser.error(str(exc))
    n = min(len(reference), len(candidate))
    if n < 3:
        parser.error("each video needs at least 3 frames")
    if reference[0].shape != candidate[0].shape:
        parser.error(f"frame sizes differ: {reference[0].shape[:2]} and {candidate[0].shape[:2]}")
    meter = IndependentFeatures(network=args.network)
    table = {}  # (video, region) -> distance per frame
    for name, video in (("reference", reference), ("candidate", candidate)):
        table[name, "frame"] = np.array([meter.style_distance(f, style) for f in video[:n]])
        table[name, "interior"] = np.array([meter.style_distance(interior(f, args.margin), style)
                                            for f in video[:n]])
    inner = interior(reference[0], args.margin).shape
    print(f"{args.network} style distance to {args.style.name}, {n} frames; interior: "
          f"{inner[1]}x{inner[0]} of {reference[0].shape[1]}x{reference[0].shape[0]}")
    for key, values in table.items():
        print(f"  {key[0]:<9} {key[1]:<8} " + " ".join(f"{v:.3f}" for v in values))
    for region in ("frame", "interior"):
        ratio = 100 * (table["candidate", region] / table["reference", region] - 1)
        print(f"  candidate against reference, {region}, per frame (%): "
              + " ".join(f"{v:+.0f}" for v in ratio))
    parts = []
    for region in ("frame", "interior"):
        ref, cand = table["reference", region], table["candidate", region]
        parts.append(f"{region} " + " / ".join(
            f"{100 * (cand[w].mean() / ref[w].mean() - 1):+.1f}" for w in windows(n).values()))
    print("summary: candidate against reference, start / mid / end (%): " + "; ".join(parts))


if __name__ == "__main__":
    main()
