"""The Python entry point: ``stylize(input, style, output=None, **options) -> Report``.

    import stylizer
    report = stylizer.stylize("in.mp4", "style.jpg", size=256, preset="draft")
    print(report.summary(), report.failed)

Options are Settings' fields (``size``, ``iterations``, ``style_weight``, ``executor``, ...) plus ``preset``;
they are validated as the command line validates its own. Errors are raised (``stylizer.errors``), never
printed. It may be called from any thread (a notebook's, a web server's worker): SIGINT/SIGTERM handlers
are installed only when it runs in the main thread.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Sequence

from stylizer.errors import UsageError

_configured = threading.Lock()
_device: str | None = None


def _configure(device: str) -> None:
    """Apply ``device`` once per process, before the backend starts; later calls keep the first choice."""
    global _device
    with _configured:
        if _device is not None:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from stylizer import compute

        try:
            compute.configure_device(device)
        except RuntimeError:
            pass  # the backend already runs (a notebook used it first): its devices stay as they are
        _device = device


def stylize(input: str | os.PathLike, style: str | os.PathLike | Sequence[str | os.PathLike],
            output: str | os.PathLike | None = None, **options):
    """Stylise a video, a folder or an image in the style of one or more paintings; returns the Report
    (done, skipped, failed with reasons, notes, summary())."""
    from stylizer import driver
    from stylizer.settings import PRESETS, Settings

    styles = [Path(style)] if isinstance(style, (str, os.PathLike)) else [Path(s) for s in style]
    if not styles:
        raise UsageError("give at least one style image")
    for path in styles:
        if not path.exists():
            raise UsageError(f"style image not found: {path}")
    preset = options.pop("preset", "default")
    if preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}' (choose from {', '.join(sorted(PRESETS))})")
    fields = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise UsageError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(see stylizer.settings.Settings)")
    for name in ("style_weights", "style_layers"):
        if name in options and options[name] is not None:
            options[name] = tuple(options[name])
    settings = Settings(**{"quiet": True, **PRESETS[preset], **options})
    settings.validate()
    _configure(settings.device)
    return driver.run(settings, Path(input), styles, Path(output) if output is not None else None)
