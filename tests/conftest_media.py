"""Tiny test media generated with the ffmpeg of imageio-ffmpeg (import from tests: `from conftest_media import ...`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg


def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test with ffmpeg's own message if it fails."""
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {result.stderr.strip()}")


def make_video(path: Path, width: int = 64, height: int = 48, fps: str = "25", seconds: float = 1.0,
               audio: bool = False, rotate: int | None = None, audio_codec: str = "aac",
               pix_fmt: str = "yuv420p", extra: tuple[str, ...] = ()) -> Path:
    """A testsrc2 clip (+ a sine tone), optionally tagged with a counter-clockwise display rotation."""
    source = "testsrc2" if width % 2 == height % 2 == 0 else "testsrc"   # testsrc2 rounds sizes down to even
    args = ["-f", "lavfi", "-i", f"{source}=s={width}x{height}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    args += ["-c:a", audio_codec] if audio else ["-an"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if rotate is None:
        run_ffmpeg(*args, *extra, str(path))
        return path
    # -display_rotation is an input option, so tag a stream copy of a plain clip.
    plain = path.with_name(f"unrotated-{path.name}")
    run_ffmpeg(*args, *extra, str(plain))
    run_ffmpeg("-display_rotation", str(rotate), "-i", str(plain), "-c", "copy", str(path))
    return path


def make_vfr_video(path: Path, fps: int = 30, seconds: float = 1.0) -> Path:
    """A variable-frame-rate clip: every third frame of a constant-rate clip is dropped, leaving gaps."""
    run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=64x48:r={fps}:d={seconds}",
               "-vf", "select='not(eq(mod(n,3),1))'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


def make_audio(path: Path, seconds: float = 1.0) -> Path:
    """An audio-only file (no video stream at all)."""
    run_ffmpeg("-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:a", "aac", str(path))
    return path


def truncate(path: Path, fraction: float) -> Path:
    """Cut a file to `fraction` of its size, as an interrupted copy or download would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_shots(path: Path, lengths: list[int], width: int = 96, height: int = 72, fps: int = 12) -> Path:
    """A clip of hard cuts: shot k pans slowly (2 px a frame) across another of the repository's sample photos."""
    from fractions import Fraction

    import cv2

    from stylizer.io.readers import load_image
    from stylizer.io.writers import assemble_video

    samples = Path(__file__).resolve().parents[1] / "samples"
    photos = [samples / "chelsea.jpg", samples / "photos" / "coffee.jpg", samples / "photos" / "astronaut.jpg",
              samples / "photos" / "rocket.jpg"]
    frames = []
    for k, count in enumerate(lengths):
        rgb = cv2.resize(load_image(photos[k % len(photos)]).rgb, (width + 2 * count, height),
                         interpolation=cv2.INTER_AREA)
        frames += [rgb[:, 2 * i: 2 * i + width].copy() for i in range(count)]
    path.parent.mkdir(parents=True, exist_ok=True)
    assemble_video(iter(frames), path, Fraction(fps), (width, height))
    return path
