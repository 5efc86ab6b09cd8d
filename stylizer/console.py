"""Keeping the terminal readable: only the tool's own progress, notes and errors reach the user."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """TensorFlow's C++ start-up lines (oneDNN notices, CUDA probing on CPU-only machines) bypass Python's
    logging and TF_CPP_MIN_LOG_LEVEL; they are noise to users, so file descriptor 2 is muted around them."""
    if not enabled:
        yield
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
