"""A large picture's VGG19 features, computed tile by tile in bounded memory, exactly.

The losses of Gatys et al. (2015) are sums over positions: L_content (eq. 1) sums the squared
feature differences, and each Gram matrix G^l = sum_k f_k f_k^T (eq. 3) sums the outer
products of the feature vectors f_k at positions k. So a picture can be split into tiles that
each own some positions, and each tile's share of every sum computed on its own. A tile is read
with a halo of neighbouring pixels at least as wide as the deepest layer's receptive field, so
the features of the positions it owns are the whole picture's, to rounding; only one tile's
activations are alive at a time (nst.gatys.engine.evaluate puts this together with the gradient).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from nst import tiles
from nst.gatys.vgg import VGG19_LAYER_NAMES
from nst.tiles import Tile


def stride(layer: str) -> int:
    """Input pixels per position of `layer`: 2 to the number of poolings before it."""
    before = VGG19_LAYER_NAMES[: VGG19_LAYER_NAMES.index(layer) + 1]
    return 2 ** sum(name.startswith("pool") for name in before)


def halo(layers: tuple[str, ...]) -> int:
    """Pixels a tile must read beyond the ones it owns so that the owned positions of `layers`
    see no edge of the tile: the receptive-field radius of the deepest layer (each 3x3
    convolution widens it by one position, each 2x2 pooling by one more), rounded up to a
    multiple of the deepest layer's stride so that tiles keep the pooling grid."""
    deepest = max(VGG19_LAYER_NAMES.index(name) for name in layers)
    radius, jump = 0, 1
    for name in VGG19_LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            radius += jump
        elif name.startswith("pool"):
            radius += jump
            jump *= 2
    return math.ceil(radius / jump) * jump


def scale(layer: str) -> float:
    """Positions of `layer` per input pixel, as nst.tiles.Tile takes it: 1 / stride."""
    return 1 / stride(layer)


def plan_tiles(height: int, width: int, tile_size: int, layers: tuple[str, ...]) -> list[Tile]:
    """Tiles of at most about `tile_size` px a side covering a height x width picture, their
    borders on the deepest layer's pooling grid, read with its halo; one tile (the whole
    picture, no halo) when the long side is at most `tile_size` or `tile_size` is 0."""
    if tile_size <= 0 or max(height, width) <= tile_size:
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    return tiles.plan_tiles(height, width, tile_size, max(stride(name) for name in layers), halo(layers))


def owned_features(vgg, image: torch.Tensor, tile: Tile) -> dict[str, torch.Tensor]:
    """{layer: the features of the positions `tile` owns}, for the layers of `vgg` (an
    nst.gatys.vgg.VGGFeatures), computed from the tile's pixels and halo."""
    return {layer: tile.owned(value, scale(layer)) for layer, value in vgg(tile.pixels(image)).items()}


@torch.no_grad()
def tiled_features(vgg, image: torch.Tensor, tile_size: int) -> Iterator[tuple[Tile, dict[str, torch.Tensor]]]:
    """(tile, {layer: the features of the positions it owns}) for each tile of `image`, for the
    layers of `vgg` (an nst.gatys.vgg.VGGFeatures); one tile's activations alive at a time."""
    for tile in plan_tiles(*image.shape[-2:], tile_size, vgg.layers):
        yield tile, owned_features(vgg, image, tile)
