"""Device and precision choices of the Gatys engine and CycleGAN inference."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, get_args

import torch

Device = Literal["auto", "cpu", "cuda", "mps"]  # where the Gatys engine runs; auto: cuda, then mps, then cpu
Precision = Literal["auto", "fp32", "mixed", "bf16"]  # of the Gatys engine (vgg_dtypes)
InferencePrecision = Literal["auto", "fp32", "bf16"]  # of a network's forward pass (CycleGAN inference)


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" picks cuda, then Apple's mps, then the CPU; an unavailable choice is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for, but Apple's MPS backend is not available")
    if name not in get_args(Device):
        raise ValueError(f"device must be one of {', '.join(get_args(Device))}; got {name!r}")
    return torch.device(name)


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16, read from /proc/cpuinfo).

    There, bf16 convolutions run 2-3 times faster than fp32 (bench/); elsewhere bf16 is emulated
    and slower, so "auto" keeps fp32.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def has_fast_bf16(device: torch.device) -> bool:
    """Whether bf16 is faster than fp32 on `device`: CUDA GPUs and CPUs with AMX/AVX512-BF16."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())


def inference_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype of a network's forward pass (CycleGAN inference), or None for plain fp32.

    "auto" means bf16 where bf16 is fast: fine for a single forward pass.
    """
    if precision not in get_args(InferencePrecision):
        raise ValueError(f"precision must be one of {', '.join(get_args(InferencePrecision))}; got {precision!r}")
    if precision == "auto":
        return torch.bfloat16 if has_fast_bf16(device) else None
    return torch.bfloat16 if precision == "bf16" else None


def vgg_dtypes(precision: str, device: torch.device) -> tuple[torch.dtype, torch.dtype]:
    """(forward, gradient) dtypes of the VGG convolutions for a Gatys `precision`.

    fp32; mixed = fp32 features, bf16 gradients (the same final loss, see nst.gatys.vgg.VGGConv);
    bf16 = both, fastest but converging to a higher loss; auto = mixed where bf16 is fast.
    """
    if precision == "auto":
        precision = "mixed" if has_fast_bf16(device) else "fp32"
    dtypes = {
        "fp32": (torch.float32, torch.float32),
        "mixed": (torch.float32, torch.bfloat16),
        "bf16": (torch.bfloat16, torch.bfloat16),
    }
    if precision not in dtypes:
        raise ValueError(f"precision must be one of {', '.join(get_args(Precision))}; got {precision!r}")
    return dtypes[precision]
