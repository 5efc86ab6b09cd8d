"""stylizer: neural style transfer (Gatys et al.) for videos, image folders and single images.

    import stylizer
    report = stylizer.stylize("in.mp4", "style.jpg")
"""

__version__ = "0.1.0"


def stylize(input, style, output=None, **options):
    """See stylizer.api.stylize (imported on first use: ``import stylizer`` stays light)."""
    from stylizer.api import stylize as _stylize

    return _stylize(input, style, output, **options)


__all__ = ["stylize", "__version__"]
