"""A CycleGAN generator run over tiles, in bounded memory, with the whole image's statistics.

Instance normalisation divides by the mean and variance of a channel over the whole image, so a
tile run on its own would be normalised by its own statistics, and its colours would jump at
the tile borders. Here the generator is cut into stages at its residual blocks; the output of
each stage is kept (at a quarter of the image's resolution in the trunk) and the next stage is
run tile by tile over it. Before a stage's final pass, one pass per normalisation layer
collects that layer's statistics over the positions the tiles own, with the earlier layers
already normalised by theirs. Each tile reads a halo as wide as the stage's receptive field, so
the positions it owns are computed as in the whole image, and the tiles are pasted without
blending: the result is the whole-image translation, to rounding.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from nst.cyclegan.networks import ResnetBlock
from nst.tiles import Tile, plan_tiles


class _Collected(Exception):
    """Stops a statistics pass once the layer it is for has been seen."""


class _GlobalNorm:
    """Stands in for the forward of each GroupNorm (instance norm) of a stage: normalises by
    statistics of the whole image, and collects those statistics, one layer per pass."""

    def __init__(self):
        self.stats, self.collecting, self.sums = {}, None, None
        self.tile = None  # the tile being run

    def __call__(self, module: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
        if module is self.collecting:
            read_height = self.tile.read_bottom - self.tile.read_top
            own = self.tile.owned(x, x.shape[-2] / read_height).double()  # x's positions per pixel read
            self.sums += torch.stack([own.sum((0, 2, 3)), own.pow(2).sum((0, 2, 3)),
                                      torch.full((x.shape[1],), own[0, 0].numel(), dtype=torch.float64, device=x.device)])  # fmt: skip
            raise _Collected
        mean, var = self.stats[module]
        scale = torch.rsqrt(var + module.eps)
        if module.affine:
            return (x - mean.to(x.dtype).view(1, -1, 1, 1)) * (scale * module.weight).to(x.dtype).view(1, -1, 1, 1) + module.bias.view(1, -1, 1, 1)
        return (x - mean.to(x.dtype).view(1, -1, 1, 1)) * scale.to(x.dtype).view(1, -1, 1, 1)

    def collect(self, module: nn.GroupNorm) -> None:
        self.collecting, self.sums = module, 0

    def finish(self) -> None:
        total, squares, count = self.sums
        mean = total / count
        self.stats[self.collecting] = (mean.float(), (squares / count - mean * mean).clamp_min(0).float())
        self.collecting = None


def stages(generator: nn.Module) -> list[nn.Sequential]:
    """The generator's layers cut at its residual blocks: each block is a stage, and so is each
    run of other layers between them (for ResnetGenerator: down, 9 blocks, up)."""
    cut, run = [], []
    for module in generator.model:
        if isinstance(module, ResnetBlock):
            cut += [nn.Sequential(*run)] if run else []
            cut.append(nn.Sequential(module))
            run = []
        else:
            run.append(module)
    return cut + ([nn.Sequential(*run)] if run else [])


def _geometry(stage: nn.Sequential) -> tuple[float, int, int]:
    """(output resolution / input resolution, the multiple tile borders must keep, the halo in
    input pixels: the receptive-field radius, rounded up to that multiple)."""
    scale, radius = 1.0, 0.0
    for module in stage.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            radius += (module.kernel_size[0] // 2 + 1) / scale  # + 1: the stride's offset, to be safe
            scale = scale / module.stride[0] if isinstance(module, nn.Conv2d) else scale * module.stride[0]
        elif isinstance(module, nn.Upsample):
            scale *= module.scale_factor
    multiple = max(1, round(1 / min(scale, 1.0)))
    return scale, multiple, math.ceil(radius / multiple) * multiple


@torch.inference_mode()
def run_in_tiles(generator: nn.Module, x: torch.Tensor, tile_size: int) -> torch.Tensor:
    """generator(x) for x of (1, 3, H, W) (sides multiples of its input_multiple), computed over
    tiles of about `tile_size` px of the image, stage by stage (module docstring)."""
    resolution = 1.0  # of the current stage's input, relative to the image
    for stage in stages(generator):
        x = _stage_in_tiles(stage, x, max(8, round(tile_size * resolution)))
        resolution *= _geometry(stage)[0]
    return x


def _stage_in_tiles(stage: nn.Sequential, x: torch.Tensor, side: int) -> torch.Tensor:
    scale, multiple, halo = _geometry(stage)
    tiles = plan_tiles(*x.shape[-2:], side, multiple, halo)
    norms = [m for m in stage.modules() if isinstance(m, nn.GroupNorm)]
    hooks = _GlobalNorm()
    for norm in norms:  # an instance attribute: nn.Module calls it instead of GroupNorm.forward
        norm.forward = functools.partial(hooks, norm)
    try:
        for norm in norms:  # one statistics pass per normalisation layer, in the order they run
            hooks.collect(norm)
            for tile in tiles:
                try:
                    _run_tile(stage, x, tile, hooks)
                except _Collected:
                    pass
            hooks.finish()
        out = None
        for tile in tiles:
            y = _run_tile(stage, x, tile, hooks)
            if out is None:
                out = y.new_empty((1, y.shape[1], round(x.shape[-2] * scale), round(x.shape[-1] * scale)))
            tile.owned_of_whole(out, scale).copy_(tile.owned(y, scale))
        return out
    finally:
        for norm in norms:
            del norm.forward


def _run_tile(stage: nn.Sequential, x: torch.Tensor, tile: Tile, hooks: _GlobalNorm) -> torch.Tensor:
    """The stage on the tile's pixels and halo."""
    hooks.tile = tile
    return stage(tile.pixels(x).contiguous(memory_format=torch.channels_last))
