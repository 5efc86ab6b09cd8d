"""Every option of a run in one frozen dataclass, presets, and a stable hash for resume."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

# "auto" (images from "palette", a shot's first frame from "content"), "palette" (the photo in the painting's
# colours), "content", "noise", or a path to an image
Init = str
Temporal = Literal["flow", "warm", "none"]
Precision = Literal["auto", "float32", "bfloat16"]

ALL_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)


FULL = 0  # --size full: each input is optimised at its own size (coarse-to-fine up to it)


def size_name(size: int) -> str:
    """How --size is written on the command line."""
    return "full" if size == FULL else str(size)


@dataclass(frozen=True)
class Settings:
    """Options that shape the result (hashed for resume) and options that only shape the run."""

    # --- what changes the pixels (part of the resume hash) ---
    size: int = 512  # longest side of the working image; FULL: each input at its own size
    iterations: int = 100  # L-BFGS iterations for a cold image (folder image, single image)
    first_iterations: int | None = None  # first frame of a run of video frames; defaults to `iterations`
    warm_iterations: int = 40  # cap for later frames of a video, warm-started from the previous result
    # A warm frame stops once its picture losses are within this fraction of the shot's converged cold frame
    # (optimize.stopping.Goal); None spends the whole warm budget. Chosen by measurement (RESULTS.md).
    warm_margin: float | None = 0.1
    warm_min_iterations: int = 0  # 0: a warped start already at the goal is kept as it is (at most one evaluation)
    # Every warm frame of a moving view (temporal.MOVING) runs at least this many: a kept or briefly optimised
    # frame carries its texture off the place it was painted for (RESULTS.md, "A moving view").
    warm_moving_iterations: int = 7
    # ... and every warm frame of a still view with things moving in it (temporal.CHANGING) this many: only
    # their new pixels need painting, whose start follows the photo's change (RESULTS.md, "A still camera
    # with people walking: the start follows the photo"). The draft preset keeps it: a kept frame would hold
    # those pixels half painted.
    warm_changing_iterations: int = 4
    coarse_to_fine: bool = True  # cold frames and images: optimise at reduced scale first (optimize.multiscale)
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1.0
    temporal_weight: float = 50.0
    style_scale: float = 1.0  # style image's longest side relative to `size`
    style_weights: tuple[float, ...] = ()  # blend weights, one per style image; empty = equal
    content_layer: str = "block4_conv2"
    style_layer_weights: tuple[float, ...] = ()  # one per style layer; empty = equal
    pooling: Literal["max", "avg"] = "max"
    style_layers: tuple[str, ...] = (
        "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1",
    )
    init: Init = "auto"  # cold starts only; warm frames start from the previous result
    seed: int = 0
    preserve_colors: str | None = None  # None, or a mode of colour.MODES
    temporal: Temporal = "flow"
    # Earlier frames the temporal loss holds a warm frame to (Ruder et al.'s long-term loss with more than
    # the frame before): each pixel to the nearest of them that saw it.
    temporal_frames: tuple[int, ...] = (1,)
    precision: Precision = "auto"  # auto: bf16 where the hardware multiplies it natively (compute.native_bfloat16)
    # auto: the projected L-BFGS (optimize.lbfgs) on a CPU; scipy's L-BFGS-B on a GPU until measured there
    optimizer: Literal["auto", "scipy", "lbfgs"] = "auto"
    tolerance: float = 1e-3  # stop once the loss improves less than this fraction over `patience` iterations
    # ... and a warm frame, past its minimum, once it improves less than this: one whose goal the temporal term
    # holds out of reach creeps towards it by tenths of a percent an iteration up to its cap, three to five
    # times the work of a frame that reaches it (RESULTS.md, "Unseen clips").
    warm_tolerance: float = 1e-2
    patience: int = 5
    every: int = 1  # keep every Nth video frame (fps divided accordingly)
    start: int = 0  # first video frame to process
    max_frames: int | None = None
    crf: int = 18
    codec: str = "libx264"
    format: str | None = None  # output image format for folders; None keeps each input's format

    # --- what only changes how the run goes (not hashed) ---
    device: str = "auto"
    # GiB one evaluation may use; None: what the host has available (a GPU: no limit). Larger working sizes
    # are optimised in tiles (optimize.tiles), not refused.
    memory: float | None = None
    executor: str = "local"  # "local" (this process) or "ray" (executors/ray.py); STYLIZER_EXECUTOR sets it too
    workers: int | None = None  # Ray actors; None: one per GPU, else one per node
    # Frames per chunk of a long shot; None: chunks only when the executor has several workers. A resumed
    # run keeps the segments of its first run (the plan in the work dir), so this is not hashed.
    chunk: int | None = None
    log: str | None = None  # --log FILE: messages, progress lines and summaries, timestamped, appended
    dry_run: bool = False  # describe the plan and estimate the time; optimise and write nothing
    records: str | None = None  # --records FILE: a JSON line per item (status, reason, iterations, losses)
    quiet: bool = False
    recursive: bool = False
    keep_frames: bool = False
    force: bool = False
    debug: bool = False
    weights: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    HASHED = (
        "size", "iterations", "first_iterations", "warm_iterations", "warm_margin", "warm_min_iterations",
        "warm_moving_iterations", "warm_changing_iterations", "coarse_to_fine", "content_weight", "style_weight",
        "tv_weight", "temporal_weight", "style_scale", "style_weights", "content_layer", "style_layers",
        "style_layer_weights", "pooling", "init", "seed", "preserve_colors", "temporal", "temporal_frames",
        "precision", "optimizer", "tolerance", "warm_tolerance", "patience", "every", "start", "max_frames",
        "format",
    )
    # How finished frames are encoded into the video: changing these re-encodes the kept frames, it does
    # not make them again (they are in the video's tag, not in the frames' hash).
    ENCODING = ("crf", "codec")

    @property
    def cold_iterations(self) -> int:
        return self.first_iterations if self.first_iterations is not None else self.iterations

    def cold_start(self, shot: bool) -> Init:
        """What a cold start begins from: ``init``, with "auto" resolved. An image starts from the photo in
        the painting's colours (a start that already has the style's colour statistics spends no iterations
        recolouring, RESULTS.md "Short shots"); a shot's first frame from the photo itself (the palette
        start's finer stripes flickered under the warm starts' warp on a moving view, RESULTS.md "A moving
        view")."""
        if self.init != "auto":
            return self.init
        return "content" if shot else "palette"

    @property
    def layers_in_use(self) -> tuple[str, ...]:
        return tuple(sorted({self.content_layer, *self.style_layers}, key=ALL_LAYERS.index))

    def validate(self) -> None:
        from stylizer.errors import UsageError

        for name in (self.content_layer, *self.style_layers):
            if name not in ALL_LAYERS:
                raise UsageError(f"unknown VGG16 layer '{name}' (choose from {', '.join(ALL_LAYERS)})")
        if not self.style_layers:
            raise UsageError("at least one style layer is needed")
        weights = self.style_layer_weights
        if weights and (len(weights) != len(self.style_layers) or min(weights) < 0 or not sum(weights)):
            raise UsageError(f"--style-layer-weights needs {len(self.style_layers)} weights, one per style layer "
                             "(none negative, not all 0)")
        if self.pooling not in ("max", "avg"):
            raise UsageError(f"unknown --pooling '{self.pooling}' (choose from max, avg)")
        frames = self.temporal_frames
        if not frames or frames[0] != 1 or any(b <= a for a, b in zip(frames, frames[1:])):
            raise UsageError("--temporal-frames must start at 1 and rise (e.g. 1 2 4)")
        from stylizer.colour import MODES

        if self.preserve_colors is not None and self.preserve_colors not in MODES:
            raise UsageError(f"unknown --preserve-colors mode '{self.preserve_colors}' (choose from "
                             f"{', '.join(MODES)})")
        if self.memory is not None and not self.memory > 0:
            raise UsageError(f"--memory {self.memory}: give the GiB one evaluation may use, more than 0")
        if self.size != FULL and self.size < 32:
            raise UsageError(f"--size {self.size} is too small: use at least 32 (or full)")
        if self.iterations < 1 or self.warm_iterations < 1 or self.cold_iterations < 1:
            raise UsageError("iteration counts must be at least 1")
        if self.warm_margin is not None and self.warm_margin < 0:
            raise UsageError("--warm-margin must be at least 0 (or 'off')")
        if self.tolerance < 0 or self.warm_tolerance < 0:
            raise UsageError("--tolerance and --warm-tolerance must be at least 0")
        if min(self.warm_min_iterations, self.warm_moving_iterations, self.warm_changing_iterations) < 0:
            raise UsageError("--warm-min-iterations, --warm-moving-iterations and --warm-changing-iterations "
                             "must be at least 0")
        from stylizer.executors import EXECUTORS

        if self.executor not in EXECUTORS:
            raise UsageError(f"unknown executor '{self.executor}' (choose from {', '.join(EXECUTORS)})")
        if self.workers is not None and self.workers < 1:
            raise UsageError("--workers must be at least 1")
        if self.chunk is not None and self.chunk < 2:
            raise UsageError("--chunk must be at least 2 frames")
        if self.every < 1:
            raise UsageError("--every must be at least 1")
        if self.start < 0:
            raise UsageError("--start must be at least 0")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError("--max-frames must be at least 1")
        if self.style_scale <= 0:
            raise UsageError("--style-scale must be positive")
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must not be negative")
        if self.format is not None:
            from PIL import Image

            known = {ext.lstrip(".") for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
            if self.format.lower().lstrip(".") not in known:
                raise UsageError(f"--format {self.format}: not an image format Pillow can write (e.g. png, jpg, webp)")
        if any(w < 0 for w in self.style_weights) or (self.style_weights and sum(self.style_weights) <= 0):
            raise UsageError("--style-weights must be non-negative and not all zero")

    def hashed_options(self) -> dict:
        """The settings behind pixel_hash, as JSON values: kept in manifests so that a refusal can say what
        differs."""
        return json.loads(json.dumps({name: getattr(self, name) for name in self.HASHED}, default=list))

    def pixel_hash(self, *extra: str) -> str:
        """Hash of every setting that changes the output pixels, plus extra strings (style and weight hashes)."""
        blob = json.dumps(self.hashed_options(), sort_keys=True) + "\0" + "\0".join(extra)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def encoding_hash(self) -> str:
        blob = json.dumps({name: getattr(self, name) for name in self.ENCODING}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:8]


    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def resolved(self) -> "Settings":
        """``auto`` precision and optimiser replaced by what this machine runs, so that the resume hash
        names what really made the pixels."""
        from stylizer import compute

        return self.replace(precision=compute.resolve_precision(self.precision),
                            optimizer=compute.resolve_optimizer(self.optimizer))


PRESETS: dict[str, dict] = {
    # Few minutes for the samples on 2 CPU cores: small working size, short budgets, and a moving view's
    # frames kept like any other's (their minimum would double the samples' time).
    "draft": {"size": 256, "iterations": 60, "warm_iterations": 20, "warm_moving_iterations": 0},
    "default": {},
    # Slower, for final renders.
    "quality": {"size": 768, "iterations": 300, "warm_iterations": 100},
}


def describe_changes(before: dict | None, after: dict) -> str:
    """'--size 256 -> 512, --style-weight 10.0 -> 5.0' for the options that differ; '' when unknown."""
    if not before:
        return ""
    changes = [f"--{name.replace('_', '-')} {before.get(name)} -> {after.get(name)}"
               for name in after if before.get(name) != after.get(name)]
    return ", ".join(changes)
