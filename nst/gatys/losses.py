"""The losses of Gatys et al. (2015), "A Neural Algorithm of Artistic Style", exactly as written.

F is a layer's feature map of the generated image reshaped to (N_l, M_l): N_l filters by
M_l = H * W positions. All functions compute in float32 whatever precision the features have.
"""

from __future__ import annotations

import torch


class _Gram(torch.autograd.Function):
    """G = F^T F for F of shape (M, N), with dL/dF = F (dG + dG^T) as one matrix product.

    Autograd's own backward of F^T @ F takes two products and a sum, the largest cost of the
    Gram matrices at 512 px on CPU (bench/gatys.py).
    """

    @staticmethod
    def forward(ctx, flat):
        ctx.save_for_backward(flat)
        return flat.T @ flat

    @staticmethod
    def backward(ctx, grad):
        (flat,) = ctx.saved_tensors
        return flat @ (grad + grad.T)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G^l = F^l (F^l)^T (eq. 3) for features of shape (1, N, H, W); returns (N, N) in fp32."""
    # As (M, N) positions by filters: a view, without a copy, of channels-last features.
    flat = features.float().permute(0, 2, 3, 1).reshape(-1, features.shape[1])
    return _Gram.apply(flat)


def content_loss(features: torch.Tensor, target: torch.Tensor, scale: float = 2.0) -> torch.Tensor:
    """sum_ij (F_ij - P_ij)^2 / scale for one layer: scale 2 is eq. 1's L_content; relative
    units (GatysConfig.loss_units) divide by |P|^2 instead."""
    return (features.float() - target.float()).pow(2).sum() / scale


def paper_style_scale(n: int, m: float) -> float:
    """The denominator 4 N_l^2 M_l^2 of eq. 4."""
    return 4.0 * n**2 * m**2


def style_layer_loss(gram: torch.Tensor, target_gram: torch.Tensor, scale: float) -> torch.Tensor:
    """E_l = sum_ij (G_ij - A_ij)^2 / scale: eq. 4 with scale = paper_style_scale(N_l, M_l);
    relative units divide by |A|^2 instead, so that each layer counts by its relative error."""
    return (gram - target_gram).pow(2).sum() / scale


def style_loss(
    grams: dict[str, torch.Tensor],
    target_grams: dict[str, torch.Tensor],
    scales: dict[str, float],
    layer_weights: dict[str, float],
    roots: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """L_style = sum_l w_l E_l over the style layers (eq. 5), from the generated image's Gram
    matrices G^l, the targets A^l and each layer's denominator `scales[l]`.

    With `roots` (the style's covariance square roots, style_moments), E_l is instead the
    Wasserstein-2 distance between Gaussians fitted to the features (gaussian_w2), and G^l, A^l
    are the Grams of the features with a channel of ones appended (augment_with_ones).

    With a region's mask m (Gatys et al. 2017, "Controlling Perceptual Factors", eq. 5-6) G^l is
    the Gram matrix of the masked features, (F m)(F m)^T, and A^l the style image's Gram rescaled
    to the region's M_l = sum m^2 (style_target_gram). A mask of ones is the plain loss."""
    total = torch.zeros((), device=next(iter(target_grams.values())).device)
    for layer, weight in layer_weights.items():
        if roots is None:
            term = style_layer_loss(grams[layer], target_grams[layer], scales[layer])
        else:
            term = gaussian_w2(grams[layer], target_grams[layer], roots[layer]) / scales[layer]
        total = total + weight * term
    return total


def augment_with_ones(features: torch.Tensor, ones: torch.Tensor | None = None) -> torch.Tensor:
    """Features (1, N, H, W) with a channel of ones (or of the region's mask) appended: their
    Gram matrix [[F F^T, F 1], [1^T F^T, M]] holds the sum of the features and the count of the
    positions beside F F^T, all sums over positions, so tiles add up as plain Grams do."""
    ones = torch.ones_like(features[:, :1]) if ones is None else ones.to(features.dtype).expand_as(features[:, :1])
    return torch.cat([features, ones], 1)


def moments(augmented_gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean mu, covariance Sigma) of the features, from the Gram of augment_with_ones."""
    count = augmented_gram[-1, -1]
    mean = augmented_gram[:-1, -1] / count
    return mean, augmented_gram[:-1, :-1] / count - torch.outer(mean, mean)


def style_moments(augmented_gram: torch.Tensor) -> torch.Tensor:
    """Sigma_s^1/2 of a style layer, computed once with its targets for gaussian_w2."""
    values, vectors = torch.linalg.eigh(moments(augmented_gram)[1].double())
    return ((vectors * values.clamp_min(0).sqrt()) @ vectors.T).to(augmented_gram.dtype)


class _TraceSqrt(torch.autograd.Function):
    """tr X^1/2 of a symmetric positive semi-definite X, with d tr X^1/2 / dX = X^-1/2 / 2."""

    @staticmethod
    def forward(ctx, x):
        values, vectors = torch.linalg.eigh(x.double())
        values = values.clamp_min(0)
        ctx.save_for_backward(values, vectors)
        return values.sqrt().sum().to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        values, vectors = ctx.saved_tensors
        floor = 1e-8 * values.max().clamp_min(1e-30)  # a rank-deficient Sigma (flat regions) stays finite
        inverse_root = (vectors / values.clamp_min(floor).sqrt()) @ vectors.T
        return (grad.double() * 0.5 * inverse_root).to(grad.dtype)


def gaussian_w2(gram: torch.Tensor, target_gram: torch.Tensor, target_root: torch.Tensor) -> torch.Tensor:
    """The squared Wasserstein-2 distance between Gaussians fitted to the generated features and
    the style's: |mu - mu_s|^2 + tr Sigma + tr Sigma_s - 2 tr (Sigma_s^1/2 Sigma Sigma_s^1/2)^1/2
    (the style loss of crowsonkb/style-transfer-pytorch), from the Grams of augment_with_ones."""
    mean, covariance = moments(gram)
    target_mean, target_covariance = moments(target_gram)
    cross = _TraceSqrt.apply(target_root @ covariance @ target_root)
    return (mean - target_mean).pow(2).sum() + covariance.trace() + target_covariance.trace() - 2 * cross


def style_target_gram(style_gram: torch.Tensor, style_positions: float, positions: float) -> torch.Tensor:
    """A^l for a generated layer (or region) of M_l = `positions` positions, from the style
    image's F F^T over its own `style_positions`: equal when both have as many positions, else
    rescaled by M_generated / M_style, since G sums over positions."""
    return style_gram * (positions / style_positions)


def tv_loss(image: torch.Tensor, mean: bool = False) -> torch.Tensor:
    """L_tv = sum (x[i, j+1] - x[i, j])^2 + sum (x[i+1, j] - x[i, j])^2 over pixels and channels;
    `mean`: over the number of values instead (relative units, the same at every size)."""
    image = image.float()
    total = (image[..., :, 1:] - image[..., :, :-1]).pow(2).sum() + (image[..., 1:, :] - image[..., :-1, :]).pow(2).sum()
    return total / image.numel() if mean else total
