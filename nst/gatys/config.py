"""Typed configuration for the Gatys engine: the one place where its defaults live.

The CLI, the app and the tests all build a `GatysConfig`; the engine never sees an argparse
namespace or a UI label.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Literal

import torch

from nst.color import PreserveColor
from nst.device import Device, Precision
from nst.gatys.vgg import VGG19_LAYER_NAMES, network_name
from nst.options import check_choices, literal_choices
from nst.regions import parse_colour, parse_colours

Pooling = Literal["max", "avg"]
Init = Literal["content", "noise", "noisy-content", "style", "fast"]
Optimizer = Literal["lbfgs", "adam"]
Parameterization = Literal["pixels", "laplacian"]
Scheduler = Literal["none", "plateau", "step"]
LossUnits = Literal["relative", "paper"]
StyleStatistic = Literal["gram", "mean-cov"]

# Learning rate used when `lr` is None. LBFGS takes its step length from the curvature, so 1 is
# its natural scale; Adam moves pixels in [0, 1] directly and needs a small step.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}

# Where the VGG19 weights come from unless the config says otherwise: "original" (embedded, the
# paper's network), "torchvision", "random" or a file path (nst.gatys.vgg). The environment variable
# lets a Space or a user point every run at another network or a file.
VGG_WEIGHTS_ENV = "NST_VGG19_WEIGHTS"

# With levels=0, the coarsest level's long side is near this: large enough for the deepest
# layers to see the picture's layout, small enough that most steps are cheap.
PRINT_START_SIDE = 256
# Steps at each coarser level by default: at 512 px, 20 cheap steps at 256 px lay down the
# painting's large structures (relu4_1 and relu5_1 see most of the picture there), then the finest
# level sharpens them; on the pairs of bench.quality a good picture shows after about 15 s on 2
# CPU cores (docs/performance.md).
COARSE_STEPS = 20


# The output's long side when none is asked for, by device: at least the feed-forward preview's
# 512 px; on a CUDA GPU, where a step at 1024 px takes a fraction of a second, 1024 px.
DEFAULT_SIZE = {"cpu": 512, "mps": 512, "cuda": 1024}


def default_size(device: torch.device | str) -> int:
    """DEFAULT_SIZE for a device (a torch.device or its type)."""
    return DEFAULT_SIZE.get(getattr(device, "type", device), DEFAULT_SIZE["cpu"])


def default_vgg_weights() -> str:
    return os.environ.get(VGG_WEIGHTS_ENV, "").strip() or "original"


# Marks the GatysConfig fields that change a run's targets (P^l and A^l) besides the level's
# size: runs that agree on them share targets (the engine's targets_cache, sweeps).
TARGETS = {"targets": True}


@dataclass
class GatysConfig:
    """Every option of a Gatys et al. (2015) run. Validated on construction."""

    # The defaults are the study's final settings (the original VGG19, copy-of-content start,
    # average pooling damped by a plateau scheduler), with what bench.quality measured on its set
    # of pairs: the losses in relative units, so that one alpha / beta suits a night photo and a
    # close-up, a busy and a flat painting alike; style on all five blocks, relu1_1 to relu5_1,
    # for the painting's large structures as well as its strokes; 512 px, the preview's size,
    # starting at 256 px for COARSE_STEPS steps, 60 steps in all: under a minute on a 2-core CPU.
    size: int = DEFAULT_SIZE["cpu"]  # long side of the output in pixels; the content's aspect ratio is kept; the CLI's and the app's default is by device (DEFAULT_SIZE)
    steps: int = 60  # optimiser steps (one loss-and-gradient evaluation each), over all levels
    alpha: float = 1.0  # weight of L_content (Gatys et al. 2015, eq. 7)
    beta: float = 10.0  # weight of L_style; in relative units alpha / beta = 0.1 (in paper units the study chose 1e-5)
    content_layers: tuple[str, ...] = field(default=("relu4_1",), metadata=TARGETS)  # VGG19 layers of L_content (comma-separated: relu4_2,conv5_1)
    style_layers: tuple[str, ...] = field(default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), metadata=TARGETS)  # VGG19 layers of L_style (eq. 5)
    loss_units: LossUnits = field(default="relative", metadata=TARGETS)  # relative: each layer's error over its target's size (|F-P|^2/|P|^2, |G-A|^2/|A|^2), so alpha/beta holds on any pair; paper: eqs. 1 and 4 as written
    style_statistic: StyleStatistic = field(default="gram", metadata=TARGETS)  # gram: Gram matrices (eq. 3); mean-cov: the Wasserstein-2 distance between the features' Gaussians (mean and covariance)
    style_layer_weights: tuple[float, ...] | None = None  # w_l of eq. 5, one per style layer; none: equal, summing to 1
    pooling: Pooling = field(default="avg", metadata=TARGETS)  # average pooling, as Gatys et al. suggest; "max" is VGG's own
    init: Init = "content"  # the image the optimisation starts from; fast: the feed-forward network's picture (nst.feedforward.magenta)
    noise_ratio: float = 0.6  # share of noise in the "noisy-content" init
    optimizer: Optimizer = "lbfgs"  # the optimiser of the image's pixels
    parameterization: Parameterization = "pixels"  # what it moves: the pixels, or a Laplacian pyramid of them (Mordvintsev et al. 2018)
    lr: float | None = None  # learning rate; none: the optimiser's own (DEFAULT_LR: lbfgs 1, adam 0.02)
    iterate_average: float = 0.0  # the picture is a moving average of the iterates with this decay (0.9: about the last 10 steps); 0: the best iterate
    scheduler: Scheduler = "plateau"  # "plateau" and "step" damp the oscillations of avg pooling
    scheduler_gamma: float = 0.5  # factor applied to the learning rate by either scheduler
    scheduler_step_size: int = 100  # "step": decay every this many steps
    scheduler_patience: int = 10  # "plateau": steps without improvement before a decay
    tv_weight: float = 0.0  # weight of the total-variation smoothness term; 0 turns it off
    style_blend_weights: tuple[float, ...] | None = field(default=None, metadata=TARGETS)  # weight of each style image, in their order; none: equal
    mask: str | None = field(default=None, metadata=TARGETS)  # an image whose colours mark where each style goes, one style image per colour (nst.regions); none: the styles everywhere
    region_colors: tuple[str, ...] = field(default=(), metadata=TARGETS)  # the mask's colours in the order of the style images (comma-separated); none: as they first appear from the top left
    keep_color: str | None = field(default=None, metadata=TARGETS)  # the mask colour whose region keeps the photo (no style), e.g. black
    style_scale: float = field(default=1.0, metadata=TARGETS)  # style images are resized to style_scale * size (long side)
    preserve_color: PreserveColor = field(default="none", metadata=TARGETS)  # Gatys et al. 2016, "Controlling Perceptual Factors"
    levels: int = 0  # coarse-to-fine levels; 0: as many as start near 256 px (PRINT_START_SIDE): one level up to 362 px
    level_ratio: float = 2.0  # each level's long side is this times the coarser one's (1.414: sqrt(2) steps, the print preset's)
    coarse_steps: int = COARSE_STEPS  # steps at each coarser level, the rest at the finest (at most an equal share); 0: by step_decay
    step_decay: float = 1.0  # with coarse_steps 0: each finer level gets this times the steps of the coarser one (1: equal shares)
    tile_size: int = 512  # a picture with a longer side is computed tile by tile, in bounded memory (nst.gatys.tiles); 0: whole
    seed: int = 0  # seeds the noise of the "noise" and "noisy-content" starts
    device: Device = field(default="auto", metadata=TARGETS)  # auto: cuda, then mps, then cpu
    precision: Precision = field(default="auto", metadata=TARGETS)  # auto: mixed (fp32 features, bf16 gradients) where bf16 is fast, else fp32
    vgg_weights: str = field(default_factory=default_vgg_weights, metadata=TARGETS)  # original (embedded, Caffe's), torchvision (download), random[:SEED] or a VGG19 file (nst.gatys.vgg)

    def __post_init__(self) -> None:
        self.content_layers = _as_tuple(self.content_layers, str)
        self.style_layers = _as_tuple(self.style_layers, str)
        if self.style_layer_weights is not None:
            self.style_layer_weights = _as_tuple(self.style_layer_weights, float)
        if self.style_blend_weights is not None:
            self.style_blend_weights = _as_tuple(self.style_blend_weights, float)
        self.region_colors = parse_colours(self.region_colors)
        if self.keep_color is not None:
            self.keep_color = parse_colour(self.keep_color)
        self.vgg_weights = network_name(self.vgg_weights)
        self.validate()

    def level_count(self) -> int:
        """`levels`, or for 0 as many as it takes, in level_ratio steps, to start near PRINT_START_SIDE px."""
        if self.levels:
            return self.levels
        return 1 + max(0, round(math.log(self.size / PRINT_START_SIDE) / math.log(self.level_ratio)))

    def level_side(self, below: int) -> int:
        """The long side of the level `below` levels under the finest: size / level_ratio^below,
        rounded down (the rounding to 6 places keeps 2048 / sqrt(2)^6 at 256)."""
        return int(round(self.size / self.level_ratio**below, 6))

    def style_side(self, long_side: int | None = None) -> int:
        """The style images' long side: style_scale times the output's long side (or a coarser
        level's), at least 16 px."""
        return max(16, round(self.style_scale * (long_side or self.size)))

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    @property
    def layer_weights(self) -> tuple[float, ...]:
        """w_l of eq. 5: as given, or equal weights summing to one."""
        if self.style_layer_weights is not None:
            return self.style_layer_weights
        return tuple(1.0 / len(self.style_layers) for _ in self.style_layers)

    def targets_key(self) -> tuple:
        """The values of every field marked TARGETS: what a level's targets depend on, besides its size."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("targets"))

    def replace(self, **changes) -> "GatysConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ValueError with one clear sentence for the first bad option."""
        check_choices(self)
        if not self.content_layers and not self.style_layers:
            raise ValueError("at least one content or style layer is needed")
        for layer in self.content_layers + self.style_layers:
            if layer not in VGG19_LAYER_NAMES:
                raise ValueError(
                    f"unknown VGG19 layer {layer!r}; valid names look like conv4_2, relu1_1, pool3"
                )
        _check(self.size >= 16, f"size must be at least 16 pixels; got {self.size}")
        _check(self.steps >= 0, f"steps must be zero or more; got {self.steps}")
        _check(self.levels >= 0, f"levels must be 0 (as many as start near {PRINT_START_SIDE} px) or more; got {self.levels}")
        _check(self.level_ratio > 1, f"level_ratio must be more than 1; got {self.level_ratio}")
        _check(self.step_decay > 0, f"step_decay must be positive; got {self.step_decay}")
        _check(self.coarse_steps >= 0, f"coarse_steps must be 0 (by step_decay) or more; got {self.coarse_steps}")
        _check(self.tile_size == 0 or self.tile_size >= 64, f"tile_size must be 0 (no tiles) or at least 64; got {self.tile_size}")
        _check(
            self.level_side(self.level_count() - 1) >= 16,
            f"size {self.size} is too small for {self.level_count()} levels (the coarsest needs 16 px)",
        )
        for name in ("alpha", "beta", "tv_weight"):
            value = getattr(self, name)
            _check(value >= 0, f"{name} must not be negative; got {value}")
        _check(0 <= self.iterate_average < 1, f"iterate_average must be in [0, 1); got {self.iterate_average}")
        _check(0 <= self.noise_ratio <= 1, f"noise_ratio must be in [0, 1]; got {self.noise_ratio}")
        _check(self.learning_rate > 0, f"lr must be positive; got {self.lr}")
        _check(0 < self.scheduler_gamma <= 1, "scheduler_gamma must be in (0, 1]")
        _check(self.scheduler_step_size >= 1, "scheduler_step_size must be at least 1")
        _check(self.scheduler_patience >= 0, "scheduler_patience must not be negative")
        _check(self.style_scale > 0, f"style_scale must be positive; got {self.style_scale}")
        if self.style_layer_weights is not None:
            _check(
                len(self.style_layer_weights) == len(self.style_layers),
                f"{len(self.style_layer_weights)} style layer weights for "
                f"{len(self.style_layers)} style layers",
            )
            _check(min(self.style_layer_weights, default=0) >= 0, "style layer weights must not be negative")
        if self.style_blend_weights is not None:
            _check(min(self.style_blend_weights, default=0) >= 0, "style blend weights must not be negative")
            _check(sum(self.style_blend_weights) > 0, "style blend weights must not all be zero")
        _check(bool(self.vgg_weights), "vgg_weights must be original, torchvision, random or a file path")
        if self.mask is None:
            _check(not self.region_colors and self.keep_color is None, "region_colors and keep_color need a mask")
        else:
            _check(self.style_blend_weights is None, "style_blend_weights mix the styles everywhere; with a mask each "
                   "region has its own style image")


# Presets fill several options at once; any field not named keeps its default. "study" is the
# defaults themselves; "gatys2015" the paper's own settings; "print" a 2048 px picture; "classic" the common VGG19 recipe
# of most implementations (max pooling, content relu4_2, style on all five blocks, one level).
PRESETS: dict[str, dict] = {
    "study": {},
    "gatys2015": dict(
        loss_units="paper",  # the paper's equations, and its ratio for them
        init="noise",
        steps=100,  # from noise the content has far to come: its figures are for 100 steps
        pooling="avg",
        scheduler="none",
        content_layers=("conv4_2",),
        style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        alpha=1.0,
        levels=2,  # from noise a coarse level makes the large moves cheaply (README: its figures are
        coarse_steps=0,  # for two levels that share the steps equally)
        beta=1e2,  # the paper's 1e-3 was for its network rescaled to mean activations of one; on the raw
        # original weights, from noise in 100 steps at 256 px, 1e-3 kept almost no content (edge
        # correlation 0.03, nst.quality) and 1e-2 keeps it (0.42) in the style (0.87)
    ),
    "print": dict(  # print sizes: from about 256 px up in sqrt(2) steps, most steps at the small, cheap sizes
        size=2048,
        steps=180,
        levels=0,
        level_ratio=1.414,  # sqrt(2), as a person types it
        coarse_steps=0,  # the steps are shared by step_decay, not capped at the coarse levels:
        step_decay=0.6,  # 74, 44, 26, 15, 9, 5 and 7 steps from 256 to 2048 px: a step at 2048 px costs about 100 at 256 px
    ),
    "classic": dict(
        pooling="max",
        scheduler="none",
        content_layers=("relu4_2",),
        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        levels=1,
    ),
}


# GatysConfig's choices: the CLI's, the app's radio buttons and validate() all read them from here.
CHOICES = literal_choices(GatysConfig)


def preset(name: str, **overrides) -> GatysConfig:
    """A config from a named preset, with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return GatysConfig(**{**PRESETS[name], **overrides})


def _as_tuple(values, kind) -> tuple:
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    return tuple(kind(v.strip()) if isinstance(v, str) else kind(v) for v in values)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
