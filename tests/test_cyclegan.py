"""CycleGAN networks and inference: layouts, initialisation, numerics on any image size.

Weights are random (seeded): these tests check layouts and numerics, not translation quality,
which needs trained checkpoints the tests cannot download.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hub_fixtures import reference_generator, seeded
from nst.cyclegan.networks import NLayerDiscriminator, ResnetGenerator, instance_norm
from nst.cyclegan.translate import prepare_generator, translate
from nst.images import ImageError

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_counts_and_shapes():
    generator, discriminator = ResnetGenerator(), NLayerDiscriminator()
    assert sum(p.numel() for p in generator.parameters()) == 11_378_179
    assert sum(p.numel() for p in discriminator.parameters()) == 2_764_737
    assert discriminator(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert ResnetGenerator(ngf=8, n_blocks=6)(torch.zeros(1, 3, 32, 48)).shape == (1, 3, 32, 48)


def test_reference_key_layout():
    keys = set(ResnetGenerator().state_dict())
    weights = sorted({int(k.split(".")[1]) for k in keys if k.endswith("weight") and "conv_block" not in k})
    assert weights == [1, 4, 7, 19, 22, 26]
    blocks = sorted({int(k.split(".")[1]) for k in keys if "conv_block" in k})
    assert blocks == list(range(10, 19))
    assert {k.split("conv_block.")[1] for k in keys if "conv_block" in k} == {"1.weight", "1.bias", "5.weight", "5.bias"}
    assert keys == set(reference_generator().state_dict())
    assert not any("running" in k for k in keys)  # instance norm without affine or statistics


def test_init_weights_normal_002():
    net = seeded(ResnetGenerator(ngf=16, n_blocks=2))
    weight = net.model[1].weight
    assert abs(weight.std().item() - 0.02) < 0.003 and abs(weight.mean().item()) < 0.003
    assert torch.count_nonzero(net.model[1].bias) == 0


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_inference_keeps_odd_sizes_and_modes(mode):
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (517, 333, 3), dtype=np.uint8)).convert(mode)
    out = translate(generator, image)
    assert out.size == (333, 517) and out.mode == "RGB"


def test_inference_matches_unpadded_network_on_multiple_of_four():
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2))
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 64, 3), dtype=np.uint8))
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        expected = ((generator(x) + 1) / 2 * 255).round().clamp(0, 255).byte()[0].permute(1, 2, 0).numpy()
    assert np.abs(np.asarray(translate(generator, image)).astype(int) - expected).max() <= 1


def test_prepared_bf16_generator_is_close_to_fp32():
    generator = seeded(ResnetGenerator(ngf=16, n_blocks=3))
    image = Image.fromarray(np.random.default_rng(4).integers(0, 255, (72, 90, 3), dtype=np.uint8))
    fast = prepare_generator(generator, "cpu", "bf16")
    assert next(fast.parameters()).dtype == torch.bfloat16 and next(generator.parameters()).dtype == torch.float32
    difference = np.abs(np.asarray(translate(fast, image)).astype(int) - np.asarray(translate(generator, image)).astype(int))
    assert difference.mean() < 2.0  # grey levels out of 255
    exact = prepare_generator(generator, "cpu", "fp32")
    assert np.array_equal(np.asarray(translate(exact, image)), np.asarray(translate(generator, image)))


def test_instance_norm_as_group_norm_is_exact():
    x = torch.randn(2, 8, 9, 7)
    assert torch.allclose(instance_norm(8)(x), torch.nn.InstanceNorm2d(8)(x), atol=1e-5)
    assert torch.allclose(instance_norm(8)(x.contiguous(memory_format=torch.channels_last)), torch.nn.InstanceNorm2d(8)(x), atol=1e-5)


def test_inference_downscales_and_rejects_tiny_images():
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2))
    assert translate(generator, Image.new("RGB", (300, 150)), max_side=100).size == (100, 50)
    with pytest.raises(ImageError, match="too small"):
        translate(generator, Image.new("RGB", (10, 40)))




def test_cycle_l1_is_the_mean_absolute_difference():
    from nst.cyclegan.translate import cycle_l1

    image = Image.fromarray(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8))
    other = Image.fromarray(np.array([[[51, 0, 0], [255, 255, 0]]], np.uint8))
    assert cycle_l1(image, other) == pytest.approx((0.2 + 1.0) / 6, abs=1e-7) and cycle_l1(image, image) == 0
    with pytest.raises(ValueError, match="reconstruction is"):
        cycle_l1(image, other.resize((1, 1)))
