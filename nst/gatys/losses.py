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


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_content = 1/2 sum_ij (F_ij - P_ij)^2 for one layer (eq. 1)."""
    return 0.5 * (features.float() - target.float()).pow(2).sum()


def style_layer_loss(gram: torch.Tensor, target_gram: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2 (eq. 4)."""
    return (gram - target_gram).pow(2).sum() / (4.0 * n**2 * m**2)


def style_loss(
    grams: dict[str, torch.Tensor],
    target_grams: dict[str, torch.Tensor],
    positions: dict[str, float],
    layer_weights: dict[str, float],
) -> torch.Tensor:
    """L_style = sum_l w_l E_l over the style layers (eq. 5), from the generated image's Gram
    matrices G^l and the targets A^l over M_l = `positions[l]` positions.

    With a region's mask m (Gatys et al. 2017, "Controlling Perceptual Factors", eq. 5-6) G^l is
    the Gram matrix of the masked features, (F m)(F m)^T, M_l the region's sum m^2, and A^l the
    style image's Gram rescaled to M_l (style_target_gram): E_l is then normalised by the
    region's M_l^2 as eq. 4 normalises by the layer's. A mask of ones is the plain loss."""
    total = torch.zeros((), device=next(iter(target_grams.values())).device)
    for layer, weight in layer_weights.items():
        gram = grams[layer]
        total = total + weight * style_layer_loss(gram, target_grams[layer], gram.shape[0], positions[layer])
    return total


def style_target_gram(style_gram: torch.Tensor, style_positions: float, positions: float) -> torch.Tensor:
    """A^l for a generated layer (or region) of M_l = `positions` positions, from the style
    image's F F^T over its own `style_positions`: equal when both have as many positions, else
    rescaled by M_generated / M_style, since G sums over positions."""
    return style_gram * (positions / style_positions)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """L_tv = sum (x[i, j+1] - x[i, j])^2 + sum (x[i+1, j] - x[i, j])^2 over pixels and channels."""
    image = image.float()
    return (image[..., :, 1:] - image[..., :, :-1]).pow(2).sum() + (
        image[..., 1:, :] - image[..., :-1, :]
    ).pow(2).sum()
