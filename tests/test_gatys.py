"""The Gatys engine: reported losses, streaming, optimisers, init modes, colour, determinism.

All runs use random VGG19 weights on tiny images: they test the machinery, not the artistic
quality of the output (which needs the pretrained network).
"""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from nst import color
from nst.gatys import engine as gatys
from conftest import synthetic_image
from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import GatysConfig, preset
from nst.gatys.engine import PYRAMID_OCTAVES, image_parameters, initial_image, level_plan, run_gatys, stylize
from nst.gatys.losses import content_loss, gram_matrix, paper_style_scale, style_layer_loss, tv_loss
from nst.gatys.vgg import VGGFeatures, load_vgg19
from nst.images import image_to_tensor


def small_config(**changes) -> GatysConfig:
    """The classic recipe (max pooling, no scheduler, one level) on a tiny problem."""
    base = dict(size=32, steps=6, vgg_weights="random", content_layers=("relu2_1",),
                style_layers=("relu1_1", "relu2_1"), device="cpu", precision="fp32")  # fmt: skip
    return preset("classic", **{**base, **changes})


@pytest.mark.parametrize("units", ["paper", "relative"])
def test_step_zero_reports_the_papers_losses_exactly(content_image, style_image, units):
    config = small_config(alpha=3.0, beta=50.0, tv_weight=0.5, steps=0, size=24, loss_units=units, init="noisy-content")
    record = next(run_gatys(config, content_image, style_image))
    size = record.size  # content 48x36 -> 24x18 (H, W) = (18, 24)
    assert size == (18, 24)
    p = image_to_tensor(content_image, size)
    x = initial_image(config, p, p)  # seeded: the same noise as the run's
    style = image_to_tensor(style_image, (24, 18))  # style 30x40 scaled to long side 24
    model = VGGFeatures(load_vgg19("random"), ("relu2_1", "relu1_1"), "max")
    fx, fp, fs = model(x), model(p), model(style)
    paper = units == "paper"
    expected_content = content_loss(fx["relu2_1"], fp["relu2_1"], 2.0 if paper else fp["relu2_1"].pow(2).sum()).item()
    expected_style = 0.0
    for layer in ("relu1_1", "relu2_1"):
        n, m = fx[layer].shape[1], fx[layer].shape[2] * fx[layer].shape[3]
        a = gram_matrix(fs[layer]) * m / (fs[layer].shape[2] * fs[layer].shape[3])
        scale = paper_style_scale(n, m) if paper else a.pow(2).sum()
        expected_style += 0.5 * style_layer_loss(gram_matrix(fx[layer]), a, scale).item()
    expected_tv = tv_loss(x, mean=not paper).item()
    assert expected_content > 0
    assert record.content == pytest.approx(expected_content, rel=1e-4)
    assert record.style == pytest.approx(expected_style, rel=1e-4)
    assert record.tv == pytest.approx(expected_tv, rel=1e-5)
    assert record.total == pytest.approx(3.0 * expected_content + 50.0 * expected_style + 0.5 * expected_tv, rel=1e-4)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_optimisers_lower_the_loss(content_image, style_image, optimizer):
    config = small_config(optimizer=optimizer, steps=15, init="noise", beta=1e6)
    records = list(run_gatys(config, content_image, style_image))
    assert records[-1].total < 0.5 * records[0].total


@pytest.mark.parametrize(("units", "beta"), [("paper", 1e4), ("relative", 10.0)])
def test_the_mean_and_covariance_loss_is_optimised_too(content_image, style_image, units, beta):
    # in paper units W2 is per position and L_content a sum over positions: a style weight to match
    config = small_config(style_statistic="mean-cov", loss_units=units, beta=beta, steps=15)
    records = list(run_gatys(config, content_image, style_image))
    assert records[0].content == 0 and records[0].style > 0
    assert records[-1].style < 0.5 * records[0].style and records[-1].total < records[0].total


def test_streams_every_step_with_images_on_request(content_image, style_image):
    records = list(run_gatys(small_config(steps=7), content_image, style_image, image_every=3))
    assert [r.step for r in records] == list(range(8))
    with_image = [r.step for r in records if r.image is not None]
    assert with_image == [0, 3, 6, 7]  # every 3 steps and always the last
    assert records[-1].image.size == (32, 24)
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(records))
    assert set(records[0].losses()) == {"step", "content", "style", "tv", "total", "weighted", "elapsed_s"}


