"""Device and precision choices shared by the Gatys engine and CycleGAN inference."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch


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
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda or mps; got {name!r}")
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


def autocast_dtype(precision: str, device: torch.device, auto_bf16: bool = True) -> torch.dtype | None:
    """The dtype for network forward passes, or None for plain fp32.

    With `auto_bf16`, "auto" means bf16 on CUDA and on CPUs with native bf16 (fine for a single
    forward pass, as in CycleGAN inference); without it "auto" means fp32.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16; got {precision!r}")
    if precision == "auto":
        fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
        return torch.bfloat16 if auto_bf16 and fast else None
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """torch.autocast for `dtype`, or nothing when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
