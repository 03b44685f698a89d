"""Tiles of a large picture, each read with a halo: what the Gatys engine (nst.gatys.tiles) and
CycleGAN translation (nst.cyclegan.tiles) share to run a network on pictures larger than memory.

A tile owns some pixels and reads them with a halo of neighbours, clipped to the picture. A
network's output on the tile, at the positions it owns, is its output on the whole picture when
the halo is as wide as the network's receptive field; the tiles' owned parts cover the picture
once, so sums over positions and pasted outputs are the whole picture's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tile:
    """Pixels [top, bottom) x [left, right) are the tile's own; it reads them and a halo, clipped
    to the picture: [read_top, read_bottom) x [read_left, read_right).

    `scale` below is positions of a map per pixel of the picture (1/4 after two 2x2 poolings, 2
    after an upsampling): the owned part of such a map starts at floor(top * scale)."""

    top: int
    bottom: int
    left: int
    right: int
    read_top: int
    read_bottom: int
    read_left: int
    read_right: int

    def pixels(self, image: torch.Tensor) -> torch.Tensor:
        """The part of `image` (..., H, W) the tile reads."""
        return image[..., self.read_top : self.read_bottom, self.read_left : self.read_right]

    def owned(self, output: torch.Tensor, scale: float) -> torch.Tensor:
        """The positions the tile owns, out of a map computed from its pixels()."""
        top, left = self.read_top, self.read_left
        return output[..., _at(self.top - top, scale) : _at(self.bottom - top, scale),
                      _at(self.left - left, scale) : _at(self.right - left, scale)]  # fmt: skip

    def owned_of_whole(self, whole: torch.Tensor, scale: float) -> torch.Tensor:
        """The same positions, out of a map of the whole picture (a target, a mask, an output)."""
        return whole[..., _at(self.top, scale) : _at(self.bottom, scale), _at(self.left, scale) : _at(self.right, scale)]


def _at(pixels: int, scale: float) -> int:
    return math.floor(pixels * scale)  # scales are powers of two: exact


def plan_tiles(height: int, width: int, side: int, multiple: int, halo: int) -> list[Tile]:
    """Tiles of about `side` px a side covering a height x width picture, their borders on
    multiples of `multiple` (a network's pooling grid), each read with `halo` px around it."""

    def cuts(length: int) -> list[int]:
        count = math.ceil(length / side)
        step = math.ceil(length / count / multiple) * multiple
        return [min(i * step, length) for i in range(count)] + [length]

    rows, columns = cuts(height), cuts(width)
    return [
        Tile(top, bottom, left, right, max(0, top - halo), min(height, bottom + halo),
             max(0, left - halo), min(width, right + halo))  # fmt: skip
        for top, bottom in zip(rows, rows[1:]) if bottom > top
        for left, right in zip(columns, columns[1:]) if right > left
    ]
