"""The Gatys et al. (2015) optimisation loop, as a generator of per-step records.

`run_gatys` yields a `StepRecord` after every loss-and-gradient evaluation (step 0 is the
initial image), so the CLI's progress bar and the app's streaming consume the same loop, and
stopping the iteration at any point leaves the last yielded image valid.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields

import torch
from PIL import Image

from nst import color
from nst.device import resolve_device, vgg_dtypes
from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import GatysConfig
from nst.gatys.lbfgs import LBFGS
from nst.gatys.memory import available_bytes, check_fits
from nst.gatys.losses import (augment_with_ones, content_loss, gram_matrix, paper_style_scale, style_loss, style_moments,
                              style_target_gram, tv_loss)
from nst.gatys.tiles import owned_features, plan_tiles, scale, stride, tiled_features
from nst.gatys.vgg import VGGFeatures, channels, load_vgg19, min_side
from nst.images import fit_long_side, image_to_tensor, load_image, resize_tensor, tensor_to_image
from nst.regions import MaskNote, RegionError, Regions, blend_pictures, read_regions
from nst.schedules import step_scheduler
from nst.tiles import Tile

ImageSource = str | os.PathLike | Image.Image


@dataclass
class Losses:
    """The terms of eq. 7 for one image: content and style before alpha and beta, and each term
    as it enters the total, keyed by name (the plot, the log and sweeps read these, never
    re-weight the raw ones)."""

    content: float
    style: float
    tv: float
    total: float  # the sum of `weighted`
    weighted: dict[str, float]  # {"content": alpha * L_content, "style": beta * L_style, "tv": ...}, as summed (see evaluate)


@dataclass
class StepRecord(Losses):
    """What one step reports: its losses, and where the run is."""

    step: int
    elapsed_s: float
    size: tuple[int, int]  # (H, W) of the image at this step (changes between levels)
    lr: float
    image: Image.Image | None = None  # the current image, when requested, and at the last step

    def losses(self) -> dict:
        """The JSON-log entry of this step."""
        return {k: getattr(self, k) for k in ("step", *LOSS_FIELDS, "elapsed_s")}


LOSS_FIELDS = tuple(f.name for f in fields(Losses))


class RunStopped(ValueError):
    """The run cannot go on: its loss stopped being finite, or the GPU ran out of memory. The
    message says why and what to change; `last_image` is the last image with a finite loss."""

    def __init__(self, message: str, last_image: Image.Image | None = None):
        super().__init__(message)
        self.last_image = last_image


@dataclass
class StyleTarget:
    """One style term of eq. 5 at one level: the Gram matrices A^l to match over M_l positions,
    the whole picture's or, with regions, a region's (nst.gatys.losses.style_loss)."""

    grams: dict[str, torch.Tensor]  # A^l, fp32, rescaled to the layer's (or region's) positions M_l (style_target_gram)
    scales: dict[str, float]  # E_l's denominator: 4 N_l^2 M_l^2 (eq. 4), or |A^l|^2 in relative units (style_term)
    roots: dict[str, torch.Tensor] | None = None  # Sigma_s^1/2 per layer for the mean-and-covariance loss; None: Gram
    masks: dict[str, torch.Tensor] | None = None  # the region's mask at each layer, (1, 1, h, w); None: everywhere
    share: float = 1.0  # the term's weight: its region's share of the picture


@dataclass
class Targets:
    """What a level's image is optimised towards (eq. 1 and 5), computed once per size and config
    (compute_targets, then P^l at the level's start; nst.gatys.config.TARGETS marks the fields
    they depend on)."""

    content: dict[str, torch.Tensor] | None  # P^l, detached; None until the level starts (content_targets)
    styles: dict[str, StyleTarget]  # {"style": A^l blended over the style images}, or one per styled region: "style 1", ...


@dataclass
class _Level:
    """One coarse-to-fine level: its size, its share of the steps and what it optimises towards."""

    size: tuple[int, int]  # (H, W)
    updates: int
    content: torch.Tensor  # (1, 3, H, W), the content image at this size
    style: torch.Tensor  # the first style image, prepared for this level (init "style" starts from it)
    targets: Targets
    pixel_weight: float  # in paper units L_content and L_tv sum over pixels, E_l is normalised by M_l^2 (eq. 4): a
    # level with 4x fewer pixels weights them 4x to optimise the finest level's trade-off; relative units need none (1)
    last: bool


def level_plan(config: GatysConfig, content_size: tuple[int, int]) -> list[tuple[tuple[int, int], int]]:
    """[((H, W), updates)] from coarse to fine: each level's long side is config.level_ratio times
    the coarser one's. Each coarser level gets config.coarse_steps steps (no more than an equal
    share), or with coarse_steps 0 config.step_decay times the coarser one's steps (equal shares
    for 1); the remainder goes to the finest level."""
    width, height = content_size
    count = config.level_count()
    if config.coarse_steps:
        steps = [min(config.coarse_steps, config.steps // count)] * count
    else:
        shares = [config.step_decay**level for level in range(count)]
        steps = [int(config.steps * share / sum(shares)) for share in shares]
    steps[-1] += config.steps - sum(steps)
    return [(fit_long_side(width, height, config.level_side(count - 1 - level)), steps[level]) for level in range(count)]


def initial_image(
    config: GatysConfig, content: torch.Tensor, style: torch.Tensor, style_image: Image.Image | None = None,
    regions: Regions | None = None, style_images: list[Image.Image] | None = None,
) -> torch.Tensor:
    """The starting point x_0 for `config.init`, shaped like `content` (the level's content, its
    colours prepared) and `style` (the first style image, prepared for the level).

    "fast" starts from the feed-forward picture of Ghiasi et al. (2017) at the content's size
    (nst.feedforward.magenta): a warm start that already carries the style. Its style network is given
    `style_image`, the first style image as loaded (default: `style`), because it takes its own
    256 px square and a coarse level's downscaled copy would blur the style it reads.
    """
    if config.init == "fast":  # the level's content, so luminance-only transfer starts from a grey picture
        style_image = tensor_to_image(style) if style_image is None else style_image
        options = FastConfig(size=max(content.shape[-2:]), preserve_color=config.preserve_color)
        if regions is None:
            return image_to_tensor(fast_stylize(tensor_to_image(content), style_image, options)).to(content)
        pictures = [image_to_tensor(fast_stylize(tensor_to_image(content), picture, options)).to(content)
                    for picture in style_images or [style_image]]  # fmt: skip
        return blend_pictures(pictures + [content] * (regions.keep is not None), regions)  # each region in its style
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.rand(content.shape, generator=generator).to(content)
    if config.init == "noise":
        return noise
    if config.init == "noisy-content":
        return config.noise_ratio * noise + (1 - config.noise_ratio) * content
    if config.init == "style":
        return resize_tensor(style, tuple(content.shape[-2:]))
    return content.clone()


def run_gatys(
    config: GatysConfig,
    content: ImageSource,
    styles: ImageSource | Sequence[ImageSource],
    image_every: int = 0,
    targets_cache: dict | None = None,
) -> Iterator[StepRecord]:
    """Optimise an image towards `content` in content and `styles` in style, step by step.

    `targets_cache`, a dict shared by runs on the same content and style images (a sweep), keeps
    each level's targets so that runs with the same layers, network and size compute them once.

    Yields records for steps 0..config.steps; every `image_every` steps (0: never) and at the last
    step the record carries the current image. Targets are computed once per level.
    """
    clock = time.perf_counter()
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not styles:
        raise ValueError("at least one style image is needed")
    blend = _blend_weights(config, len(styles))
    device = resolve_device(config.device)
    content_image = load_image(content, max_side=config.size)  # decoded no larger than needed
    check_fits(config, content_image.size, available_bytes(device))
    style_images = [load_image(style, max_side=config.style_side()) for style in styles]
    regions = None
    if config.mask is not None:  # where each style goes (nst.regions)
        final = level_plan(config, content_image.size)[-1][0]
        regions = read_regions(config.mask, final, len(styles), config.region_colors, config.keep_color)
        if regions.note:
            warnings.warn(regions.note, MaskNote, stacklevel=2)
    layers = config.content_layers + config.style_layers
    vgg = VGGFeatures(load_vgg19(config.vgg_weights), layers, config.pooling, *vgg_dtypes(config.precision, device))
    step, image, coarser = 0, None, None
    try:
        vgg = vgg.to(device)
        for level in _levels(config, vgg, content_image, style_images, blend, device, targets_cache, regions):
            if coarser is None:
                image = initial_image(config, level.content, level.style, style_images[0], regions, style_images)
            else:  # this level's content plus the upsampled change the coarser level made to its own:
                # upsampling the coarse image itself would start from a blurred content
                image = level.content + resize_tensor(image.detach() - coarser, level.size)
            step, image = yield from _optimise_level(config, vgg, level, image, step, clock, content_image, image_every)
            coarser = level.content
    except torch.cuda.OutOfMemoryError as error:
        smaller = max(32, int(config.size / 2**0.5) // 32 * 32)
        raise RunStopped(
            f"the GPU ran out of memory at size {config.size}; size {smaller} (half the pixels) or less should "
            "fit, or free the GPU of other work"
        ) from error


def _levels(config, vgg, content_image, style_images, blend, device, cache: dict | None,
            regions: Regions | None = None) -> Iterator[_Level]:  # fmt: skip
    """The levels of level_plan with their targets, each computed when its level begins (or
    taken from `cache`, keyed by the level's size and GatysConfig.targets_key())."""
    private, cache = cache is None, {} if cache is None else cache
    plan = level_plan(config, content_image.size)
    finest = plan[-1][0]
    for index, (size, updates) in enumerate(plan):
        key = (size, config.targets_key())
        if key not in cache:
            content_t = image_to_tensor(content_image, size).to(device)
            style_ts = [_style_tensor(config, style, content_t, size) for style in style_images]
            _check_sides(config, "content", content_t, index)
            for style_t in style_ts:
                _check_sides(config, "style", style_t, index)
            if config.preserve_color == "luminance":
                content_t = color.luminance(content_t)
            cache[key] = (content_t, style_ts[0], compute_targets(config, vgg, content_t, style_ts, blend, regions))
        content_t, first_style, targets = cache[key]
        pixel_weight = 1.0 if config.loss_units == "relative" else (finest[0] * finest[1]) / (size[0] * size[1])
        yield _Level(size, updates, content_t, first_style, targets, pixel_weight, last=index == len(plan) - 1)
        if private:  # a finished level's targets are not needed again (a print has seven levels)
            del cache[key]


def _optimise_level(config, vgg, level: _Level, image, step: int, clock: float, content_image, image_every: int):
    """`level.updates` optimiser steps from `image`, yielding a record before each (and, at the
    last level, one for the final image); returns the step count reached and the level's best image.

    A step may raise the loss (LBFGS then takes it back in part at the next step, Adam does not):
    what a level hands on, and the final record shows, is the image with the lowest loss seen; with
    config.iterate_average, the moving average of the iterates instead (and the records' pictures
    show it)."""
    if level.targets.content is None and not torch.equal(image, level.content):
        level.targets.content = content_targets(config, vgg, level.content)  # else step 0 reads them (evaluate)
    parameters, compose = image_parameters(config, image)
    project = functools.partial(project_to_displayable, parameters[0], compose)
    optimizer = make_optimizer(config, parameters, project)
    scheduler = _make_scheduler(config, optimizer)
    best, best_image, unit = None, image.detach().clone(), None
    average = image.detach().clone() if config.iterate_average else None
    for update in range(level.updates + level.last):
        is_update = update < level.updates
        optimizer.zero_grad()
        image = compose() if is_update or average is None else average  # the final record: the average's own losses
        losses, gradient = evaluate(config, vgg, image, level.targets, level.pixel_weight, backward=is_update, unit=unit)
        unit = _loss_unit(losses.total) if unit is None else unit
        if not torch.isfinite(losses.total):
            raise RunStopped(
                f"the loss became {float(losses.total)} at step {step} (a very large beta, alpha or learning "
                "rate?); the last image with a finite loss is kept",
                _to_output(config, best_image, content_image, level.size),
            )
        if best is None or losses.total <= best.total:
            best, best_image = losses, image.detach().clone()
        elif not is_update and average is None:  # the final record: the best image, not a step still to be taken back
            losses, image = best, best_image
        want_image = (level.last and not is_update) or (image_every > 0 and step % image_every == 0)
        yield StepRecord(
            content=float(losses.content), style=float(losses.style), tv=float(losses.tv), total=float(losses.total),
            weighted={name: float(value) for name, value in losses.weighted.items()},
            step=step,
            elapsed_s=time.perf_counter() - clock,
            size=level.size,
            lr=optimizer.param_groups[0]["lr"],
            image=_to_output(config, image if average is None else average, content_image, level.size) if want_image else None,
        )
        if is_update:
            gradient()  # after the record, whose picture is then shown a backward pass sooner
            optimizer.step(lambda: losses.total / unit)  # the closure's gradients are in the parameters' .grad
            if config.optimizer != "lbfgs":  # LBFGS projects inside its step, to take the projection into account
                project()
            step_scheduler(scheduler, losses.total)
            step += 1
            if average is not None:
                average.lerp_(compose().detach(), 1 - config.iterate_average)
    return step, best_image if average is None else average


def image_parameters(config: GatysConfig, image: torch.Tensor):
    """(the tensors the optimiser moves, a function composing the image from them), from `image`.

    "pixels": the image itself. "laplacian": a Laplacian pyramid, x = p_0 + sum_k up(p_k) with
    p_k at 1/2^k of the size, p_0 = x_0 and the coarser ones 0 (Mordvintsev et al. 2018,
    "Differentiable Image Parameterizations"). The gradient of p_k sums the pixel gradient over
    about 4^k pixels, so the smooth parts of the change, slow for LBFGS in pixel space, take
    large steps from the start.
    """
    fine = image.detach().clone().requires_grad_(True)
    if config.parameterization == "pixels":
        return [fine], lambda: fine
    size = tuple(image.shape[-2:])
    coarse = [
        torch.zeros((*image.shape[:2], max(1, size[0] >> k), max(1, size[1] >> k)), device=image.device).requires_grad_(True)
        for k in range(1, PYRAMID_OCTAVES)
    ]
    return [fine, *coarse], lambda: fine + sum(resize_tensor(p, size) for p in coarse)


@torch.no_grad()
def project_to_displayable(fine: torch.Tensor, compose) -> None:
    """Move the image back into [0, 1] after a step, through its finest parameter (the pixels
    themselves, or p_0 of the pyramid), as the textbook's closure clamps in place: pixels out of
    range cannot be shown or saved, so a loss lowered by them would be a gain lost on saving."""
    image = compose()
    if image is fine:
        fine.clamp_(0, 1)
    else:  # p_0 takes the whole correction; rounding may leave it 1e-7 out, which is harmless
        fine.add_(image.clamp(0, 1) - image)


PYRAMID_OCTAVES = 4  # p_0 .. p_3: the coarsest moves 8x8 blocks of pixels


def stylize(config: GatysConfig, content: ImageSource, styles, image_every: int = 0):
    """Run to the end; returns (final image, list of step records)."""
    records = list(run_gatys(config, content, styles, image_every))
    return records[-1].image, records


def _blend_weights(config: GatysConfig, n_styles: int) -> list[float]:
    weights = config.style_blend_weights or (1.0,) * n_styles
    if len(weights) != n_styles:
        raise ValueError(f"{len(weights)} style blend weights for {n_styles} style images")
    return [w / sum(weights) for w in weights]


def _check_sides(config: GatysConfig, what: str, tensor: torch.Tensor, level: int) -> None:
    """A thin image can be too small for the deepest layer's poolings: say so in one line."""
    need, (height, width) = min_side(config.content_layers + config.style_layers), tensor.shape[-2:]
    if min(height, width) < need:
        where = f" at coarse-to-fine level {level + 1} of {config.level_count()}" if config.level_count() > 1 else ""
        raise ValueError(
            f"the {what} image is too thin: it becomes {width}x{height} px{where}, and the layers used need at least "
            f"{need} px a side; use a larger size, fewer levels, shallower layers or a less elongated image"
        )


def _style_tensor(config: GatysConfig, style: Image.Image, content_t: torch.Tensor, size) -> torch.Tensor:
    """The style image at style_scale times the level's long side, its colours prepared."""
    style_t = image_to_tensor(style, fit_long_side(style.width, style.height, config.style_side(max(size)))).to(content_t)
    if config.preserve_color == "histogram":
        return color.match_color_statistics(style_t, content_t).clamp(0, 1)
    if config.preserve_color == "luminance":
        return color.match_luminance(color.luminance(style_t), color.luminance(content_t))
    return style_t


@torch.no_grad()
def compute_targets(config, vgg, content_t, style_ts, blend, regions: Regions | None = None) -> Targets:
    """A^l = sum_s b_s A_s^l over the style images; with `regions`, each styled region's own A^l
    over its mask instead (nst.gatys.losses.style_loss). Large images are read tile by tile
    (nst.gatys.tiles). P^l is left for the level's start: a run that starts from the content image
    reads it from step 0's forward pass (evaluate), one pass of VGG19 fewer before the first frame;
    any other start computes it then (content_targets)."""
    style_grams = [_grams(config, vgg, style_t) for style_t in style_ts]  # {layer: (F F^T, M_style)} per image
    positions = {layer: math.prod(_positions_shape(content_t, layer)) for layer in config.style_layers}
    if regions is None:
        grams = {layer: sum(b * style_target_gram(*grams[layer], positions[layer]) for b, grams in zip(blend, style_grams))
                 for layer in config.style_layers}  # fmt: skip
        return Targets(None, {"style": style_term(config, grams, positions)})
    names = ["style"] if len(regions.styled) == 1 else [f"style {i + 1}" for i in range(len(regions.styled))]
    return Targets(None, {name: _region_target(config, regions, region, grams, content_t)
                          for name, region, grams in zip(names, regions.styled, style_grams)})  # fmt: skip


def style_term(config, grams: dict[str, torch.Tensor], positions: dict[str, float], masks=None, share=1.0) -> StyleTarget:
    """The style term towards A^l = `grams` over M_l = `positions`, with the denominators of
    config.loss_units and, for the mean-and-covariance loss, the style's Sigma_s^1/2."""
    if config.style_statistic == "mean-cov":
        roots = {layer: style_moments(gram) for layer, gram in grams.items()}
        # relative: over the style's second moment tr Sigma_s + |mu_s|^2, i.e. tr of its Gram over M
        scales = {layer: float(gram[:-1, :-1].trace() / gram[-1, -1]) if config.loss_units == "relative" else 1.0
                  for layer, gram in grams.items()}  # fmt: skip
        return StyleTarget(grams, scales, roots, masks, share)
    if config.loss_units == "relative":
        scales = {layer: float(gram.pow(2).sum()) for layer, gram in grams.items()}
    else:
        scales = {layer: paper_style_scale(gram.shape[0], positions[layer]) for layer, gram in grams.items()}
    return StyleTarget(grams, scales, None, masks, share)


def content_scale(config, target: torch.Tensor) -> float | torch.Tensor:
    """A content layer's denominator: 2 (eq. 1's 1/2), or |P^l|^2 of the whole layer in relative
    units (never 0: while step 0 reads P^l the loss is 0 whatever it is)."""
    return 2.0 if config.loss_units == "paper" else target.pow(2).sum().clamp_min(1e-12)


def content_targets(config, vgg, content_t) -> dict[str, torch.Tensor]:
    """P^l of eq. 1: the content image's features at the content layers, read tile by tile."""
    content = _empty_content(config, content_t)
    for tile, owned in tiled_features(vgg, content_t, config.tile_size):
        _keep_owned(content, tile, owned)
    return content


def _empty_content(config, image: torch.Tensor) -> dict[str, torch.Tensor]:
    return {layer: torch.zeros((1, channels(layer), *_positions_shape(image, layer)), device=image.device, dtype=torch.float32)
            for layer in config.content_layers}  # fmt: skip


def _keep_owned(whole: dict[str, torch.Tensor], tile: Tile, owned: dict[str, torch.Tensor]) -> None:
    """Copy a tile's features into the whole picture's, at the positions the tile owns."""
    for layer, tensor in whole.items():
        tile.owned_of_whole(tensor, scale(layer)).copy_(owned[layer].detach())


def _positions_shape(image: torch.Tensor, layer: str) -> tuple[int, int]:
    """(h, w) of `layer`'s feature map of `image`: each pooling halves the sides, rounding down."""
    return image.shape[-2] // stride(layer), image.shape[-1] // stride(layer)


def _grams(config, vgg, style_t) -> dict[str, tuple[torch.Tensor, int]]:
    """F F^T of a style image at each style layer, summed over its tiles, with its M_l."""
    grams = {layer: 0 for layer in config.style_layers}
    for _, owned in tiled_features(vgg, style_t, config.tile_size):
        for layer in grams:
            grams[layer] = grams[layer] + gram_matrix(_style_features(config, owned[layer]))
    return {layer: (gram, math.prod(_positions_shape(style_t, layer))) for layer, gram in grams.items()}


def _style_features(config, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """A style layer's features as its Gram reads them: masked by a region's mask, and for the
    mean-and-covariance loss with the ones (or the mask) appended (augment_with_ones)."""
    if mask is not None:
        features = features * mask.to(features.dtype)
    return augment_with_ones(features, mask) if config.style_statistic == "mean-cov" else features


def _region_target(config, regions: Regions, region: int, style_grams, content_t) -> StyleTarget:
    """A styled region's term at this level: its mask at each style layer, M_r = sum m^2 and its
    style image's Grams rescaled to M_r; a region too small to reach the deepest style layer is
    refused in one sentence."""
    masks, positions = {}, {}
    for layer in config.style_layers:
        mask = regions.at(_positions_shape(content_t, layer))[region][None, None].to(content_t.device)
        if float(mask.sum()) < 1.0:
            raise RegionError(f"the region {regions.colours[region]} of the mask is too small: it covers less than "
                              f"one position of {layer} at {content_t.shape[-1]}x{content_t.shape[-2]} px; paint it "
                              "larger, or use fewer coarse-to-fine levels or a larger size")  # fmt: skip
        masks[layer], positions[layer] = mask, float((mask * mask).sum())
    grams = {layer: style_target_gram(*style_grams[layer], positions[layer]) for layer in config.style_layers}
    return style_term(config, grams, positions, masks, float(regions.masks[region].mean()))


def evaluate(config, vgg, image, targets: Targets, pixel_weight: float, backward: bool,
             unit=None) -> tuple[Losses, Callable[[], None]]:  # fmt: skip
    """One loss evaluation (eq. 7), and a function that, if `backward`, puts the gradient of
    total / `unit` into the .grad of the leaves `image` is made from (`unit` None: this total, so
    1). The gradient is a call of its own so that a run can show the step's picture before it:
    the backward pass takes about twice the forward one.

    The optimiser sees the loss in units of its value at the level's start, whatever the network's
    feature scale: the original VGG19 reads 0-255 pixels, and its losses reach 1e16 where
    torchvision's are near 1e10, enough to overflow float32 in LBFGS's products of gradients.
    The records report the loss itself.

    A picture larger than config.tile_size is evaluated tile by tile (nst.gatys.tiles) in two
    passes: the first sums L_content and the Gram matrices G^l over the tiles; the loss and
    dL/dG^l follow from them; the second recomputes each tile's features and back-propagates
    its share, sum_l <dL/dG^l, G^l_tile> + L_content,tile, which has the tile's part of the
    exact gradient, since G^l is a sum over tiles and L_content one over positions.

    `pixel_weight` multiplies the per-pixel sums L_content and L_tv (1 at the finest level). Each
    term is weighted here, once, and the total is their sum: a new term is its function, its
    config field and one entry in `weighted`.
    Targets without P^l yet (targets.content None) say that `image` is the content image itself,
    a level's start: this evaluation reads P^l from its features into `targets` (_optimise_level
    computes them first for any other start).
    `image` is in [0, 1], the picture the user will see: every start is, and each step is
    projected back (project_to_displayable). It is not clamped here, since torch's clamp passes
    no gradient at exactly 0 or 1: that froze each projected pixel where the projection put it.
    """
    tiles = plan_tiles(*image.shape[-2:], config.tile_size, vgg.layers)
    whole = len(tiles) == 1  # one pass, with the gradient's graph
    with torch.set_grad_enabled(backward and whole):
        l_content, grams = _sums_over_tiles(config, vgg, image, targets, tiles)
    pixels = image
    if backward and not whole:  # dL/dG^l first, then the tiles' pass
        grams = {key: gram.requires_grad_() for key, gram in grams.items()}
        pixels = image.detach().requires_grad_()
    with torch.set_grad_enabled(backward):
        zero = torch.zeros((), device=image.device)
        weights = dict(zip(config.style_layers, config.layer_weights))
        styles = {name: term.share * style_loss({layer: grams[name, layer] for layer in weights}, term.grams, term.scales,
                                                weights, term.roots) if weights else zero
                  for name, term in targets.styles.items()}  # fmt: skip
        l_style = sum(styles.values(), zero) if len(styles) > 1 else next(iter(styles.values()))
        l_tv = tv_loss(pixels, mean=config.loss_units == "relative") if config.tv_weight > 0 else zero
        weighted = {"content": pixel_weight * config.alpha * l_content}
        weighted |= {name: config.beta * term for name, term in styles.items()}
        if config.tv_weight > 0:
            weighted["tv"] = pixel_weight * config.tv_weight * l_tv
        total = sum(weighted.values())
    unit = _loss_unit(total.detach()) if unit is None else unit

    @torch.enable_grad()  # the tiles' pass recomputes features
    def gradient() -> None:
        if not backward:
            return
        if total.requires_grad:
            (total / unit).backward()
        if not whole:
            gram_grads = {key: gram.grad for key, gram in grams.items()}
            _backward_over_tiles(config, vgg, pixels, targets, tiles, gram_grads, pixel_weight * config.alpha / unit)
            if pixels.grad is not None:  # None: nothing depends on the image (alpha = beta = 0)
                image.backward(pixels.grad)

    detached = {name: term.detach() for name, term in weighted.items()}
    return Losses(l_content.detach(), l_style.detach(), l_tv.detach(), total.detach(), detached), gradient  # tensors, for LBFGS


def _tile_sums(config, vgg, image, targets: Targets, tile: Tile, reading_content: bool = False):
    """A tile's share of L_content (eq. 1) and of each style term's G^l (eq. 3, of the masked
    features with regions), keyed (term name, layer); `reading_content`: `image` is the content
    image, and its features are copied into targets.content first."""
    owned = owned_features(vgg, image, tile)
    if reading_content:  # the image is the content: its loss is 0 whatever the denominator
        _keep_owned(targets.content, tile, owned)
    l_content = sum((content_loss(owned[layer], tile.owned_of_whole(p, scale(layer)), content_scale(config, p))
                     for layer, p in targets.content.items()), torch.zeros((), device=image.device))  # fmt: skip
    grams = {}
    for name, term in targets.styles.items():
        for layer in config.style_layers:
            mask = None if term.masks is None else tile.owned_of_whole(term.masks[layer], scale(layer))
            grams[name, layer] = gram_matrix(_style_features(config, owned[layer], mask))
    return l_content, grams


def _sums_over_tiles(config, vgg, image, targets: Targets, tiles: list[Tile]):
    """L_content and G^l summed over the tiles. Targets without P^l yet mean that `image` is the
    content image (a level's start, _optimise_level): its features are P^l, kept in `targets`
    once every tile is read."""
    reading = targets.content is None
    read = Targets(_empty_content(config, image), targets.styles) if reading else targets
    l_content, grams = 0, {}
    for tile in tiles:
        tile_content, tile_grams = _tile_sums(config, vgg, image, read, tile, reading)
        l_content = l_content + tile_content
        grams = {key: grams[key] + gram if key in grams else gram for key, gram in tile_grams.items()}
    if reading:
        targets.content = read.content
    return l_content, grams


def _backward_over_tiles(config, vgg, pixels, targets: Targets, tiles: list[Tile], gram_grads: dict, content_weight) -> None:
    """The second pass of a tiled evaluation: each tile's share of the gradient into pixels.grad."""
    for tile in tiles:
        l_content, grams = _tile_sums(config, vgg, pixels, targets, tile)
        surrogate = content_weight * l_content
        for key, gram in grams.items():
            if gram_grads[key] is not None:
                surrogate = surrogate + (gram * gram_grads[key]).sum()
        if surrogate.requires_grad:
            surrogate.backward()


def _loss_unit(total: torch.Tensor) -> torch.Tensor:
    """The loss's value as the optimiser's unit; a zero loss (alpha = beta = 0, a one-colour
    picture) keeps unit 1, since there is nothing to scale."""
    return torch.where(total > 0, total, torch.ones_like(total))


def make_optimizer(config: GatysConfig, parameters: list[torch.Tensor], project) -> torch.optim.Optimizer:
    """The optimiser of the image's parameters; LBFGS calls `project` after each step."""
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate)
    # One evaluation per step, and the history persists between steps (nst.gatys.lbfgs: torch's
    # LBFGS(max_iter=1) with the step in compact form, far fewer kernel launches on a GPU).
    return LBFGS(parameters, lr=config.learning_rate, history_size=lbfgs_history(sum(p.numel() for p in parameters)),
                 project=project, first_step=LBFGS_FIRST_STEP)  # fmt: skip


# The first step moves the pixel it moves most (with "laplacian", the parameter) by 32 grey levels
# (of 255); the steps after it double while no curvature is known. Measured on the original VGG19,
# study preset, 100 steps from the photo, against torch's first step (0.015 grey levels at 256 px):
# loss after 10 steps 5.4e11 instead of 5.9e12 at 256 px, 9.3e11 instead of 1.6e13 at 512 px;
# 16 to 128 grey levels did about as well.
LBFGS_FIRST_STEP = 32 / 255


LBFGS_HISTORY = 100  # pairs (s, y) kept, at most
LBFGS_HISTORY_BYTES = 512 * 2**20  # and at most this much memory for them: 100 pairs of a 4096 px picture are 30 GB
LBFGS_MIN_HISTORY = 5


def lbfgs_history(parameters: int) -> int:
    """How many (s, y) pairs of `parameters` float32 numbers LBFGS keeps: LBFGS_HISTORY, fewer
    for large pictures (at least LBFGS_MIN_HISTORY; a print's finest level takes few steps)."""
    return max(LBFGS_MIN_HISTORY, min(LBFGS_HISTORY, LBFGS_HISTORY_BYTES // (2 * 4 * parameters)))


def _make_scheduler(config: GatysConfig, optimizer):
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.scheduler_gamma, patience=config.scheduler_patience
        )
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.scheduler_step_size, config.scheduler_gamma)
    return None


def _to_output(config: GatysConfig, image: torch.Tensor, content: Image.Image, size) -> Image.Image:
    """The PIL image a user sees; with luminance-only transfer, the content's colours put back."""
    image = image.detach().float()
    if config.preserve_color == "luminance":
        image = color.combine_luminance(image, image_to_tensor(content, size).to(image))
    return tensor_to_image(image)
