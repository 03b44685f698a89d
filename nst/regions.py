"""Where each style goes: a mask image whose colours mark regions of the content, each painted
in its own style or kept as the photo (Gatys et al. 2017, "Controlling Perceptual Factors in
Neural Style Transfer", section 4: spatial control).

A mask is any picture: its colours that cover at least MIN_SHARE of it are its regions, and every
other pixel (a soft brush's edge, JPEG noise) belongs to the nearest of them; transparent parts
(unpainted, in a painting program) read as black, and the rest as its colour at full strength. Regions map to the
style images in order: the colours listed (`region_colors`), or else the colours as they first
appear reading the mask from the top left. `keep_color` names the region that keeps the photo.
The Gatys engine weights its Gram matrices by the masks (nst.gatys.losses.guided_gram); the
feed-forward network paints each region in its style and blends them along soft edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor, ImageOps

from nst.images import ImageError, gaussian_blur, load_image, to_srgb

class RegionError(ValueError):
    """A mask that cannot be used as it is; the message names the options to change by their
    field names (mask, region_colors, keep_color), which the CLI turns into its flags."""


class MaskNote(UserWarning):
    """Something about the mask said once to the person (the CLI prints it as a note)."""


MIN_SHARE = 0.005  # a colour covering less of the mask is a brush edge or noise, not a region


@dataclass(frozen=True)
class Regions:
    """The regions of a mask at the content's size."""

    colours: tuple[str, ...]  # "#rrggbb" of each region, in the order of the styles (keep last)
    masks: torch.Tensor  # (K, H, W), 1 inside a region, 0 outside; the K masks sum to 1 at every pixel
    keep: int | None  # the index of the region that keeps the photo, if any
    note: str | None  # said once to the person: the mask was resized to the output

    @property
    def styled(self) -> list[int]:
        """The indices of the regions that get a style, in the order of the style images."""
        return [index for index in range(len(self.colours)) if index != self.keep]

    def at(self, size: tuple[int, int]) -> torch.Tensor:
        """The masks at (H, W) by area averaging: soft where a coarse level or a deep layer
        straddles a border, as the paper downsamples its guidance channels."""
        return F.interpolate(self.masks[None], size=size, mode="area")[0]


def parse_colour(text: str) -> str:
    """'#rrggbb' for a colour written as a name ("black"), #rgb or #rrggbb."""
    try:
        red, green, blue = ImageColor.getrgb(text.strip())[:3]
    except ValueError as error:
        raise ValueError(f"{text!r} is not a colour (write a name such as black, or #rrggbb)") from error
    return f"#{red:02x}{green:02x}{blue:02x}"


def parse_colours(values) -> tuple[str, ...]:
    """A config's region colours, given comma-separated or as a sequence, as "#rrggbb"."""
    values = values.split(",") if isinstance(values, str) else values
    return tuple(parse_colour(value) for value in values if str(value).strip())


def read_regions(mask, size: tuple[int, int], n_styles: int, region_colors: tuple[str, ...] = (),
                 keep_color: str | None = None) -> Regions:  # fmt: skip
    """The regions of the mask image (path or PIL image) at the content's (H, W), checked against
    the number of style images; each problem is one sentence that says what to change."""
    try:
        load_image(mask)  # a readable picture, or one sentence why not
    except ImageError as error:
        raise RegionError(f"the mask cannot be used: {error}") from error
    if isinstance(mask, Image.Image):
        image = mask
    else:
        with Image.open(mask) as opened:  # as the content is read (nst.images.load_image): turned, in sRGB, alpha kept
            image = to_srgb(ImageOps.exif_transpose(opened), opened.info.get("icc_profile"))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:  # painted where mostly opaque, else black
        rgba = np.asarray(image.convert("RGBA"))
        image = Image.fromarray(np.where(rgba[..., 3:] > 127, rgba[..., :3], 0).astype(np.uint8))
    image = image.convert("RGB")
    note = None
    if (image.height, image.width) != tuple(size):
        note = (f"the mask ({image.width}x{image.height} px) was resized to the output ({size[1]}x{size[0]} px)")
        if abs(image.width / image.height - size[1] / size[0]) > 0.02 * size[1] / size[0]:
            note += "; its shape is not the content's, so its regions are stretched to fit"
        image = image.resize((size[1], size[0]), Image.Resampling.NEAREST)
    pixels = np.asarray(image, dtype=np.int32).reshape(-1, 3)
    found, labels = _dominant_colours(pixels)
    keep = parse_colour(keep_color) if keep_color else None
    wanted = [parse_colour(c) for c in region_colors] or [c for c in found if c != keep]
    repeated = sorted({c for c in wanted if wanted.count(c) > 1 or c == keep})
    if repeated:
        raise RegionError(f"the colour{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} "
                          f"{'are' if len(repeated) > 1 else 'is'} given twice (region_colors, keep_color): "
                          "each region once")  # fmt: skip
    for colour in [*wanted, *([keep] if keep else [])]:
        if colour not in found:
            raise RegionError(f"the region colour {colour} is not in the mask (an empty region); "
                             f"the mask's colours are {', '.join(found)}")  # fmt: skip
    unassigned = [c for c in found if c not in wanted and c != keep]
    if unassigned:
        raise RegionError(f"the mask colour{'s' if len(unassigned) > 1 else ''} {', '.join(unassigned)} "
                          f"{'have' if len(unassigned) > 1 else 'has'} no style: give one style image per colour, or "
                          "name the colour that keeps the photo (keep_color)")  # fmt: skip
    if len(wanted) != n_styles:
        raise RegionError(f"the mask has {len(wanted)} styled region{'s' if len(wanted) != 1 else ''} "
                         f"({', '.join(wanted)}) but {n_styles} style image{'s were' if n_styles != 1 else ' was'} "
                         "given: one style image per region, in the order of region_colors or, without them, "
                         "of the colours from the top left")  # fmt: skip
    order = wanted + ([keep] if keep else [])
    masks = torch.stack([torch.from_numpy(labels == found.index(c)).float().reshape(size) for c in order])
    return Regions(tuple(order), masks, len(wanted) if keep else None, note)


def _dominant_colours(pixels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The colours covering at least MIN_SHARE of the pixels, in the order they first appear,
    and each pixel's index among them (the nearest one, for the other colours)."""
    colours, first, inverse, counts = np.unique(pixels, axis=0, return_index=True, return_inverse=True,
                                                return_counts=True)  # fmt: skip
    major = counts >= MIN_SHARE * len(pixels)
    if not major.any():
        raise RegionError("the mask has no region: no colour covers even half a percent of it")
    dominant = colours[major][np.argsort(first[major])]
    nearest = ((colours[:, None, :] - dominant[None, :, :]) ** 2).sum(-1).argmin(1)  # for each distinct colour
    return ["#{:02x}{:02x}{:02x}".format(*map(int, c)) for c in dominant], nearest[inverse.reshape(-1)]


def blend_pictures(pictures: list[torch.Tensor], regions: Regions, feather: float = 0.01) -> torch.Tensor:
    """One (1, 3, H, W) picture from one per region, each where its mask is, blended across a
    border of about `feather` times the long side (a Gaussian blur of the masks)."""
    size = tuple(pictures[0].shape[-2:])
    masks = regions.at(size).to(pictures[0])
    soft = gaussian_blur(masks[:, None], max(0.5, feather * max(size)))[:, 0]
    soft = soft / soft.sum(0, keepdim=True).clamp_min(1e-8)
    return sum(weight[None, None] * picture for weight, picture in zip(soft, pictures))