def test_early_stop_leaves_a_valid_image(content_image, style_image):
    run = run_gatys(small_config(steps=50), content_image, style_image, image_every=2)
    last = None
    for record in run:
        if record.image is not None:
            last = record.image
        if record.step == 5:
            break
    run.close()
    assert last is not None and last.size == (32, 24) and last.mode == "RGB"


def test_same_seed_same_result(content_image, style_image):
    config = small_config(init="noisy-content", steps=4)
    a = [r.total for r in run_gatys(config, content_image, style_image)]
    b = [r.total for r in run_gatys(config, content_image, style_image)]
    c = [r.total for r in run_gatys(config.replace(seed=1), content_image, style_image)]
    assert a == b and a != c


def test_init_modes(content_image, style_image):
    content = image_to_tensor(content_image, (24, 32))
    style = image_to_tensor(style_image, (40, 30))
    config = small_config()
    assert torch.equal(initial_image(config.replace(init="content"), content, style), content)
    noise = initial_image(config.replace(init="noise"), content, style)
    assert noise.shape == content.shape and 0 <= noise.min() and noise.max() <= 1
    assert abs(noise.mean().item() - 0.5) < 0.05
    mixed = initial_image(config.replace(init="noisy-content", noise_ratio=0.25), content, style)
    assert torch.allclose(mixed, 0.25 * noise + 0.75 * content)
    from_style = initial_image(config.replace(init="style"), content, style)
    assert from_style.shape == content.shape
    for init in ("content", "noise", "noisy-content", "style", "fast"):
        records = list(run_gatys(small_config(init=init, steps=2), content_image, style_image))
        assert len(records) == 3


@pytest.mark.parametrize("levels,first_size", [(1, 32), (2, 16)])
def test_fast_init_starts_from_the_feed_forward_picture(content_image, style_image, levels, first_size):
    """Step 0 is nst.feedforward.magenta's picture at the (coarsest) level's size, to the grey level: the 8-bit
    picture becomes the start tensor and step 0's image unchanged (measured: 0 grey levels apart)."""
    records = list(run_gatys(small_config(init="fast", levels=levels, steps=4), content_image, style_image, image_every=1))
    expected = fast_stylize(content_image, style_image, FastConfig(size=first_size))
    assert records[0].image.size == expected.size == (first_size, first_size * 3 // 4)
    assert np.array_equal(np.asarray(records[0].image), np.asarray(expected))
    assert records[-1].total < records[0].total  # and Gatys goes on from there


@pytest.mark.parametrize("mode", ["luminance", "histogram"])
def test_fast_init_prepares_colours_as_the_level_does(content_image, style_image, mode):
    """Luminance-only transfer optimises a grey picture, so the feed-forward start is grey too;
    histogram matching gives the style the content's colours first, in the start too."""
    content = image_to_tensor(content_image, (24, 32))
    warm = Image.fromarray((np.asarray(style_image) * np.array([1.0, 0.4, 0.2])).astype(np.uint8))  # far from the content's
    grey = color.luminance(content) if mode == "luminance" else content
    start = initial_image(small_config(init="fast", preserve_color=mode), grey, image_to_tensor(warm), warm)
    assert start.shape == content.shape
    if mode == "luminance":
        assert float((start - start.mean(1, keepdim=True)).abs().max()) < 0.01  # R = G = B up to 8-bit rounding
    else:
        plain = initial_image(small_config(init="fast"), content, image_to_tensor(warm), warm)
        distance = {name: float((x.mean((2, 3)) - content.mean((2, 3))).norm()) for name, x in (("matched", start), ("plain", plain))}
        assert distance["matched"] < 0.5 * distance["plain"], distance  # measured 0.08 against 0.43


def test_images_of_different_shapes(shared_images):
    """A landscape content with a portrait style (and the reverse) at a non-square size."""
    image, _ = stylize(small_config(size=40, steps=2), shared_images / "tubingen.jpg", shared_images / "the_scream.jpg")
    assert image.size[0] == 40 and image.size[1] < 40
    image, _ = stylize(small_config(size=40, steps=2), shared_images / "the_scream.jpg", shared_images / "tubingen.jpg")
    assert image.size[1] == 40 and image.size[0] < 40


def test_several_styles_blend(content_image, style_image):
    other = style_image.rotate(90, expand=True)
    config = small_config(steps=0)
    only_first = next(run_gatys(config.replace(style_blend_weights=(1, 0)), content_image, [style_image, other]))
    single = next(run_gatys(config, content_image, style_image))
    blended = next(run_gatys(config, content_image, [style_image, other]))
    assert only_first.style == pytest.approx(single.style, rel=1e-5)
    assert blended.style != pytest.approx(single.style, rel=1e-3)
    with pytest.raises(ValueError, match="2 style blend weights for 1 style images"):
        next(run_gatys(config.replace(style_blend_weights=(1, 1)), content_image, style_image))


def test_luminance_mode_keeps_content_chroma(content_image, style_image):
    image, _ = stylize(small_config(preserve_color="luminance", steps=5, init="noise"), content_image, style_image)
    out = color.rgb_to_yiq(image_to_tensor(image))
    content = color.rgb_to_yiq(image_to_tensor(content_image, (24, 32)))
    # I and Q equal the content's up to uint8 rounding, except where clamping to [0, 1] bit
    assert (out[:, 1:] - content[:, 1:]).abs().median() < 0.004
    assert (out[:, 0] - content[:, 0]).abs().mean() > 0.01  # the luminance did change


def test_histogram_matching_moves_colour_statistics():
    torch.manual_seed(0)
    source = torch.rand(1, 3, 20, 30) * torch.tensor([1.0, 0.3, 0.6]).view(1, 3, 1, 1)
    target = torch.rand(1, 3, 16, 16).pow(2)
    out = color.match_color_statistics(source, target)
    flat_out, flat_tgt = out.flatten(2)[0].double(), target.flatten(2)[0].double()
    assert torch.allclose(flat_out.mean(1), flat_tgt.mean(1), atol=1e-5)
    assert torch.allclose(torch.cov(flat_out), torch.cov(flat_tgt), atol=1e-5)


def test_histogram_mode_runs(content_image, style_image):
    image, records = stylize(small_config(preserve_color="histogram", steps=2), content_image, style_image)
    assert image.size == (32, 24) and len(records) == 3


def test_yiq_round_trip():
    x = torch.rand(1, 3, 5, 7)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(x)), x, atol=1e-5)


