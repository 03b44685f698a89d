"""Colour preservation of Gatys et al. (2016), "Controlling Perceptual Factors in Neural Style
Transfer", section 3: transfer on luminance only, or match the style's colour statistics first.

All functions take and return (1, 3, H, W) RGB tensors in [0, 1] (YIQ tensors for the YIQ pair).
"""

from __future__ import annotations

from typing import Literal

import torch

# none; luminance: transfer on the luminance only (section 3.1); histogram: match the style's colour
# statistics to the content's first (section 3.2)
PreserveColor = Literal["none", "luminance", "histogram"]

# NTSC YIQ: Y is the luminance, I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y channel repeated three times, so VGG sees a grey image: (1, 3, H, W)."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_luma: torch.Tensor, content_luma: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luminance to the content's mean and std (2016, eq. 6)."""
    s_mean, s_std = style_luma.mean(), style_luma.std()
    c_mean, c_std = content_luma.mean(), content_luma.std()
    return (style_luma - s_mean) * (c_std / s_std.clamp_min(1e-8)) + c_mean


def combine_luminance(luma_rgb: torch.Tensor, colour_source: torch.Tensor) -> torch.Tensor:
    """The luminance of the first image with the I and Q (colour) channels of the second."""
    yiq = rgb_to_yiq(colour_source)
    yiq = torch.cat([rgb_to_yiq(luma_rgb)[:, :1], yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq)


def match_color_statistics(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Affine colour transform giving `source` the RGB mean and covariance of `target`.

    x' = A (x - mu_s) + mu_t with A = Sigma_t^(1/2) Sigma_s^(-1/2), the symmetric
    ("image analogies") variant of 2016, section 3.1. Not clamped, so the statistics match exactly.
    """
    src = source.double().flatten(2).squeeze(0)  # (3, H*W)
    tgt = target.double().flatten(2).squeeze(0)
    mu_s, mu_t = src.mean(1, keepdim=True), tgt.mean(1, keepdim=True)
    cov_s, cov_t = torch.cov(src), torch.cov(tgt)
    transform = _sqrtm(cov_t) @ torch.linalg.inv(_sqrtm(cov_s + 1e-8 * torch.eye(3, dtype=cov_s.dtype)))
    out = transform @ (src - mu_s) + mu_t
    return out.reshape(source.shape).to(source.dtype)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
