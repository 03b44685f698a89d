"""The Gatys tab's instant preview: the feed-forward network of Ghiasi et al. (2017) (nst.feedforward.magenta)
paints the content in the style as soon as both images are in, in a fraction of a second, while
Gatys' optimisation waits for Run. The preview is labelled as what it is: another method."""

from __future__ import annotations

from PIL import Image

from nst.feedforward.magenta import STYLE_SIDE, FastConfig, fast_stylize
from nst.images import ImageError
from ui.widgets import open_upload, user_error

PREVIEW_SIDE = 512  # long side of the preview in pixels
LABEL = "Feed-forward preview, not Gatys"  # short enough to read whole above a quarter-width image
NOTE = ("**Instant preview**: the feed-forward network of Ghiasi et al. (2017), Magenta's pretrained one, paints the "
        "content in one pass as soon as both images are in. It is not Gatys: **Run refines with Gatys' optimisation**, "
        "whose result streams beside the preview.")


def preview(content: str | None, style: str | None, strength: float = 1.0) -> Image.Image | None:
    """The feed-forward picture at PREVIEW_SIDE px, or None (the preview cleared) while the
    content or the style is missing. A bad image, or a missing onnxruntime, is a one-line error
    that says what to do."""
    if content is None or style is None:
        return None
    images = open_upload(content, "content", PREVIEW_SIDE), open_upload(style, "style", STYLE_SIDE)
    try:
        return fast_stylize(*images, FastConfig(size=PREVIEW_SIDE, strength=float(strength)))
    except (ImageError, ValueError) as error:  # nst.cyclegan.weights.ModelLoadError names the pip command
        raise user_error(f"No preview: {error}") from error