def test_schedulers_change_the_learning_rate(content_image, style_image):
    config = small_config(optimizer="adam", lr=0.1, scheduler="step", scheduler_step_size=2, steps=5)
    lrs = [r.lr for r in run_gatys(config, content_image, style_image)]
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    # alpha = beta = 0: a loss that never improves, so the plateau scheduler decays every step
    plateau = small_config(optimizer="adam", lr=0.1, scheduler="plateau", scheduler_patience=0, steps=3,
                           alpha=0.0, beta=0.0)  # fmt: skip
    lrs = [r.lr for r in run_gatys(plateau, content_image, style_image)]
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_multiscale_goes_coarse_to_fine(content_image, style_image):
    config = small_config(size=64, levels=2, steps=5)
    assert level_plan(config, content_image.size) == [((24, 32), 2), ((48, 64), 3)]
    records = list(run_gatys(config, content_image, style_image))
    assert [r.step for r in records] == list(range(6))
    assert [r.size for r in records] == [(24, 32)] * 2 + [(48, 64)] * 4
    assert records[-1].image.size == (64, 48)


@pytest.mark.parametrize(("units", "pixel_weight"), [("paper", 4), ("relative", 1)])
def test_coarse_levels_weight_per_pixel_sums_by_the_pixel_ratio(content_image, style_image, units, pixel_weight):
    # In paper units a coarse level's total weights L_content and L_tv by (finest pixels / its
    # pixels), here 4, since they sum over pixels while E_l is normalised: it keeps the finest
    # level's balance. Relative units are the same at every size: no weight.
    config = small_config(size=64, levels=2, steps=2, tv_weight=0.5, loss_units=units)
    coarse = next(run_gatys(config, content_image, style_image))
    assert coarse.size == (24, 32)
    expected = pixel_weight * (config.alpha * coarse.content + config.tv_weight * coarse.tv) + config.beta * coarse.style
    assert coarse.total == pytest.approx(expected, rel=1e-6)
    # the engine reports each term as it enters the total, pixel weight included, once
    assert coarse.weighted == pytest.approx({"content": pixel_weight * config.alpha * coarse.content,
                                             "style": config.beta * coarse.style,
                                             "tv": pixel_weight * config.tv_weight * coarse.tv}, rel=1e-6)  # fmt: skip
    assert sum(coarse.weighted.values()) == pytest.approx(coarse.total, rel=1e-6)


