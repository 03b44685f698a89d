"""How good a stylised picture is, judged by measures that no run optimises.

A Gatys run lowers its own loss; a low loss is not a good picture (a diverged run has a loss, a
random network has a loss). These two measures look at the picture with other eyes:

- style: how far the picture's style moved from the content's toward the style image's, seen by
  Magenta's style-prediction network P (Ghiasi et al. 2017; nst.feedforward's, trained to
  describe painting styles as 100-d vectors): the projection of P(x) - P(c) on P(s) - P(c),
  over |P(s) - P(c)|^2. 0: the content's own style; 1: the style image's.
- structure: how much of the content's layout is kept: the correlation of the two pictures' edge
  strengths (Sobel) after a blur that hides brush strokes, at STRUCTURE_SIDE px. 1: the content's
  edges exactly; 0: unrelated (noise, or the style image).

They are judges only: never add them to a loss or tune a run against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nst import color
from nst.feedforward.magenta import STYLE_SIDE, centre_square, predict_style, load_models
from nst.images import fit_long_side, gaussian_blur, image_to_tensor, load_image

STRUCTURE_SIDE = 128  # long side where the edges are compared: the layout, not the strokes
BLUR_SIGMA = 1.0  # px at STRUCTURE_SIDE


@dataclass(frozen=True)
class Quality:
    """The two measures of a picture against its content and style images."""

    style: float  # 0: the content's style, 1: the style image's (P's projection)
    structure: float  # correlation of blurred edge strengths with the content's, in [-1, 1]


def style_vector(image) -> np.ndarray:
    """P(image): Magenta's 100-d style vector of the image's centre square, as nst.feedforward.magenta reads a style."""
    square = centre_square(load_image(image, max_side=4 * STYLE_SIDE))
    return predict_style(load_models("cpu"), image_to_tensor(square, (STYLE_SIDE, STYLE_SIDE))).reshape(-1)


def style_progress(picture, content, style) -> float:
    """The projection of P(picture) - P(content) on P(style) - P(content), over |P(style) - P(content)|^2."""
    v_content = style_vector(content)
    toward = style_vector(style) - v_content
    return float(np.dot(style_vector(picture) - v_content, toward) / np.dot(toward, toward))


def structure_kept(picture, content) -> float:
    """Pearson correlation of the Sobel edge strengths of the blurred luminances, both at the
    content's aspect ratio and STRUCTURE_SIDE px."""
    content = load_image(content)
    size = fit_long_side(content.width, content.height, STRUCTURE_SIDE)
    a, b = (_edges(image_to_tensor(load_image(image), size)).flatten() for image in (picture, content))
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def judge(picture, content, style) -> Quality:
    return Quality(style_progress(picture, content, style), structure_kept(picture, content))


def _edges(image_t: torch.Tensor) -> torch.Tensor:
    """|Sobel| of the Gaussian-blurred luminance of a (1, 3, H, W) image: (1, 1, H, W)."""
    luma = color.luminance(image_t)[:, :1]
    luma = gaussian_blur(luma.float(), BLUR_SIGMA)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    luma = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(luma, sobel.view(1, 1, 3, 3))
    gy = F.conv2d(luma, sobel.T.reshape(1, 1, 3, 3))
    return (gx**2 + gy**2).sqrt()
