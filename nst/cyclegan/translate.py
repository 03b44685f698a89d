"""CycleGAN inference on an image of any size and aspect ratio."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from PIL import Image

from nst.cyclegan.tiles import run_in_tiles
from nst.device import inference_dtype, resolve_device
from nst.images import ImageError, fit_long_side, image_to_tensor, tensor_to_image, to_rgb

# The generator pads by 3 pixels by reflection and downsamples: smaller inputs cannot work.
MIN_SIDE = 16

# Images with a longer side are translated over tiles of half this side (nst.cyclegan.tiles):
# the whole-image result in bounded memory (a 4096 px image at once would hold several GB of
# activations at full resolution).
TILE_SIDE = 1024

# A live webcam's frames are translated at this long side, then shown at the camera's size
# (bench.cyclegan measures the frames per second).
WEBCAM_SIDE = 256


def prepare_generator(generator: torch.nn.Module, device: str = "auto", precision: str = "auto") -> torch.nn.Module:
    """An inference copy of `generator`: on `device`, in eval mode, channels-last, and in bf16
    where that is fast (CUDA, CPUs with native bf16; see nst.device). Outputs of the bf16 copy
    differ from fp32 by about one 8-bit grey level on average (bench/cyclegan.py prints it)."""
    target = resolve_device(device)
    dtype = inference_dtype(precision, target) or torch.float32
    prepared = copy.deepcopy(generator).eval().requires_grad_(False)
    return prepared.to(device=target, dtype=dtype, memory_format=torch.channels_last)


@torch.inference_mode()
def translate(generator: torch.nn.Module, image: Image.Image, max_side: int | None = None,
              tile_size: int = TILE_SIDE) -> Image.Image:  # fmt: skip
    """Run `generator` on `image` (any PIL mode) with the generator's device and dtype; returns RGB.

    Larger images are first scaled down so the long side is `max_side`. Sides are padded by
    reflection to the multiple the network needs (its `input_multiple`) and cropped back: no
    distortion. An image with a side over `tile_size` (0: never) is run over tiles of half that side
    (nst.cyclegan.tiles), with the same result.
    """
    image = to_rgb(image)
    if max_side is not None and max(image.size) > max_side:
        height, width = fit_long_side(image.width, image.height, max_side)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"image is too small ({image.width}x{image.height}); each side needs {MIN_SIDE} pixels")
    weight = next(generator.parameters())
    x = image_to_tensor(image).to(weight.device) * 2 - 1  # (1, 3, H, W) in [-1, 1]
    pad_h, pad_w = -image.height % generator.input_multiple, -image.width % generator.input_multiple
    x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect").to(weight.dtype).contiguous(memory_format=torch.channels_last)
    tiled = 0 < tile_size < max(x.shape[-2:])
    y = (run_in_tiles(generator.eval(), x, tile_size // 2) if tiled else generator.eval()(x))[..., : image.height, : image.width]
    return tensor_to_image(y.float().add_(1).div_(2))  # in place: one float copy of a large picture


def cycle_l1(image: Image.Image, reconstruction: Image.Image) -> float:
    """The cycle-consistency distance of Zhu et al. (2017), eq. 2, for one picture: the mean of
    |F(G(x)) - x| over pixels and channels, on the 8-bit pictures a person sees (0-1 scale)."""
    if image.size != reconstruction.size:
        raise ValueError(f"the reconstruction is {reconstruction.size}, the image {image.size}")
    difference = image_to_tensor(image) - image_to_tensor(reconstruction)
    return float(difference.abs().mean())
