"""Where the style goes: masks into regions (nst.regions), guided Gram matrices in the Gatys
engine, regions in the feed-forward picture, the CLI's and the app's handling of them. The
pictures on the real network are in test_real_pictures.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import synthetic_image
from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import GatysConfig
from nst.gatys.engine import run_gatys
from nst.gatys.losses import gram_matrix, paper_style_scale, style_loss, style_target_gram
from nst.regions import MaskNote, RegionError, read_regions

RED, BLUE, BLACK = (255, 0, 0), (0, 0, 255), (0, 0, 0)


def two_halves(width: int = 48, height: int = 36, left=RED, right=BLUE) -> Image.Image:
    mask = np.zeros((height, width, 3), np.uint8)
    mask[:, : width // 2], mask[:, width // 2 :] = left, right
    return Image.fromarray(mask)


def test_colours_become_regions_in_reading_order_and_edges_go_to_the_nearest():
    mask = np.asarray(two_halves(), dtype=np.uint8).copy()
    mask[:6, 23] = (200, 0, 40)  # a soft brush's edge: nearer red than blue
    regions = read_regions(Image.fromarray(mask), (36, 48), 2)
    assert regions.colours == ("#ff0000", "#0000ff") and regions.keep is None and regions.note is None
    assert torch.equal(regions.masks.sum(0), torch.ones(36, 48))
    assert regions.masks[0, :, :24].min() == 1 and regions.masks[0, :, 24:].max() == 0
    flipped = read_regions(Image.fromarray(mask), (36, 48), 2, region_colors=("blue", "#f00"))
    assert flipped.colours == ("#0000ff", "#ff0000") and torch.equal(flipped.masks[0], regions.masks[1])
    kept = read_regions(Image.fromarray(mask), (36, 48), 1, keep_color="blue")
    assert kept.colours == ("#ff0000", "#0000ff") and kept.keep == 1 and kept.styled == [0]
    soft = kept.at((9, 7))  # area-averaged: a coarse level straddling the border is soft there
    assert tuple(soft.shape) == (2, 9, 7) and 0 < soft[0, 0, 3].item() < 1 and soft[0, 0, 0] == 1


def test_transparent_parts_are_unpainted_black(tmp_path):
    rgba = np.zeros((36, 48, 4), np.uint8)
    rgba[:, :24] = (255, 0, 0, 153)  # painted at 60 % opacity; the rest transparent
    Image.fromarray(rgba).save(tmp_path / "painted.png")
    regions = read_regions(tmp_path / "painted.png", (36, 48), 1, keep_color="black")
    assert regions.colours == ("#ff0000", "#000000") and regions.masks[1, :, 24:].min() == 1


@pytest.mark.parametrize("call,message", [
    (lambda m: read_regions(m, (36, 48), 1), "the mask has 2 styled regions (#ff0000, #0000ff) but 1 style image was given"),
    (lambda m: read_regions(m, (36, 48), 3), "the mask has 2 styled regions (#ff0000, #0000ff) but 3 style images were given"),
    (lambda m: read_regions(m, (36, 48), 1, region_colors=("red",)), "the mask colour #0000ff has no style"),
    (lambda m: read_regions(m, (36, 48), 2, region_colors=("red", "green")), "the region colour #008000 is not in the mask (an empty region)"),
    (lambda m: read_regions(m, (36, 48), 1, keep_color="white"), "the region colour #ffffff is not in the mask"),
    (lambda m: read_regions(m, (36, 48), 1, region_colors=("red",), keep_color="red"), "the colour #ff0000 is given twice"),
    (lambda m: read_regions(m, (36, 48), 2, region_colors=("red", "red")), "the colour #ff0000 is given twice"),
])  # fmt: skip
def test_each_bad_mask_gets_its_sentence(call, message):
    with pytest.raises(RegionError) as error:
        call(two_halves())
    assert message in str(error.value)


def test_a_mask_that_is_not_an_image_and_one_of_another_size(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(RegionError, match="the mask cannot be used: notes.png is not a readable image"):
        read_regions(tmp_path / "notes.png", (36, 48), 1)
    regions = read_regions(two_halves(96, 72), (36, 48), 2)  # resized, and said once
    assert regions.note == "the mask (96x72 px) was resized to the output (48x36 px)"
    stretched = read_regions(two_halves(96, 48), (36, 48), 2)
    assert stretched.note.endswith("its shape is not the content's, so its regions are stretched to fit")
    assert regions.masks.shape == (2, 36, 48)


def test_a_masked_gram_matrix_sees_the_masked_positions_only():
    # Gatys et al. 2017, eq. 5-6: G_r = (F m)(F m)^T; with a 0/1 mask it is the Gram matrix of
    # the covered positions, and M_r = sum m^2 counts them.
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(1, 8, 6, 5, generator=generator)
    left = torch.cat([torch.ones(1, 1, 6, 1), torch.zeros(1, 1, 6, 4)], 3)
    assert torch.allclose(gram_matrix(features * left), gram_matrix(features[..., :1]))
    style = gram_matrix(torch.rand(1, 8, 7, 4, generator=generator))
    target = style_target_gram(style, 28, float((left * left).sum()))
    assert torch.allclose(target, style * 6 / 28)
    scale = {"a": paper_style_scale(8, 6.0)}
    assert style_loss({"a": gram_matrix(features * left)}, {"a": target}, scale, {"a": 1.0}).item() == pytest.approx(
        ((gram_matrix(features[..., :1]) - target) ** 2).sum().item() / (4 * 8**2 * 6**2))


def small(**changes) -> GatysConfig:
    return GatysConfig(**{"size": 48, "steps": 4, "levels": 2, "vgg_weights": "random", "device": "cpu", "precision": "fp32",
                          "style_layers": ("relu1_1", "relu2_1"), "content_layers": ("relu2_1",), **changes})  # fmt: skip


def test_no_mask_and_a_one_colour_mask_give_bit_identical_losses(tmp_path, content_image, style_image):
    Image.new("RGB", (48, 36), "white").save(tmp_path / "everywhere.png")
    plain = list(run_gatys(small(), content_image, style_image))
    masked = list(run_gatys(small(mask=str(tmp_path / "everywhere.png")), content_image, style_image))
    assert [r.total for r in plain] == [r.total for r in masked] and [r.weighted for r in plain] == [r.weighted for r in masked]


def test_two_regions_each_have_a_style_term(tmp_path, content_image, style_image):
    two_halves().save(tmp_path / "halves.png")
    other = synthetic_image(40, 30, seed=7)
    records = list(run_gatys(small(mask=str(tmp_path / "halves.png")), content_image, [style_image, other]))
    last = records[-1]
    assert set(last.weighted) == {"content", "style 1", "style 2"}
    assert last.total == pytest.approx(sum(last.weighted.values()), rel=1e-6)
    assert last.style == pytest.approx((last.weighted["style 1"] + last.weighted["style 2"]) / small().beta, rel=1e-6)
    assert records[-1].total < records[0].total


def test_a_resized_mask_is_said_once_and_options_are_checked(tmp_path, content_image, style_image):
    two_halves(96, 72).save(tmp_path / "big.png")
    with pytest.warns(MaskNote, match=r"the mask \(96x72 px\) was resized to the output"):
        list(run_gatys(small(mask=str(tmp_path / "big.png"), keep_color="blue", steps=1), content_image, style_image))
    with pytest.raises(ValueError, match="region_colors and keep_color need a mask"):
        small(keep_color="black")
    with pytest.raises(ValueError, match="with a mask each region has its own style image"):
        small(mask="m.png", style_blend_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="'nocolour' is not a colour"):
        small(mask="m.png", region_colors="red,nocolour")


def test_a_region_too_small_for_the_deepest_layer_is_refused(tmp_path, content_image, style_image):
    mask = np.zeros((36, 48, 3), np.uint8)
    mask[:3, :4] = (255, 0, 0)  # 12 pixels: a region, but 3/4 of a position of relu2_1 at the coarse level ...
    mask[:, 10:12] = (0, 255, 0)  # ... and a stripe that stays
    Image.fromarray(mask).save(tmp_path / "dot.png")
    with pytest.raises(RegionError, match="the region #ff0000 of the mask is too small: .* at 24x18 px; .* fewer coarse-to-fine levels"):
        list(run_gatys(small(mask=str(tmp_path / "dot.png"), keep_color="black", region_colors="red,lime"),
                       content_image, [style_image, style_image]))  # fmt: skip


def test_the_feed_forward_picture_paints_each_region_in_its_style(tmp_path, content_image, style_image):
    two_halves(96, 72, RED, BLACK).save(tmp_path / "left.png")
    config = FastConfig(size=96, mask=str(tmp_path / "left.png"), keep_color="black")
    painted = np.asarray(fast_stylize(content_image, [style_image], config), dtype=float)
    alone = np.asarray(fast_stylize(content_image, style_image, FastConfig(size=96)), dtype=float)
    photo = np.asarray(content_image.resize((96, 72), Image.Resampling.BICUBIC), dtype=float)
    assert np.abs(painted[:, :40] - alone[:, :40]).mean() < 1.0  # the left: the style (away from the blended border)
    assert np.abs(painted[:, 56:] - photo[:, 56:]).mean() < 3.0  # the right: the photo
    assert np.abs(alone[:, 56:] - photo[:, 56:]).mean() > 10  # which the style alone would have repainted
    with pytest.raises(ValueError, match="2 style images need a mask"):
        fast_stylize(content_image, [style_image, style_image], FastConfig(size=96))


def test_cli_errors_name_the_flags(tmp_path, image_files, capsys):
    from nst.cli import main

    content, style = image_files
    two_halves().save(tmp_path / "halves.png")
    common = ["--content", str(content), "--out", str(tmp_path / "o.png"), "--size", "48", "--steps", "1",
              "--vgg-weights", "random", "--mask", str(tmp_path / "halves.png")]  # fmt: skip
    assert main(["gatys", *common, "--style", str(style), "--region-colors", "red"]) == 2
    assert "error: the mask colour #0000ff has no style: give one style image per colour, or name the colour that keeps " \
           "the photo (--keep-color)" in capsys.readouterr().err
    assert main(["gatys", *common, "--style", str(style), "--keep-color", "blue"]) == 0
    assert main(["fast", *common[:6], "--mask", str(tmp_path / "halves.png"), "--style", str(style), "--style", str(style)]) == 0


@pytest.mark.parametrize("changes", [dict(preserve_color="histogram"), dict(preserve_color="luminance"), dict(init="fast", levels=1)])
def test_regions_work_with_the_other_options(tmp_path, content_image, style_image, changes):
    two_halves(48, 36, RED, BLACK).save(tmp_path / "left.png")
    records = list(run_gatys(small(mask=str(tmp_path / "left.png"), keep_color="black", **changes), content_image, style_image))
    assert records[-1].image.size == (48, 36) and set(records[-1].weighted) == {"content", "style"}


def test_a_sweep_runs_with_a_mask(tmp_path, content_image, style_image):
    from nst.gatys.sweep import Axis, SweepConfig, run_sweep

    two_halves(48, 36, RED, BLACK).save(tmp_path / "left.png")
    sweep = SweepConfig(Axis("log10_ratio", (-2, -4)), None, small(mask=str(tmp_path / "left.png"), keep_color="black"))
    cells = list(run_sweep(sweep, content_image, style_image))
    assert len(cells) == 2 and all(cell.image.size == (48, 36) for cell in cells)
