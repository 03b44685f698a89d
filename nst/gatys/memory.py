"""How much memory a Gatys run needs, before it starts, and the largest size that fits.

The peak is the largest level's: the activations of one tile (or of the whole picture, when it
is not tiled) kept for the backward pass, plus the image-sized vectors (the image, its gradient,
the targets, LBFGS's pairs), plus what the process holds anyway. The constants are fitted to
peak RSS measured on the CPU (`python -m bench.large` prints the estimate beside the measure).
"""

from __future__ import annotations

import os

import torch

from nst.gatys.config import GatysConfig
from nst.gatys.tiles import halo, plan_tiles, stride
from nst.gatys.vgg import VGG19_LAYER_NAMES, channels

BASE_BYTES = 1.15e9  # the process, torch, and the original VGG19 dequantised (peak RSS at small sizes)
BYTES_PER_ACTIVATION = 5.0  # per float of the ReLU outputs that the backward pass keeps, per pixel read
BYTES_PER_PIXEL = 200.0  # the image-sized vectors: the image, its gradient, LBFGS's working vectors, targets
HISTORY_BYTES_PER_PIXEL = 2 * 3 * 4  # one LBFGS pair (s, y) of float32 RGB


def activation_floats(layers: tuple[str, ...]) -> float:
    """Floats per input pixel of the ReLU outputs up to the deepest of `layers`."""
    deepest = max(VGG19_LAYER_NAMES.index(name) for name in layers)
    return sum(channels(name) / stride(name) ** 2 for name in VGG19_LAYER_NAMES[: deepest + 1] if name.startswith("relu"))


def estimate_bytes(config: GatysConfig, content_size: tuple[int, int]) -> float:
    """The peak memory of `config` on a content picture of (width, height) px."""
    from nst.gatys.engine import lbfgs_history, level_plan  # here: the engine imports this module

    layers = config.content_layers + config.style_layers
    tile_read = config.tile_size + 2 * halo(layers)  # an inner tile's side, halo included: the largest read
    peak = 0.0
    for (height, width), steps in level_plan(config, content_size):
        whole = len(plan_tiles(height, width, config.tile_size, layers)) == 1
        read = height * width if whole else min(height, tile_read) * min(width, tile_read)
        pairs = min(steps, lbfgs_history(3 * height * width)) if config.optimizer == "lbfgs" else 2
        peak = max(peak, BYTES_PER_ACTIVATION * activation_floats(layers) * read
                   + (BYTES_PER_PIXEL + pairs * HISTORY_BYTES_PER_PIXEL) * height * width)  # fmt: skip
    return BASE_BYTES + peak


def available_bytes(device: torch.device) -> float:
    """Memory a run may use on `device`: the GPU's free memory, or the CPU's available memory
    (MemAvailable; the process's own use is counted in BASE_BYTES, so it is added back)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free + torch.cuda.memory_reserved(device)) + BASE_BYTES
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return float(fields["MemAvailable"].split()[0]) * 1024 + _own_rss()
    except (OSError, KeyError, ValueError):
        return float("inf")  # not Linux: nothing to check against


def _own_rss() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return float(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0.0


def largest_size(config: GatysConfig, content_size: tuple[int, int], available: float, step: int = 64) -> int:
    """The largest size (a multiple of `step`) whose estimate fits in `available` bytes; 0 if none."""
    size = 0
    while estimate_bytes(config.replace(size=size + step), content_size) <= available and size < 16384:
        size += step
    return size


class TooLarge(ValueError):
    """A run that would not fit in memory; the message names the largest size that does."""


def check_fits(config: GatysConfig, content_size: tuple[int, int], available: float) -> None:
    """Refuse, in one line naming the largest size that fits, a run that would not fit."""
    need = estimate_bytes(config, content_size)
    if need > available:
        largest = largest_size(config, content_size, available)
        raise TooLarge(
            f"size {config.size} needs about {need / 1e9:.1f} GB of memory and {available / 1e9:.1f} GB is free; "
            + (f"size {largest} or smaller fits" if largest else "no size fits: free some memory")
        )
