"""Print sizes: features over tiles (nst.gatys.tiles) give the whole picture's losses and
gradients; the multi-scale plan and the memory bounds that go with it."""

import math

import pytest
import torch

from nst.gatys.config import GatysConfig, preset
from nst.gatys.engine import Targets, compute_targets, content_targets, evaluate, lbfgs_history, level_plan, run_gatys
from nst.gatys.memory import TooLarge, estimate_bytes, largest_size
from nst.gatys.tiles import halo, plan_tiles, stride
from nst.gatys.vgg import VGGFeatures, load_vgg19
from nst.regions import read_regions
from test_regions import two_halves


def test_strides_and_halos_follow_vgg19():
    assert [stride(layer) for layer in ("conv1_1", "relu2_1", "pool2", "relu4_1", "conv5_1")] == [1, 2, 4, 8, 16]
    # receptive-field radius: relu3_1 13 px (halo 16 on its 4 px grid), relu4_1 37 px (40 on its 8 px grid)
    assert halo(("relu1_1", "relu3_1")) == 16
    assert halo(("relu4_1",)) == 40


def test_tiles_own_every_pixel_once_on_the_pooling_grid():
    layers = ("relu1_1", "relu3_1")
    tiles = plan_tiles(300, 517, 128, layers)
    owned = torch.zeros(300, 517, dtype=torch.int64)
    for tile in tiles:
        owned[tile.top : tile.bottom, tile.left : tile.right] += 1
        assert tile.top % 4 == 0 and tile.left % 4 == 0
        assert tile.bottom - tile.top <= 128 + 4 and tile.right - tile.left <= 128 + 4
        assert tile.read_top == max(0, tile.top - 16) and tile.read_right == min(517, tile.right + 16)
    assert bool((owned == 1).all())
    assert len(tiles) == 3 * 5
    assert plan_tiles(300, 517, 0, layers) == plan_tiles(300, 517, 517, layers)  # one tile: the whole picture
    assert len(plan_tiles(300, 517, 517, layers)) == 1


def tiny(**changes) -> GatysConfig:
    base = dict(size=100, steps=3, vgg_weights="random", content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1", "relu3_1"),
                device="cpu", precision="fp32", tv_weight=0.1, pooling="avg")  # fmt: skip
    return GatysConfig(**{**base, **changes})


def problem(config: GatysConfig, regions=None):
    generator = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 76, 100, generator=generator), torch.rand(1, 3, 90, 70, generator=generator)
    vgg = VGGFeatures(load_vgg19("random"), config.content_layers + config.style_layers, config.pooling)
    image = (0.7 * content + 0.3 * torch.rand(content.shape, generator=generator)).requires_grad_(True)
    targets = compute_targets(config, vgg, content, [style], [1.0], regions)
    targets.content = content_targets(config, vgg, content)
    return vgg, targets, image, content


@pytest.mark.parametrize("statistic", ["gram", "mean-cov"])
@pytest.mark.parametrize("with_regions", [False, True])
def test_tiled_losses_and_gradients_equal_the_whole_pictures(with_regions, statistic):
    # 100x76 px in tiles of 64 px (2 x 2, each read with a 16 px halo) against one pass.
    regions = read_regions(two_halves(100, 76, right=(0, 0, 0)), (76, 100), 1, keep_color="black") if with_regions else None
    whole_config, tiled_config = tiny(tile_size=0, style_statistic=statistic), tiny(tile_size=64, style_statistic=statistic)
    assert len(plan_tiles(76, 100, 64, whole_config.content_layers + whole_config.style_layers)) == 4
    vgg, targets, image, _ = problem(whole_config, regions)
    _, tiled_targets, _, _ = problem(tiled_config, regions)
    for layer, p in targets.content.items():
        assert torch.allclose(tiled_targets.content[layer], p, rtol=1e-4, atol=1e-5)
    for name, term in targets.styles.items():
        for layer, gram in term.grams.items():
            assert torch.allclose(tiled_targets.styles[name].grams[layer], gram, rtol=1e-4)
    whole, gradient = evaluate(whole_config, vgg, image, targets, 2.0, backward=True)
    assert image.grad is None  # not until asked for
    gradient()
    whole_grad, image.grad = image.grad.clone(), None
    tiled, gradient = evaluate(tiled_config, vgg, image, tiled_targets, 2.0, backward=True)
    gradient()
    for name in whole.weighted:
        assert tiled.weighted[name].item() == pytest.approx(whole.weighted[name].item(), rel=1e-4)
    assert tiled.total.item() == pytest.approx(whole.total.item(), rel=1e-4)
    assert whole_grad.abs().max() > 0
    assert torch.allclose(image.grad, whole_grad, rtol=1e-3, atol=1e-4 * float(whole_grad.abs().max()))