def test_the_loss_plot_draws_the_engines_terms_which_sum_to_its_total(content_image, style_image):
    """ui.loss_plot reads the weighted terms, never re-weights: on both levels they add up to the
    total it draws (the plot once missed the coarse level's pixel weight: 23.16 against 35.59)."""
    from ui.loss_plot import LossHistory, loss_svg

    history = LossHistory()
    for record in run_gatys(small_config(size=64, levels=2, steps=4, tv_weight=0.5), content_image, style_image):
        history.add(record)
    assert set(history.terms) == {"α·content", "β·style", "TV", "total"}
    for k, total in enumerate(history.terms["total"]):
        assert sum(series[k] for label, series in history.terms.items() if label != "total") == pytest.approx(total, rel=1e-6)
    assert history.level_starts == [(2, (48, 64))] and ">TV<" in loss_svg(history)


def test_finest_level_inherits_the_coarse_change_not_a_blurred_content(content_image, style_image):
    # steps=1 over 2 levels leaves the coarse level no update, so its change is zero and the
    # finest level must start exactly at the content (content loss 0); a plain upsampling of
    # the coarse image would start from a blurred content instead.
    config = small_config(size=64, levels=2, steps=1)
    records = list(run_gatys(config, content_image, style_image))
    assert [r.size for r in records] == [(48, 64)] * 2
    assert records[0].content == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("init", ["content", "noise"])
def test_a_run_from_the_content_reads_its_content_targets_from_step_zero(content_image, style_image, monkeypatch, init):
    # From the content image, step 0's pass through VGG19 is the content's own: P^l is read from
    # it, one pass fewer before the first frame. From another start P^l takes a pass of its own.
    # Either way P^l is the content's features, and a run given them beforehand runs the same.
    passes = []
    forward = VGGFeatures.forward
    monkeypatch.setattr(VGGFeatures, "forward", lambda self, image: passes.append(1) or forward(self, image))
    config, cache = small_config(size=32, steps=3, init=init), {}
    first = list(run_gatys(config, content_image, style_image, targets_cache=cache))
    evaluations = config.steps + 1  # one a step, and the final record's
    assert len(passes) == 1 + evaluations + (init != "content")  # the style image's, then the steps'
    ((content_t, _, targets),) = cache.values()
    vgg = VGGFeatures(load_vgg19("random"), config.content_layers + config.style_layers, config.pooling)
    expected = gatys.content_targets(config, vgg, content_t)
    assert targets.content.keys() == expected.keys() == {"relu2_1"}
    assert torch.allclose(targets.content["relu2_1"], expected["relu2_1"], rtol=1e-5, atol=1e-6)
    passes.clear()
    again = list(run_gatys(config, content_image, style_image, targets_cache=cache))
    assert len(passes) == evaluations
    assert [r.total for r in again] == pytest.approx([r.total for r in first], rel=1e-5)


def test_pixels_on_the_edge_of_the_range_still_get_a_gradient():
    # Projected pixels sit at exactly 0 or 1; clamping inside the loss gave them no gradient
    # (torch's clamp passes none at its bounds), which froze them there.
    from nst.gatys.engine import evaluate, StyleTarget, Targets

    config = small_config(tv_weight=0.5)
    model = VGGFeatures(load_vgg19("random"), config.content_layers + config.style_layers, "max")
    generator = torch.Generator().manual_seed(0)
    target_image = torch.rand(1, 3, 16, 16, generator=generator)
    features = model(target_image)
    positions = {layer: features[layer].shape[2] * features[layer].shape[3] for layer in config.style_layers}
    grams = {layer: gram_matrix(features[layer]) for layer in config.style_layers}
    targets = Targets({"relu2_1": features["relu2_1"]}, {"style": StyleTarget(grams, positions)})
    image = (torch.rand(1, 3, 16, 16, generator=generator) * 1.6 - 0.3).clamp(0, 1).requires_grad_(True)
    evaluate(config, model, image, targets, 1.0, backward=True)[1]()  # the losses, then the gradient
    edge = (image == 0) | (image == 1)
    assert edge.sum() > 50 and (image.grad[edge] != 0).float().mean() > 0.9


