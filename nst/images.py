"""Image I/O and conversions between PIL images and (1, 3, H, W) float tensors in [0, 1]."""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF, the iPhone's photos: Pillow opens them once pillow-heif is registered
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - requirements.txt installs it; without it such files are refused in one line
    pillow_heif = None

# Pillow's decompression-bomb limit (it refuses larger images outright): about 179 megapixels.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS


_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")


class ImageError(ValueError):
    """An input that is not a usable image; the message names the file and the problem."""


SRGB = ImageCms.createProfile("sRGB")


def load_image(source: str | os.PathLike | Image.Image, max_side: int | None = None) -> Image.Image:
    """Open a path (or take a PIL image) and return it as RGB in sRGB, EXIF rotation applied: a
    photo with a colour profile (a phone's Display P3, a camera's Adobe RGB) is converted from
    it, so that what is stylised is what a browser shows.

    With `max_side`, a large file is decoded no larger than needed for a long side of at least
    2 * `max_side` (JPEG's DCT scaling through `draft`, then `Image.reduce`), which bounds memory:
    the caller resizes the rest of the way with a proper filter. (Reducing may move the aspect
    ratio by a fraction of a pixel at the final size.)
    """
    if isinstance(source, Image.Image):
        return to_rgb(to_srgb(source))
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():  # between Pillow's warning and error limits is accepted
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                profile = image.info.get("icc_profile")
                if max_side:  # at least twice the size needed, so the final resize still has detail to filter
                    image.draft("RGB", _at_least(image.size, 2 * max_side))
                image.load()
                if max_side and (factor := int(max(image.size) / (2 * max_side))) >= 2:
                    if image.mode not in _REDUCIBLE_MODES:  # palette, 1-bit, 16-bit: Image.reduce refuses them
                        image = to_rgb(ImageOps.exif_transpose(image))
                    image = image.reduce(factor)
                return to_rgb(to_srgb(ImageOps.exif_transpose(image), profile))
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path.name} is too large: images up to {MAX_PIXELS / 1e6:.0f} megapixels are accepted") from error
    except UnidentifiedImageError as error:
        if pillow_heif is None and path.suffix.lower() in (".heic", ".heif"):
            raise ImageError(f"{path.name} is a HEIC photo: pip install pillow-heif, or export it as JPEG") from error
        raise ImageError(f"{path.name} is not a readable image: not a picture format Pillow knows") from error
    except (OSError, SyntaxError, ValueError) as error:  # what Pillow's decoders raise on bad data
        raise ImageError(f"{path.name} is not a readable image: the file is damaged or cut short") from error


def _at_least(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is max_side, rounded up."""
    scale = min(1.0, max_side / max(size))
    return math.ceil(size[0] * scale), math.ceil(size[1] * scale)


def to_srgb(image: Image.Image, profile: bytes | None = None) -> Image.Image:
    """`image` converted from its embedded ICC profile (or `profile`) to sRGB; as it is without
    one, or with a profile that cannot be read (then its numbers are taken as sRGB, as before)."""
    profile = profile or image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, SRGB, outputMode="RGBA" if image.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    converted.info.pop("icc_profile", None)  # its numbers are sRGB now: never converted twice
    return converted


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of any PIL image; transparent areas become white rather than black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so the longer one equals `long_side`, aspect ratio kept."""
    scale = long_side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def image_to_tensor(image: Image.Image, size: tuple[int, int] | None = None) -> torch.Tensor:
    """PIL image -> (1, 3, H, W) float32 in [0, 1], resized to size=(H, W) with Lanczos."""
    image = to_rgb(image)
    if size is not None and (image.height, image.width) != tuple(size):
        image = image.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB PIL image (clamped, rounded)."""
    scaled = tensor.detach().squeeze(0).permute(1, 2, 0).float().mul(255.0)  # one float copy: a 4096 px image is 150 MB
    array = scaled.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def resize_tensor(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of a (B, C, H, W) tensor to size=(H, W)."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True)


def gaussian_blur(channels: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur (radius 3 sigma, edges replicated) of (N, 1, H, W) single-channel
    maps: the quality measure's edges and the regions' soft borders."""
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=channels.dtype, device=channels.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(channels, (radius,) * 4, mode="replicate")
    return F.conv2d(F.conv2d(padded, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))
