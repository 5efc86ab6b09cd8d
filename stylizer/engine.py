"""One stylizer per run: weights, the truncated network, style targets (once per run) and the per-image step."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import cv2
import keras
import numpy as np

from stylizer import colour, compute, features, losses, weights
from stylizer.colour import ColourStats
from stylizer.errors import InputError, UsageError
from stylizer.optimize import FrameTargets, Goal, Result, StopRule, lbfgs, lbfgsb_scipy, multiscale, tiles
from stylizer.settings import FULL, Settings

MIN_SIDE = 32  # below this VGG16's pooling leaves nothing of the deeper layers
# float32 values kept per input pixel by one evaluation, per layer: the activations saved for the backward
# pass, their gradients and oneDNN's work buffers. Calibrated on the peak RSS measured by
# benchmarks/iteration.py (see benchmarks/RESULTS.md), with a margin.
BYTES_PER_ACTIVATION = 4 * 3.5
WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
PALETTE_SIDE = 256  # longest side of the painting's thumbnail whose colour statistics --init palette takes


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the longest side at ``size`` (FULL: the image's own); small images are not enlarged (that
    only costs time)."""
    scale = 1.0 if size == FULL else min(1.0, size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging when shrinking (no aliasing), Lanczos when enlarging (sharp, few halos)."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)


def check_size(height: int, width: int, what: str) -> None:
    if min(height, width) < MIN_SIDE:
        raise InputError(f"{what} is too small ({width}x{height}): at least {MIN_SIDE} px on each side is needed")


def memory_needed(height: int, width: int, layers: tuple[str, ...]) -> int:
    """Bytes one evaluation needs at this working size (activations of every layer up to the deepest)."""
    from stylizer.settings import ALL_LAYERS

    deepest = max(ALL_LAYERS.index(name) for name in layers)
    values = 3 * height * width
    for name in ALL_LAYERS[: deepest + 1]:
        block = int(name[5])
        values += WIDTHS[block] * (height >> (block - 1)) * (width >> (block - 1))
    return int(values * BYTES_PER_ACTIVATION)


def available_memory() -> int | None:
    """Memory the host can still give (MemAvailable); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_budget(gib: float | None) -> int | None:
    """Bytes one evaluation may use: --memory, else what the host can still give; None: no limit known (a
    GPU, whose memory the backend's own out-of-memory error guards: compute.OutOfMemory)."""
    if gib is not None:
        return int(gib * 2**30)
    return None if compute.has_gpu() else available_memory()


def tile_layout(height: int, width: int, layers: tuple[str, ...], budget: int | None) -> list[tiles.Tile]:
    """The whole picture as one tile where one evaluation of it fits in ``budget``, else overlapping tiles
    that each fit (optimize.tiles); a clear error, never an out-of-memory crash, where not even small
    tiles fit."""
    if budget is None:
        return [tiles.Tile(0, 0, height, width, 0, 0)]
    layout = tiles.layout(height, width, lambda h, w: memory_needed(h, w, layers) <= budget)
    if layout is None:
        side = min(tiles.MIN_SIDE, height, width)
        raise UsageError(f"{width}x{height} cannot be optimised in {budget / 2**30:.2f} GiB of memory, not even "
                         f"in tiles of {side}x{side} (about {memory_needed(side, side, layers) / 2**30:.2f} GiB "
                         "each): free some memory or raise --memory")
    return layout


@dataclass
class Styles:
    images: list[np.ndarray]  # RGB uint8 as loaded
    blend: list[float]
    digest: str  # hash of the pixels and blend weights, for resume


def load_styles(paths: list, blend: tuple[float, ...]) -> Styles:
    from stylizer.io.readers import load_image

    if blend and len(blend) != len(paths):
        raise InputError(f"--style-weights has {len(blend)} values for {len(paths)} style images")
    images = []
    digest = hashlib.sha256()
    for path in paths:
        image = load_image(path).rgb
        check_size(*image.shape[:2], f"style image {path}")
        images.append(image)
        digest.update(image.tobytes())
    weights_ = list(blend) if blend else [1.0] * len(paths)
    digest.update(repr(weights_).encode())
    return Styles(images, weights_, digest.hexdigest()[:16])


class Stylizer:
    """Holds everything that is fixed for a run; ``stylize`` optimises one image."""

    def __init__(self, settings: Settings, styles: Styles, params: dict | None = None, log=None,
                 jit_compile: bool = False):
        self.settings = settings
        self.jit_compile = jit_compile
        params = params if params is not None else weights.load_weights(settings.weights, **({"log": log} if log else {}))
        resolved = settings.resolved()  # the same choice of precision and optimiser as the resume hash's
        policy = "mixed_bfloat16" if resolved.precision == "bfloat16" else "float32"
        self.extractor = features.build_extractor(params, settings.layers_in_use, dtype=policy,
                                                  pooling=settings.pooling)
        self._content_features = compute.make_forward(
            keras.Model(self.extractor.inputs, self.extractor.get_layer(settings.content_layer).output))
        self.styles = styles
        self.optimizer = resolved.optimizer
        self.on_device = self.optimizer == "lbfgs"  # the projected L-BFGS keeps the backend's tensors
        # One compiled call for the run, built with the first style targets; each size's targets go in as
        # arguments, so a cold frame's levels and a folder's sizes share one trace.
        self._call: compute.ValueAndGrad | None = None
        # (style side, colour reference) -> the style targets at that side
        self._grams: dict[tuple[int, str | None], dict] = {}
        self._palettes: dict[str | None, ColourStats] = {}

    def _style_side(self, shape: tuple[int, int]) -> int:
        """The style image's longest side for a level of this shape: ``style_scale`` times the level's, up
        or down, so that stroke size is a property of the option, not of --size or of the painting's file."""
        return max(MIN_SIDE, round(max(shape) * self.settings.style_scale))

    def value_and_grad(self, shape: tuple[int, int], colours: ColourStats | None = None) -> compute.ValueAndGrad:
        """Compiled loss+gradient for images whose longest side matches ``shape``'s (and, where
        --preserve-colors matches the style to the photo, for photos of these ``colours``)."""
        grams = self._style_targets(shape, colours)
        if self._call is None:
            s = self.settings
            objective = losses.Objective(
                self.extractor, s.content_layer, grams,
                losses.LossWeights(s.content_weight, s.style_weight, s.tv_weight, s.temporal_weight),
                dict(zip(s.style_layers, s.style_layer_weights)),
            )
            self._call = compute.make_value_and_grad(objective, self.jit_compile, on_device=self.on_device)
        return functools.partial(self._call, grams=grams)

    def value(self, shape: tuple[int, int], colours: ColourStats | None = None):
        """The same objective's loss and parts without the gradient (``compute.forward_only``)."""
        return compute.forward_only(self.value_and_grad(shape, colours))

    def _style_targets(self, shape: tuple[int, int], colours: ColourStats | None) -> dict:
        """The painting's Grams, matched at this picture's scale (and colours); computed once and kept."""
        mode = self.settings.preserve_colors
        side = self._style_side(shape)
        reference = colours.key() if colour.needs_stats(mode) else None
        key = (side, reference)
        if key not in self._grams:
            # A folder's photos each match the style anew: the targets of earlier photos are dropped.
            self._grams = {k: v for k, v in self._grams.items() if k[1] == reference}
            style_images = []
            for image in self.styles.images:
                scale = side / max(image.shape[:2])  # enlarged too (Lanczos), unlike a photo's working size
                h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
                style_images.append(colour.style_for(resize(image, h, w).astype(np.float32), mode, colours))
            grams = losses.style_grams(self.extractor, style_images, self.styles.blend, self.settings.style_layers)
            self._grams[key] = {name: keras.ops.convert_to_tensor(g, "float32") for name, g in grams.items()}
        return self._grams[key]

    def palette(self, colours: ColourStats | None = None) -> ColourStats:
        """Colour statistics of the painting as the style loss sees it (matched to ``colours`` where
        --preserve-colors asks; a blend of paintings by their weights)."""
        mode = self.settings.preserve_colors
        key = colours.key() if colour.needs_stats(mode) else None
        if key not in self._palettes:
            stats = []
            for image in self.styles.images:
                # The statistics of a thumbnail are the painting's; a large scan would only cost time.
                small = resize(image, *working_shape(*image.shape[:2], PALETTE_SIDE)).astype(np.float32)
                stats.append(ColourStats.of([colour.style_for(small, mode, colours)]))
            # One entry: under --preserve-colors a folder's photos each match the painting anew.
            self._palettes = {key: ColourStats.blend(stats, self.styles.blend)}
        return self._palettes[key]

    def initial_image(self, content: np.ndarray, init: str | np.ndarray | None = None,
                      colours: ColourStats | None = None) -> np.ndarray:
        init = self.settings.cold_start(shot=False) if init is None else init
        if isinstance(init, np.ndarray):
            return resize(init.astype(np.float32), *content.shape[:2])
        if init == "palette" and self.settings.style_weight > 0:
            # The photo in the painting's colours: the style loss's first layers weigh colour statistics
            # heavily, and a start that already has them spends no iterations on recolouring
            # (benchmarks/RESULTS.md "Short shots"). Without a style loss nothing asks for them.
            return colour.recolour(content, ColourStats.of([content]), self.palette(colours))
        if init in ("content", "palette"):
            return content.astype(np.float32)
        if init == "noise":
            rng = np.random.default_rng(self.settings.seed)
            return rng.uniform(0, 255, content.shape).astype(np.float32)
        from stylizer.io.readers import load_image

        return resize(load_image(init).rgb.astype(np.float32), *content.shape[:2])

    def content_target(self, content: np.ndarray) -> np.ndarray:
        return self._content_features(content)

    def goal(self, parts: dict[str, float]) -> Goal | None:
        """The level warm frames of a shot stop at, from the shot's converged cold frame (None: always spend
        the warm budget)."""
        s = self.settings
        if s.warm_margin is None:
            return None
        return Goal.from_parts(parts, (s.content_weight, s.style_weight, s.tv_weight), s.warm_margin)

    def stylize(
        self,
        content: np.ndarray,
        iterations: int,
        init: str | np.ndarray | None = None,
        temporal: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        progress=None,
        goal: Goal | None = None,
        memory: tuple | None = None,
        colours: ColourStats | None = None,
        schedule: multiscale.Schedule | None = None,
        min_iterations: int = 0,
    ) -> Result:
        """Optimise one image already at working size (H, W, 3, values in [0, 255]).

        A warm start (``init`` an image, or a temporal target) is optimised at full size until ``goal`` or
        ``iterations``, reusing the previous frame's curvature ``memory``; a cold start goes coarse-to-fine
        (``optimize.multiscale``). ``colours``: the statistics the style is matched to under
        --preserve-colors luminance/histogram (a video's, shared by its frames); else the image's own.
        ``schedule``: a cold start's shares of its budget per level (None: an image's, multiscale.IMAGE).
        ``min_iterations``: the fewest a warm start runs, beside the settings' --warm-min-iterations.
        A warm start that already reaches ``goal`` is kept as it is, judged by the forward pass alone (the
        optimisers' first evaluation skips the gradient, ``compute.make_value_and_grad``)."""
        check_size(*content.shape[:2], "the working image")
        self._layout(content.shape[:2])  # refused now, before any work, if not even small tiles fit
        content, colours = self._colour_space(content, colours)
        s = self.settings
        warm = temporal is not None or isinstance(init, np.ndarray)
        if warm:
            # Held to a goal, a frame that stops gaining is done (--warm-tolerance); without one (--warm-margin
            # off) it spends its budget as a cold frame would.
            tolerance = s.tolerance if goal is None else s.warm_tolerance
            rule = StopRule(iterations, tolerance, s.patience, goal, max(s.warm_min_iterations, min_iterations))
            return self._optimise(content, self.initial_image(content, init), temporal, mask, rule, progress,
                                  memory, colours)
        plan = multiscale.levels(*content.shape[:2], iterations, s.coarse_to_fine, schedule)
        if progress is not None:
            progress.total = sum(budget for _, budget in plan)
            progress.refresh()
        done: list[Result] = []
        previous = None  # (result, content) of the level below
        for shape, budget in plan:
            level_content = resize(content, *shape)
            if previous is None:
                x = self.initial_image(level_content, init, colours)
            else:
                # The coarser result, enlarged, with the photo's own detail band put back: upsampling alone
                # leaves a blurred picture whose content loss the finer level then spends its budget on.
                result, coarse_content = previous
                x = np.clip(resize(result.image, *shape) + level_content - resize(coarse_content, *shape), 0, 255)
            done.append(self._optimise(level_content, x, None, None, StopRule(budget, s.tolerance, s.patience),
                                       progress, colours=colours))
            previous = done[-1], level_content
        full = content.shape[0] * content.shape[1]
        # A tiled level counts its tiles' evaluations by their share of its pixels (Result.work).
        work = sum((r.evaluations if r.work is None else r.work) * r.image.shape[0] * r.image.shape[1] / full
                   for r in done)
        last = done[-1]
        last.iterations = sum(r.iterations for r in done)
        last.evaluations = sum(r.evaluations for r in done)
        last.history = [loss for r in done for loss in r.history]
        last.work = work
        return last

    def _colour_space(self, content: np.ndarray, colours: ColourStats | None
                      ) -> tuple[np.ndarray, ColourStats | None]:
        """The photo as the optimiser sees it (its luma under --preserve-colors luminance), and the
        statistics the style is matched to."""
        mode = self.settings.preserve_colors
        if colour.needs_stats(mode) and colours is None:
            colours = ColourStats.of([content])
        return colour.content_for(content.astype(np.float32), mode), colours

    def _layout(self, shape: tuple[int, int]) -> list[tiles.Tile]:
        return tile_layout(*shape, self.settings.layers_in_use, memory_budget(self.settings.memory))

    def _optimise(self, content, x0, temporal, mask, rule: StopRule, progress, memory=None, colours=None) -> Result:
        # The whole picture's style targets, also for its tiles: their stroke size is the picture's.
        vg = self.value_and_grad(content.shape[:2], colours)
        layout = self._layout(content.shape[:2])
        if len(layout) > 1:
            return self._optimise_tiles(layout, vg, content, x0, temporal, mask, rule, progress)
        return self._run(vg, x0, FrameTargets(self.content_target(content), temporal, mask), rule, progress, memory)

    def _run(self, vg, x0, targets: FrameTargets, rule: StopRule, progress, memory=None) -> Result:
        if self.optimizer == "lbfgs":
            return lbfgs(vg, x0, targets, rule, progress=progress, memory=memory)
        return lbfgsb_scipy(vg, x0, targets, rule, progress=progress)  # keeps no memory between calls

    def _optimise_tiles(self, layout: list[tiles.Tile], vg, content, x0, temporal, mask, rule: StopRule,
                        progress) -> Result:
        """Each tile with the budget of the whole picture, one after another (optimize.tiles); the curvature
        memory of one tile means nothing to the next, so none is carried."""
        if progress is not None:
            progress.total += rule.iterations * (len(layout) - 1)
            progress.refresh()
        x0 = np.asarray(x0, np.float32)
        canvas = x0.copy()
        done = []
        for tile in layout:
            w = tile.window
            targets = FrameTargets(self.content_target(np.ascontiguousarray(content[w])),
                                   None if temporal is None else np.ascontiguousarray(temporal[w]),
                                   None if mask is None else np.ascontiguousarray(mask[w]))
            result = self._run(vg, tiles.start(canvas, x0, tile), targets, rule, progress)
            tiles.blend(canvas, tile, result.image)
            done.append(result)
        area = content.shape[0] * content.shape[1]
        share = [t.height * t.width / area for t in layout]
        total = sum(share)
        parts = {k: sum(f * r.parts[k] for f, r in zip(share, done)) / total for k in done[0].parts}
        return Result(canvas, sum(f * r.loss for f, r in zip(share, done)) / total, parts,
                      sum(r.iterations for r in done), sum(r.evaluations for r in done),
                      "budget" if any(r.stop == "budget" for r in done) else done[-1].stop,
                      [loss for r in done for loss in r.history],
                      work=sum(f * r.evaluations for f, r in zip(share, done)))

    def loss_parts(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        """Losses of ``image`` against ``content`` (both at working size), as the optimiser defines them;
        the temporal term is off."""
        content, colours = self._colour_space(content, None)
        image = colour.content_for(image, self.settings.preserve_colors)
        args = FrameTargets(self.content_target(content)).arrays(image.shape)
        parts = self.value(image.shape[:2], colours)(image[None].astype(np.float32), *args)[1]
        return dict(zip(losses.PART_NAMES, map(float, parts)))



def finish(result: np.ndarray, original: np.ndarray, colours: str | None) -> np.ndarray:
    """Working-size result -> the original's size and depth (uint8, or uint16 for a 16-bit photo), with
    the original's chroma where the --preserve-colors mode keeps it."""
    h, w = original.shape[:2]
    out = resize(result.astype(np.float32), h, w)
    scale = 257.0 if original.dtype == np.uint16 else 1.0   # 65535 = 255 x 257
    if colour.keeps_chroma(colours):
        out = colour.swap_chroma(out, original.astype(np.float32) / scale)
    return np.clip(np.rint(out * scale), 0, 255 * scale).astype(original.dtype)