@pytest.mark.parametrize("precision", ["mixed", "bf16"])
def test_lower_precisions_report_fp32_losses(content_image, style_image, precision):
    fp32 = list(run_gatys(small_config(steps=3), content_image, style_image))
    other = list(run_gatys(small_config(steps=3, precision=precision), content_image, style_image))
    assert other[0].style == pytest.approx(fp32[0].style, rel=0.1 if precision == "bf16" else 1e-6)
    assert other[-1].total < other[0].total  # it optimises
    if precision == "mixed":  # same features, near-identical gradients: near-identical path
        assert other[-1].total == pytest.approx(fp32[-1].total, rel=0.02)


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(size=0), "size must be at least 16"),
        (dict(alpha=-1), "alpha must not be negative"),
        (dict(style_layers=("relu9_9",)), "unknown VGG19 layer 'relu9_9'"),
        (dict(pooling="median"), "pooling must be one of max, avg"),
        (dict(style_layer_weights=(1.0,)), "1 style layer weights for 2 style layers"),
        (dict(size=32, levels=3), "too small for 3 levels"),
    ],
)
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


def test_study_preset_is_the_default():
    config = preset("study", vgg_weights="random")
    assert config == GatysConfig(vgg_weights="random")
    assert (config.pooling, config.init, config.scheduler, config.levels, config.coarse_steps) == ("avg", "content", "plateau", 0, 20)
    assert config.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1") and config.content_layers == ("relu4_1",)
    assert config.alpha / config.beta == pytest.approx(0.1) and config.loss_units == "relative"
    assert (config.size, config.steps, config.style_statistic, config.iterate_average) == (512, 60, "gram", 0.0)
    assert (preset("gatys2015").loss_units, preset("gatys2015").steps) == ("paper", 100)  # the paper's, as measured
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")


def test_larger_pictures_start_near_256_px_for_a_few_steps_a_level():
    """The default plan: one level up to 362 px; above, levels from about 256 px in x2 steps, each
    coarser one COARSE_STEPS steps (at most an equal share) and the rest at the finest."""
    photo = (1024, 768)
    assert level_plan(GatysConfig(size=256, steps=100), photo) == [((192, 256), 100)]
    assert level_plan(GatysConfig(size=362, steps=100), photo) == [((272, 362), 100)]
    assert level_plan(GatysConfig(size=512, steps=100), photo) == [((192, 256), 20), ((384, 512), 80)]
    assert level_plan(GatysConfig(), photo) == [((192, 256), 20), ((384, 512), 40)]  # the defaults: 60 steps at 512 px
    assert level_plan(GatysConfig(size=1024, steps=100), photo) == [((192, 256), 20), ((384, 512), 20), ((768, 1024), 60)]
    assert level_plan(GatysConfig(size=512, steps=5), photo) == [((192, 256), 2), ((384, 512), 3)]  # an equal share at most
    assert level_plan(GatysConfig(size=512, steps=100, coarse_steps=30), photo) == [((192, 256), 30), ((384, 512), 70)]
    with pytest.raises(ValueError, match="coarse_steps must be 0"):
        GatysConfig(coarse_steps=-1)


def test_real_images_end_to_end(shared_images):
    config = small_config(size=64, steps=10, style_layers=("relu1_1", "relu2_1", "relu3_1"))
    image, records = stylize(config, shared_images / "tubingen.jpg", shared_images / "starry_night.jpg")
    assert image.size == (64, 48)
    assert records[-1].total < records[0].total


def test_min_side_counts_the_poolings_before_the_deepest_layer():
    from nst.gatys.vgg import min_side

    assert min_side(("relu1_1",)) == 1 and min_side(("conv2_1",)) == 2 and min_side(("pool2",)) == 4
    assert min_side(("relu1_1", "relu4_1")) == 8 and min_side(("conv5_1",)) == 16


