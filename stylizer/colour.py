"""Colour preservation, the three ways of Gatys et al. 2016 ("Preserving Color in Neural Artistic Style
Transfer") and neural-style:

- ``swap``: a full-colour transfer, then the result's luminance with the photo's chroma (neural-style's
  ``-original_colors``). Quick, but the style loss was fitted to the painting's colours, not to what is kept.
- ``luminance``: the transfer itself on luminance alone. The photo and the painting are reduced to their
  luma, the painting's matched to the photo's mean and deviation (so that its light and dark strokes land
  on the photo's tonal range); the result's luma then gets the photo's chroma.
- ``histogram``: the painting's colours matched to the photo's before a full-colour transfer, by the
  linear map that gives them the photo's mean and covariance: the painting's strokes in the photo's palette.

The matching needs the photo's colour statistics (``ColourStats``): an image's own, or one set for a
whole video (gathered by the plan's scan), so that its frames share one style target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np

Mode = Literal["swap", "luminance", "histogram"]
MODES: tuple[str, ...] = ("swap", "luminance", "histogram")
_LUMA = np.array([0.299, 0.587, 0.114], np.float64)  # BT.601 luma, as OpenCV's YCrCb


@dataclass(frozen=True)
class ColourStats:
    """Mean and covariance of RGB pixels (values 0-255)."""

    mean: tuple[float, float, float]
    cov: tuple[float, ...]  # 3x3, row-major

    @classmethod
    def of(cls, images: Iterable[np.ndarray]) -> "ColourStats":
        sums = ColourSums()
        for image in images:
            sums.add(image)
        return sums.stats()

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.cov).reshape(3, 3)

    def luminance(self) -> tuple[float, float]:
        """(mean, standard deviation) of the luma of the same pixels."""
        return float(_LUMA @ np.array(self.mean)), float(np.sqrt(max(_LUMA @ self.matrix @ _LUMA, 0.0)))

    @classmethod
    def blend(cls, parts: list["ColourStats"], weights: list[float]) -> "ColourStats":
        """The statistics of a mixture: each part's pixels counted by its weight (a blend of paintings)."""
        w = np.asarray(weights, np.float64) / np.sum(weights)
        means = np.array([p.mean for p in parts])
        mean = w @ means
        second = sum(wi * (p.matrix + np.outer(m, m)) for wi, p, m in zip(w, parts, means))
        return cls(tuple(map(float, mean)), tuple(map(float, (second - np.outer(mean, mean)).ravel())))

    def key(self) -> str:
        return ",".join(f"{v:.3f}" for v in (*self.mean, *self.cov))

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "cov": list(self.cov)}

    @classmethod
    def from_json(cls, data: dict) -> "ColourStats":
        return cls(tuple(map(float, data["mean"])), tuple(map(float, data["cov"])))


class ColourSums:
    """Running sums for ColourStats, so that a film's frames need not be kept to take its statistics."""

    def __init__(self) -> None:
        self.count, self.total, self.outer = 0, np.zeros(3), np.zeros((3, 3))

    def add(self, image: np.ndarray) -> None:
        pixels = np.asarray(image, np.float64).reshape(-1, 3)
        self.count += len(pixels)
        self.total += pixels.sum(axis=0)
        self.outer += pixels.T @ pixels

    def stats(self) -> ColourStats:
        if self.count == 0:
            raise ValueError("no pixels to take colour statistics of")
        mean = self.total / self.count
        cov = self.outer / self.count - np.outer(mean, mean)
        return ColourStats(tuple(map(float, mean)), tuple(map(float, cov.ravel())))


def needs_stats(mode: str | None) -> bool:
    """Whether the style is matched to the photo (and so differs from one photo to the next)."""
    return mode in ("luminance", "histogram")


def keeps_chroma(mode: str | None) -> bool:
    """Whether the output takes the photo's chroma when it is finished at full size."""
    return mode in ("swap", "luminance")


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32) @ _LUMA.astype(np.float32)


def grey(y: np.ndarray) -> np.ndarray:
    """A luma plane as the RGB image VGG16 takes (equal channels)."""
    return np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


def content_for(content: np.ndarray, mode: str | None) -> np.ndarray:
    """What the optimiser is given of the photo."""
    return grey(luma(content)) if mode == "luminance" else content


def style_for(style: np.ndarray, mode: str | None, stats: ColourStats | None) -> np.ndarray:
    """The painting as the style loss sees it, matched to the photo's statistics where the mode asks."""
    if not needs_stats(mode):
        return style
    own = ColourStats.of([style])
    if mode == "luminance":
        (mean_s, std_s), (mean_c, std_c) = own.luminance(), stats.luminance()
        return grey((luma(style) - mean_s) * (std_c / max(std_s, 1e-6)) + mean_c)
    return recolour(style, own, stats)


def recolour(image: np.ndarray, own: ColourStats, target: ColourStats) -> np.ndarray:
    """``image`` (whose statistics are ``own``) mapped linearly to the mean and covariance of ``target``.

    The symmetric (principal-axes) square roots, as in Image Analogies: the map that changes the colours
    least among those that give the target's covariance."""
    transform = _sqrtm(target.matrix) @ _inverse_sqrtm(own.matrix)
    pixels = (np.asarray(image, np.float64).reshape(-1, 3) - own.mean) @ transform.T + target.mean
    return np.clip(pixels, 0, 255).reshape(image.shape).astype(np.float32)


def swap_chroma(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The stylised luminance with the photo's chroma (YCrCb), both at the same size, in float: with Cr
    and Cb kept, replacing Y adds the luma difference to every channel."""
    shift = luma(np.clip(stylized, 0, 255)) - luma(content)
    return np.clip(np.asarray(content, np.float32) + shift[..., None], 0, 255)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _inverse_sqrtm(matrix: np.ndarray) -> np.ndarray:
    # A floor keeps a grey painting (a zero-variance axis) from being blown up into noise.
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(1 / np.sqrt(np.clip(values, 1.0, None))) @ vectors.T
