"""The Gatys tab's instant preview: the feed-forward network of Ghiasi et al. (2017) (nst.feedforward.magenta)
paints the content in the style as soon as both images are in, in a fraction of a second, while
Gatys' optimisation waits for Run. The preview is labelled as what it is: another method."""

from __future__ import annotations

from PIL import Image

from nst.feedforward.magenta import STYLE_SIDE, FastConfig, fast_stylize
from nst.images import ImageError, fit_long_side
from ui.regions import paint_digest, painted_mask, painting_over, region_styles
from ui.widgets import KeptLast, file_digest, new_result_path, open_upload, user_error

PREVIEW_SIDE = 512  # long side of the preview in pixels
LABEL = "Feed-forward preview, not Gatys"  # short enough to read whole above a quarter-width image
NOTE = ("**Instant preview**: the feed-forward network of Ghiasi et al. (2017), Magenta's pretrained one, paints the "
        "content in one pass as soon as both images are in. It is not Gatys: **Run refines with Gatys' optimisation**, "
        "whose result streams beside the preview.")


def preview(content: str | None, style: str | None, strength: float = 1.0, style2: str | None = None,
            regions: dict | None = None) -> Image.Image | None:
    """The feed-forward picture at PREVIEW_SIDE px, or None (the preview cleared) while the
    content or the style is missing; with painted regions (ui.regions), each region in its own
    style and the rest the photo. A bad image, or a missing onnxruntime, is a one-line error
    that says what to do."""
    if content is None or style is None:
        return None
    key = (file_digest(content), file_digest(style), float(strength), file_digest(style2), paint_digest(regions, content))
    return LAST_PREVIEW.get(key, lambda: _paint(content, style, strength, style2, regions))


# The last preview, by what it was painted from. Gradio fires an image box's change twice when a
# picture replaces another, and the regions editor's change when a new photo becomes its canvas
# (ui.regions.paint_over): each asks at once for the picture just painted again, 0.3-0.5 s at
# 512 px on 2 CPU cores, in the way of a Run pressed then.
LAST_PREVIEW = KeptLast()


def _paint(content: str, style: str, strength: float, style2: str | None, regions: dict | None) -> Image.Image:
    content_image = open_upload(content, "content", PREVIEW_SIDE)
    styles = [open_upload(style, "style", STYLE_SIDE)]
    options = FastConfig(size=PREVIEW_SIDE, strength=float(strength))
    painted, keep, mask = (), None, None
    if painting_over(regions, content):  # a painting over this content
        mask = new_result_path().with_name("regions.png")
        size = fit_long_side(content_image.width, content_image.height, PREVIEW_SIDE)
        painted, keep = painted_mask(regions, content, size, mask)
    if painted:
        second = open_upload(style2, "second style", STYLE_SIDE) if style2 else None
        styles = region_styles(painted, styles[0], second)
        options = FastConfig(size=PREVIEW_SIDE, strength=float(strength), mask=str(mask), region_colors=painted,
                             keep_color=keep)  # fmt: skip
    try:
        return fast_stylize(content_image, styles if painted else styles[0], options)
    except (ImageError, ValueError) as error:  # nst.errors.ModelLoadError names the pip command
        raise user_error(f"No preview: {error}") from error
