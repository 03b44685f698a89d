"""CycleGAN inference on an image of any size and aspect ratio."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image

from nst.device import autocast, autocast_dtype
from nst.images import ImageError, fit_long_side, image_to_tensor, tensor_to_image, to_rgb

# The generator pads by 3 pixels by reflection and downsamples twice: smaller inputs cannot work.
MIN_SIDE = 16


@torch.inference_mode()
def translate(generator: torch.nn.Module, image: Image.Image, max_side: int | None = None, precision: str = "auto") -> Image.Image:
    """Run `generator` on `image` (any PIL mode) on the generator's device; returns RGB.

    Larger images are first scaled down so the long side is `max_side`. Sides are padded by
    reflection to a multiple of 4 (two stride-2 stages) and cropped back: no distortion.
    """
    image = to_rgb(image)
    if max_side is not None and max(image.size) > max_side:
        height, width = fit_long_side(image.width, image.height, max_side)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"image is too small ({image.width}x{image.height}); each side needs {MIN_SIDE} pixels")
    device = next(generator.parameters()).device
    x = image_to_tensor(image).to(device) * 2 - 1  # (1, 3, H, W) in [-1, 1]
    pad_h, pad_w = -image.height % 4, -image.width % 4
    x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    with autocast(device, autocast_dtype(precision, device)):
        y = generator.eval()(x)
    y = y[..., : image.height, : image.width].float()
    return tensor_to_image((y + 1) / 2)