@pytest.mark.parametrize("thin", ["content", "style"])
def test_a_too_thin_image_is_one_clear_error(thin):
    from PIL import Image

    images = {"content": synthetic_image(48, 36), "style": synthetic_image(30, 40)}
    images[thin] = Image.new("RGB", (8, 2000), (90, 120, 200))
    config = small_config(size=64, style_layers=("relu1_1", "relu4_1"))
    with pytest.raises(ValueError, match=f"the {thin} image is too thin: it becomes .* the layers used need at least 8 px"):
        list(run_gatys(config, images["content"], images["style"]))
    shallow = small_config(size=64, style_layers=("relu1_1",), content_layers=("relu1_1",))
    assert list(run_gatys(shallow, images["content"], images["style"]))[-1].image is not None  # 1 px a side is enough


def test_laplacian_pyramid_composes_the_start_and_pools_the_gradient():
    """x = p_0 + sum_k up(p_k) starts at x_0 exactly; each coarse p_k's gradient sums to the pixel
    gradient's sum (bilinear upsampling keeps constants), so it moves the smooth part at once."""
    image = torch.rand(1, 3, 40, 56)
    parameters, compose = image_parameters(preset("study", parameterization="laplacian"), image)
    assert len(parameters) == PYRAMID_OCTAVES and [tuple(p.shape[-2:]) for p in parameters] == [(40, 56), (20, 28), (10, 14), (5, 7)]
    assert torch.equal(compose(), image)
    weights = torch.randn_like(image)
    (compose() * weights).sum().backward()
    assert torch.equal(parameters[0].grad, weights)
    for p in parameters[1:]:
        torch.testing.assert_close(p.grad.sum(), weights.sum(), rtol=1e-4, atol=1e-4)
    pixels, _ = image_parameters(preset("study"), image)
    assert len(pixels) == 1 and torch.equal(pixels[0], image)


def test_laplacian_run_starts_where_the_pixel_run_starts_and_optimises(content_image, style_image):
    config = preset("study", size=64, steps=12, levels=1, vgg_weights="random:0", device="cpu")
    pyramid = [r.total for r in run_gatys(config.replace(parameterization="laplacian"), content_image, style_image)]
    pixels = [r.total for r in run_gatys(config, content_image, style_image)]
    assert pyramid[0] == pixels[0] and pyramid[1] != pixels[1]
    assert pyramid[-1] < 0.8 * pyramid[0]


@pytest.mark.parametrize("size", [32, 64])
def test_the_first_step_moves_the_most_moved_pixel_by_the_same_amount_at_any_size(style_image, size):
    """LBFGS_FIRST_STEP (32 grey levels), where torch's first step shrinks as the picture grows.
    The content is mid-grey noise, so that no pixel of the first step is put back into [0, 1]."""
    rng = np.random.default_rng(0)
    content = Image.fromarray(rng.integers(64, 192, (size, size, 3), dtype=np.uint8))
    records = list(run_gatys(small_config(size=size, steps=2), content, style_image, image_every=1))
    start, first = (np.asarray(record.image, dtype=int) for record in records[:2])
    assert records[1].step == 1 and np.abs(first - start).max() == round(255 * gatys.LBFGS_FIRST_STEP) == 32


def test_each_step_is_projected_into_the_displayable_range(content_image, style_image, monkeypatch):
    """From noise with the gatys2015 preset many pixels are pushed out of [0, 1]; each step puts
    them back (as the textbook's closure does), so every image evaluated is one that can be shown."""
    config = preset("gatys2015", size=64, steps=60, levels=1, vgg_weights="random:0", device="cpu", beta=1e3,
                    precision="mixed")  # as measured; "auto" is fp32 on a CPU without native bf16
    seen = []
    real_project = gatys.project_to_displayable

    def project_and_check(fine, compose):
        before = compose().detach().clone()
        real_project(fine, compose)
        after = compose().detach()
        seen.append(((before < 0) | (before > 1)).sum().item())
        assert torch.equal(after, before.clamp(0, 1))

    monkeypatch.setattr(gatys, "project_to_displayable", project_and_check)
    records = list(run_gatys(config, content_image, style_image))
    assert 50 <= len(seen) <= 60 and sum(seen) > 100  # each step taken is projected (a take-back stays inside); steps did leave the range
    assert records[-1].total < 0.05 * records[0].total  # measured: 0.28 from 18.3