@pytest.mark.parametrize("tile_size", [0, 64])
def test_an_evaluation_of_the_content_itself_reads_its_content_targets(tile_size):
    # A run that starts from the content image takes P^l from step 0's forward pass instead of a
    # pass of its own: the same features, whole or tile by tile, and a content loss of exactly 0.
    config = tiny(tile_size=tile_size)
    vgg, targets, _, content = problem(config)
    pending = Targets(None, targets.styles)
    start = content.clone().requires_grad_(True)
    losses, gradient = evaluate(config, vgg, start, pending, 1.0, backward=True)
    assert pending.content.keys() == targets.content.keys() == {"relu2_1"}
    for layer, p in targets.content.items():
        assert not pending.content[layer].requires_grad
        assert torch.allclose(pending.content[layer], p, rtol=1e-5, atol=1e-6)
    assert losses.content.item() == 0.0 and losses.style.item() > 0
    gradient()
    assert start.grad is not None and start.grad.abs().max() > 0


def test_a_tiled_run_follows_the_whole_run(content_image, style_image):
    whole = list(run_gatys(tiny(size=96, steps=4, tile_size=0), content_image, style_image))
    tiled = list(run_gatys(tiny(size=96, steps=4, tile_size=64), content_image, style_image))
    assert [r.total for r in tiled] == pytest.approx([r.total for r in whole], rel=1e-3)


def test_the_print_plan_grows_in_sqrt2_steps_with_most_steps_small():
    config = preset("print")  # 2048 px, from about 256 px
    plan = level_plan(config, (1024, 768))
    sides = [max(size) for size, _ in plan]
    assert sides == [256, 362, 512, 724, 1024, 1448, 2048]
    steps = [steps for _, steps in plan]
    assert sum(steps) == config.steps == 180
    assert steps == [74, 44, 26, 15, 9, 5, 7]  # the remainder goes to the finest
    assert steps[:-1] == [int(180 * 0.6**k / sum(0.6**j for j in range(7))) for k in range(6)]
    assert preset("print", size=4096).level_count() == 9
    assert preset("print", size=300).level_count() == 1
    assert level_plan(GatysConfig(size=256, levels=2, steps=101, coarse_steps=0), (48, 36)) == [((96, 128), 50), ((192, 256), 51)]


def test_lbfgs_keeps_fewer_pairs_of_large_pictures():
    assert lbfgs_history(3 * 512 * 384) == 100
    assert lbfgs_history(3 * 2048 * 1536) == 512 * 2**20 // (8 * 3 * 2048 * 1536) == 7
    assert lbfgs_history(3 * 4096 * 3072) == 5


def test_bad_print_options_are_refused():
    with pytest.raises(ValueError, match="tile_size must be 0"):
        GatysConfig(tile_size=10)
    with pytest.raises(ValueError, match="level_ratio must be more than 1"):
        GatysConfig(level_ratio=1)
    with pytest.raises(ValueError, match="too small for 4 levels"):
        GatysConfig(size=64, levels=4, level_ratio=2)
    assert math.isclose(preset("print").level_ratio, 2**0.5, rel_tol=1e-3)


def test_a_size_that_does_not_fit_is_refused_naming_the_largest_that_does(monkeypatch, content_image, style_image):
    from nst.gatys import engine

    fits = estimate_bytes(GatysConfig(size=1024), (48, 36))
    assert estimate_bytes(GatysConfig(size=960), (48, 36)) < fits < estimate_bytes(GatysConfig(size=1088), (48, 36))
    monkeypatch.setattr(engine, "available_bytes", lambda device: fits)
    with pytest.raises(TooLarge, match=r"^size 4096 needs about \d+\.\d GB of memory and \d+\.\d GB is free; size 1024 or smaller fits$"):
        next(run_gatys(GatysConfig(size=4096, vgg_weights="random"), content_image, style_image))
    assert next(run_gatys(GatysConfig(size=1024, vgg_weights="random", steps=0), content_image, style_image)).size == (768, 1024)


def test_the_estimate_counts_tiles_and_lbfgs_pairs():
    whole, tiled = GatysConfig(size=2048, tile_size=0), GatysConfig(size=2048)
    assert estimate_bytes(tiled, (1024, 768)) < estimate_bytes(whole, (1024, 768)) / 2  # 2.8 against 6.5 GB (6.3 measured)
    assert estimate_bytes(GatysConfig(size=2048, steps=2), (1024, 768)) < estimate_bytes(tiled, (1024, 768))  # fewer pairs
    available = estimate_bytes(GatysConfig(size=2048), (1024, 768))
    largest = largest_size(GatysConfig(), (1024, 768), available)
    assert largest >= 2048 and estimate_bytes(GatysConfig(size=largest), (1024, 768)) <= available
