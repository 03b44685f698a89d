"""Generator checkpoints in the formats found in the wild, read safely and loaded strictly.

- the reference implementation's `latest_net_G.pth` (junyanz/pytorch-CycleGAN-and-pix2pix:
  transposed convolutions, and in old files instance-norm running statistics),
- HugGAN's `pytorch_model.bin` (nearest upsampling; residual blocks named `block`),
- variants of either: instance norm with affine parameters, dropout in the residual blocks,
  any ngf and number of blocks, `block` with transposed convolutions; `.safetensors` files.

The architecture is read off the state dict's keys and shapes, never from a file name. Files saved by this project (config.json + model.safetensors) load through
PyTorchModelHubMixin instead (nst.cyclegan.hub).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from nst.cyclegan.networks import ResnetGenerator
from nst.errors import ModelLoadError

# Keys that instance norm carried in old PyTorch versions; today's InstanceNorm2d has none.
_LEGACY_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file, or from a pickle through weights_only (no code runs)."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelLoadError(
            f"{path} is not a checkpoint that can be loaded safely: it holds Python objects other "
            "than tensors, and unpickling them could run code"
        ) from error
    except Exception as error:  # noqa: BLE001 - untrusted bytes fail in many ways; all mean "no"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(f"{path} is not a checkpoint that can be loaded safely: {reason}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{path} is not a checkpoint: it holds no state dict of tensors")
    return state


def normalize_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Bring a generator state dict to our key names: without the legacy instance-norm buffers
    and a DataParallel `module.` prefix, residual blocks named `conv_block` (HugGAN: `block`)."""
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.endswith(_LEGACY_SUFFIXES)}
    return {key.replace(".block.", ".conv_block."): v for key, v in state.items()}


def infer_generator_config(state: dict[str, torch.Tensor], where: str = "checkpoint") -> dict:
    """The ResnetGenerator a normalised state dict is, read off its keys and shapes:
    ngf (first convolution's filters), n_blocks, norm_affine (norm layers with a weight),
    dropout (the block's second convolution one index later) and upsampling (a transposed
    convolution's weight is (in, out, 3, 3) with in = 2 out; a convolution's is (out, in, 3, 3))."""
    if "model.1.weight" not in state:
        raise ModelLoadError(
            f"{where} is not a CycleGAN ResNet generator: it has no first convolution model.1.weight "
            f"(its keys begin {_few(sorted(state), 3)})"
        )
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    block_convs = _conv_weights(state, r"model\.\d+\.conv_block\.(\d+)\.weight")  # {index in a block: weight}
    top_convs = _conv_weights(state, r"model\.(\d+)\.weight")  # {index in model: weight}
    ups = [weight for index, weight in sorted(top_convs.items()) if blocks and index > blocks[-1]]
    return {
        "architecture": "resnet",
        "ngf": state["model.1.weight"].shape[0],
        "n_blocks": len(blocks),
        "upsampling": "transpose" if ups and ups[0].shape[0] > ups[0].shape[1] else "nearest",
        "norm_affine": "model.2.weight" in state,
        "dropout": max(block_convs, default=0) == 6,  # pad, conv, norm, relu, [dropout,] pad, conv, norm
    }


def _conv_weights(state: dict[str, torch.Tensor], pattern: str) -> dict[int, torch.Tensor]:
    """{index captured by `pattern`: weight} of the convolutions (4-D weights) whose keys match it."""
    return {int(m.group(1)): v for k, v in state.items() if (m := re.fullmatch(pattern, k)) and v.dim() == 4}


def build_generator(state: dict[str, torch.Tensor], config: dict | None, where: str) -> tuple[ResnetGenerator, str]:
    """A generator with `state` loaded strictly; returns it and its layout ("reference":
    transposed convolutions, "huggan": nearest upsampling). A mismatch lists the keys that differ."""
    state = normalize_state_dict(state)
    config = {**infer_generator_config(state, where), **(config or {})}
    try:
        generator = ResnetGenerator(**{k: config[k] for k in ("ngf", "n_blocks", "upsampling", "norm_affine", "dropout")})
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"{where}: unusable generator config {config}: {error}") from error
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        raise ModelLoadError(
            f"{where} does not match a ResnetGenerator({', '.join(f'{k}={config[k]}' for k in generator.hub_config if k != 'architecture')}): "
            f"missing keys {_few(missing)}, unexpected keys {_few(unexpected)}, wrong shapes {_few(reshaped)}"
        )
    generator.load_state_dict(state, strict=True)
    layout = "reference" if config["upsampling"] == "transpose" else "huggan"
    return generator.eval().requires_grad_(False), layout


def _few(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) or "none"
    return f"[{shown}{f', … {len(keys) - limit} more' if len(keys) > limit else ''}]"
