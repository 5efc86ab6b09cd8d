"""stylizer: neural style transfer (Gatys et al.) for videos, image folders and single images."""

__version__ = "0.1.0"
