"""CycleGAN at full resolution: a generator run over tiles (nst.cyclegan.tiles) gives the
whole-image translation, instance norm included, with no seam at the tile borders."""

import numpy as np
import pytest
import torch
from PIL import Image

from hub_fixtures import seeded
from nst.cyclegan.networks import ResnetGenerator
from nst.cyclegan.tiles import run_in_tiles, stages
from nst.cyclegan.translate import translate


@pytest.mark.parametrize("upsampling,affine", [("transpose", False), ("nearest", True)])
def test_a_tiled_translation_equals_the_whole_image_translation(upsampling, affine):
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2, upsampling=upsampling, norm_affine=affine)).eval()
    assert len(stages(generator)) == 4  # down, two blocks, up
    x = torch.rand(1, 3, 88, 120, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        whole = generator(x)
    tiled = run_in_tiles(generator, x, tile_size=32)  # 3 x 4 tiles at the image's resolution
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() < 1e-4


def test_tiles_leave_no_seam_and_translate_keeps_the_size():
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2)).eval()
    gradient = np.linspace(0, 255, 150, dtype=np.uint8)
    picture = Image.fromarray(np.stack([np.tile(gradient, (97, 1))] * 3, axis=-1))  # 150x97: padded to 152x100
    whole = np.asarray(translate(generator, picture, tile_size=0), dtype=np.float64)
    tiled = np.asarray(translate(generator, picture, tile_size=48), dtype=np.float64)
    assert tiled.shape == whole.shape == (97, 150, 3)
    assert np.abs(tiled - whole).max() <= 1  # one 8-bit level of rounding at most
    # no step in the column means across the tile borders (every 24 px: tile_size 48 gives tiles of 24) that the
    # whole image does not have: per-tile statistics would shift each tile's level
    tiled_steps, whole_steps = np.diff(tiled.mean(axis=(0, 2))), np.diff(whole.mean(axis=(0, 2)))
    assert np.abs(tiled_steps[[23, 47, 71, 95, 119]] - whole_steps[[23, 47, 71, 95, 119]]).max() < 0.1
    rows_tiled, rows_whole = np.diff(tiled.mean(axis=(1, 2))), np.diff(whole.mean(axis=(1, 2)))
    assert np.abs(rows_tiled[[19, 39, 59, 79]] - rows_whole[[19, 39, 59, 79]]).max() < 0.1  # 100 px: tiles of 20
