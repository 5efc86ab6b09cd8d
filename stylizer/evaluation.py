"""`stylize-video --evaluate IN OUT [STYLE...]`: flicker of a stylised video and, given styles, its losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from stylizer import metrics
from stylizer.settings import Settings


def frame_losses(source: Path, output: Path, styles: list[Path], settings: Settings) -> dict[str, float]:
    """Mean content and style loss of the output frames, with the same loss definitions the optimiser uses."""
    from stylizer.engine import Stylizer, load_styles, resize, working_shape
    from stylizer.io.readers import iter_video_frames

    stylizer = Stylizer(settings, load_styles(styles, settings.style_weights))
    content, style = [], []
    pairs = zip(iter_video_frames(source), iter_video_frames(output))
    for (_, frame_in), (_, frame_out) in tqdm(pairs, desc="losses", unit="fr", leave=False):
        h, w = working_shape(*frame_in.shape[:2], settings.size)
        x_in = resize(frame_in, h, w).astype(np.float32)
        x_out = resize(frame_out, h, w).astype(np.float32)
        parts = stylizer.loss_parts(x_out, x_in)
        content.append(parts["content"])
        style.append(parts["style"])
    return {"content_loss": float(np.mean(content)), "style_loss": float(np.mean(style)), "frames": len(content)}


def evaluate(source: Path, output: Path, styles: list[Path], settings: Settings) -> dict:
    result = metrics.evaluate_videos(source, output)
    print(f"frames: {result['frames']}")
    print("flicker, E_warp with Farneback flow (the temporal loss uses DIS), output / input (the floor):")
    print(f"  consecutive frames: {result['ewarp_output']:.6f} / {result['ewarp_input']:.6f}")
    print(f"  frames 10 apart:    {result['ewarp_long_output']:.6f} / {result['ewarp_long_input']:.6f}")
    print(f"sharpness, the output's Laplacian energy over the input's (a low E_warp can also be smearing): "
          f"mean {result['sharpness_mean']:.3f}, first frame {result['sharpness_first']:.3f}, "
          f"last {result['sharpness_last']:.3f}")
    if styles:
        losses = frame_losses(source, output, styles, settings)
        print(f"mean content loss: {losses['content_loss']:.4f}  mean style loss: {losses['style_loss']:.5f}")
        result.update(losses)
    return result
