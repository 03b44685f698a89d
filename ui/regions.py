"""The Gatys tab's regions: what a person paints over the content (gr.ImageEditor) as the mask
nst.regions reads. Red paints where the style goes, blue where the second style goes; what is
left unpainted keeps the photo."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageColor

from nst.images import load_image
from nst.regions import MIN_SHARE
from ui.widgets import user_error

BRUSHES = {"#ff0000": "style", "#0000ff": "second style"}  # brush colour -> which style image it paints
OPACITY = 0.6  # the paint lets the photo show through; painted_mask counts a pixel as painted above half opacity
KEEP = "#000000"  # what nst.regions reads the unpainted (transparent) parts as
NOTE = ("**Where the style goes (optional).** Paint over the content: **red** where the style goes, **blue** where the "
        "second style goes (Advanced); what you leave unpainted keeps the photo. Paint nothing to style the whole picture.")


def painting_over(editor: dict | None, content: str) -> bool | None:
    """None when nothing is painted; True when the painting lies over `content`; False when it
    was made over another picture (the content changed since), and so does not apply."""
    if _painting(editor or {}) is None:
        return None
    background = editor.get("background")
    return background is None or _same_picture(background, content)


def paint_digest(editor: dict | None, content: str) -> str | None:
    """The painting over `content` in a few bytes, None if nothing is painted over it: equal
    digests make equal regions."""
    if painting_over(editor, content) is not True:
        return None
    painting = _painting(editor)
    return hashlib.sha256(repr(painting.size).encode() + painting.tobytes()).hexdigest()


def painted_mask(editor: dict | None, content: str, size: tuple[int, int], path: Path) -> tuple[tuple[str, ...], str | None]:
    """Write the painting in the editor as a mask at the content's (H, W) to `path` and return the
    brush colours used, in BRUSHES order, and KEEP if some of the picture is left unpainted;
    ((), None) if nothing is painted over `content` (no file is written then)."""
    if painting_over(editor, content) is not True:
        return (), None
    painting = _painting(editor)
    rgba = np.asarray(painting.resize((size[1], size[0]), Image.Resampling.NEAREST), dtype=np.int32)
    painted = rgba[..., 3] > 127
    brushes = np.array([ImageColor.getrgb(colour) for colour in BRUSHES])
    nearest = ((rgba[..., None, :3] - brushes) ** 2).sum(-1).argmin(-1)
    mask = np.zeros((*size, 4), np.uint8)
    used = []
    for index, colour in enumerate(BRUSHES):
        where = painted & (nearest == index)
        if where.mean() >= MIN_SHARE:  # a stray dab is not a region
            mask[where] = (*brushes[index], 255)
            used.append(colour)
    if not used:
        return (), None
    Image.fromarray(mask).save(path)
    return tuple(used), KEEP if (mask[..., 3] == 0).mean() >= MIN_SHARE else None


def _painting(editor: dict) -> Image.Image | None:
    """The paint alone, as RGBA (transparent where unpainted): the editor's layers when it sends
    them (an example, the API), else what its composite adds to its background, unblended from
    the brushes' OPACITY."""
    layers = [layer for layer in editor.get("layers") or [] if layer is not None]
    if layers:
        painting = Image.new("RGBA", layers[0].size, (0, 0, 0, 0))
        for layer in layers:
            painting = Image.alpha_composite(painting, layer.convert("RGBA").resize(painting.size))
        return painting
    composite, background = editor.get("composite"), editor.get("background")
    if composite is None or background is None:
        return None
    over = np.asarray(composite.convert("RGB").resize(background.size), dtype=np.float32)
    under = np.asarray(background.convert("RGB"), dtype=np.float32)
    painted = np.abs(over - under).sum(-1) > 40
    if not painted.any():
        return None
    paint = np.clip((over - (1 - OPACITY) * under) / OPACITY, 0, 255)
    return Image.fromarray(np.dstack([paint, painted * 255.0]).astype(np.uint8), "RGBA")


def region_styles(colours: tuple[str, ...], style, second_style) -> list:
    """The style image of each painted colour, in order; painting blue needs a second style."""
    if "#0000ff" in colours and second_style is None:
        raise user_error("You painted in blue, the colour of the second style: add a second style image (under Advanced), "
                         "or paint in red.")  # fmt: skip
    return [style if BRUSHES[colour] == "style" else second_style for colour in colours]


def paint_over(content: str | None, editor: dict | None = None):
    """The editor for a new content image: the picture to paint on, on a canvas of its size (so
    the painting lies over the picture), nothing painted yet; unchanged when it already holds a
    painting over this very picture (an example sets both)."""
    if content is None:
        return None
    if painting_over(editor, content):
        return gr.skip()
    size = Image.open(content).size
    return gr.ImageEditor(value={"background": content, "layers": [], "composite": content}, canvas_size=size)


def _same_picture(image: Image.Image, path: str) -> bool:
    other = load_image(path)  # turned as the engine reads it (EXIF)
    if other.size != image.size:
        return False
    small = [np.asarray(picture.convert("RGB").resize((32, 32)), dtype=np.int16) for picture in (image, other)]
    return int(np.abs(small[0] - small[1]).max()) <= 8
