"""Generator checkpoints in the formats found in the wild, read safely and loaded strictly.

- the reference implementation's `latest_net_G.pth` (junyanz/pytorch-CycleGAN-and-pix2pix:
  transposed convolutions, and in old files instance-norm running statistics),
- HugGAN's `pytorch_model.bin` (nearest upsampling; residual blocks named `block`),
- a `.safetensors` file of either.

The architecture and its size (ngf, n_blocks, upsampling) are read off the state dict's keys and
shapes. Files saved by this project (config.json + model.safetensors) load through
PyTorchModelHubMixin instead (nst.hub).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from nst.cyclegan import ResnetGenerator

# Keys that instance norm carried in old PyTorch versions; today's InstanceNorm2d has none.
_LEGACY_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


class ModelLoadError(ValueError):
    """A model source that cannot be served; the message says what to do about it."""


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


def normalize_state_dict(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Bring a generator state dict to our key layout; returns it and the detected layout.

    Drops the legacy instance-norm buffers and a DataParallel `module.` prefix; renames HugGAN's
    residual `block.` to the reference `conv_block.`.
    """
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.endswith(_LEGACY_SUFFIXES)}
    if any(".block." in key for key in state):
        return {key.replace(".block.", ".conv_block."): v for key, v in state.items()}, "huggan"
    return state, "reference"


def infer_generator_config(state: dict[str, torch.Tensor], layout: str, where: str = "checkpoint") -> dict:
    """architecture, ngf, n_blocks and upsampling read off the keys and shapes of a normalised state dict."""
    if "model.1.weight" not in state:
        raise ModelLoadError(
            f"{where} is not a CycleGAN ResNet generator: it has no first convolution model.1.weight "
            f"(its keys begin {_few(sorted(state), 3)})"
        )
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
    return {
        "architecture": "resnet",
        "ngf": state["model.1.weight"].shape[0],
        "n_blocks": len(blocks),
        "upsampling": "nearest" if layout == "huggan" else "transpose",
    }


def build_generator(state: dict[str, torch.Tensor], config: dict | None, where: str) -> tuple[ResnetGenerator, str]:
    """A generator with `state` loaded strictly; a mismatch lists the keys that differ."""
    state, layout = normalize_state_dict(state)
    config = {**infer_generator_config(state, layout, where), **(config or {})}
    try:
        generator = ResnetGenerator(**{k: config[k] for k in ("ngf", "n_blocks", "upsampling")})
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"{where}: unusable generator config {config}: {error}") from error
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        raise ModelLoadError(
            f"{where} does not match a ResnetGenerator(ngf={config['ngf']}, n_blocks={config['n_blocks']}, "
            f"upsampling={config['upsampling']}): missing keys {_few(missing)}, unexpected keys "
            f"{_few(unexpected)}, wrong shapes {_few(reshaped)}"
        )
    generator.load_state_dict(state, strict=True)
    return generator.eval().requires_grad_(False), layout


def _few(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) or "none"
    return f"[{shown}{f', … {len(keys) - limit} more' if len(keys) > limit else ''}]"