def test_the_targets_key_is_every_field_marked_as_changing_the_targets():
    """Sweeps share targets between runs with equal keys: a field that changes the targets must
    change the key, and one that does not must not (it would cost recomputing them)."""
    base = GatysConfig(vgg_weights="random")
    changes = {"content_layers": ("relu3_1",), "style_layers": ("relu1_1",), "pooling": "max",
               "style_blend_weights": (1.0, 2.0), "style_scale": 0.5, "preserve_color": "luminance",
               "device": "cpu", "precision": "fp32", "vgg_weights": "random:1", "loss_units": "paper",
               "style_statistic": "mean-cov"}  # fmt: skip
    for name, value in changes.items():
        assert base.replace(**{name: value}).targets_key() != base.targets_key(), name
    for name, value in {"alpha": 1.0, "beta": 2.0, "steps": 3, "seed": 4, "init": "noise", "tv_weight": 1.0,
                        "style_layer_weights": (1.0,) * 5, "optimizer": "adam", "iterate_average": 0.9}.items():  # fmt: skip
        assert base.replace(**{name: value}).targets_key() == base.targets_key(), name


def test_the_plot_of_the_first_step_spans_the_run_and_whole_decades():
    """At step 0 the plot has one point: its x axis is already 0..steps (not -0.05..0.05) and its
    y axis whole decades with one label each (not a sliver with "853 x 10^3" nine times)."""
    import re
    from types import SimpleNamespace

    from ui.loss_plot import LossHistory, loss_svg

    history = LossHistory(planned_steps=100)
    history.add(SimpleNamespace(size=(48, 64), step=0, weighted={"content": 0.0, "style": 853e3}, total=853e3))
    svg = loss_svg(history)
    ticks = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert "0" in ticks and "100" in ticks and not any(t.startswith(("−0.0", "-0.0")) for t in ticks)
    assert not any("853" in tick for tick in ticks)  # no tick repeats the one value
    assert {"10⁵", "10⁶"} <= set(ticks)  # the decades, as plain text (not TeX, which took a third of the plot's time)


def test_the_iterate_average_is_the_moving_average_of_the_iterates(content_image, style_image):
    # The average does not steer the optimiser, so a run without it shows the same iterates x_0..x_n
    # (a record's picture is the image before its step); the average's picture is a_n, with
    # a_0 = x_0 and a_k = d a_(k-1) + (1 - d) x_k. Pictures are 8-bit: within a level or two.
    decay, steps = 0.6, 5
    plain = [r.image for r in run_gatys(small_config(steps=steps + 1), content_image, style_image, image_every=1)]
    iterates = [np.asarray(image, float) for image in plain[: steps + 1]]
    expected = iterates[0]
    for x in iterates[1:]:
        expected = decay * expected + (1 - decay) * x
    averaged = list(run_gatys(small_config(steps=steps, iterate_average=decay), content_image, style_image))
    final = np.asarray(averaged[-1].image, float)
    assert np.abs(final - expected).max() <= 2
    assert np.abs(iterates[-1] - expected).mean() > 1  # the average is not simply the last iterate


def test_a_step_taken_back_is_marked_on_the_plot_not_left_as_a_spike():
    """L-BFGS takes back a step that raised the loss over RISE_TAKEN_BACK times (nst.gatys.lbfgs):
    the plot marks it, and a new level's jump (an upscaled picture) is not such a step."""
    from types import SimpleNamespace

    from ui.loss_plot import LossHistory, loss_svg

    def record(step, total, size=(48, 64)):
        return SimpleNamespace(size=size, step=step, weighted={"content": total / 2, "style": total / 2}, total=total)

    totals = [10.0, 5.0, 100.0, 4.0, 7.0]  # 100 > 2 x 5: taken back; 7 < 2 x 4: an ordinary rise
    history = LossHistory(planned_steps=6)
    for step, total in enumerate(totals):
        history.add(record(step, total))
    history.add(record(5, 50.0, size=(96, 128)))  # a finer level: its first loss is no step taken back
    assert history.taken_back == [(2, 100.0)]
    svg = loss_svg(history)
    assert ">taken back<" in svg and "was taken back" in svg
    adam = LossHistory(planned_steps=5, takes_back=False)  # Adam keeps every step
    for step, total in enumerate(totals):
        adam.add(record(step, total))
    assert adam.taken_back == [] and "taken back" not in loss_svg(adam)
