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
    features: dict[str, torch.Tensor],
    target_grams: dict[str, torch.Tensor],
    layer_weights: dict[str, float],
) -> torch.Tensor:
    """L_style = sum_l w_l E_l over the style layers (eq. 5)."""
    total = torch.zeros((), device=next(iter(target_grams.values())).device)
    for layer, weight in layer_weights.items():
        n, m = features[layer].shape[1], features[layer].shape[2] * features[layer].shape[3]
        total = total + weight * style_layer_loss(gram_matrix(features[layer]), target_grams[layer], n, m)
    return total


def guided_style_loss(
    features: dict[str, torch.Tensor],
    style_grams: dict[str, tuple[torch.Tensor, int]],
    masks: dict[str, tuple[torch.Tensor, float]],
    layer_weights: dict[str, float],
) -> torch.Tensor:
    """L_style of one region (Gatys et al. 2017, "Controlling Perceptual Factors", eq. 5-6): the
    Gram matrix of the features weighted by the region's mask at each layer, G_r = (F m)(F m)^T,
    against the style image's F F^T rescaled to the region's M_r = sum m^2 positions (as
    style_target_gram rescales to a layer's M_l), each E_l normalised by M_r^2 as eq. 4 normalises
    by M_l^2. `style_grams` holds (F F^T, M_style) of the region's style image per layer, `masks`
    (m, sum m^2) per layer. A mask of ones is the whole picture: exactly style_loss against
    style_target_gram."""
    total = torch.zeros((), device=next(iter(masks.values()))[0].device)
    for layer, weight in layer_weights.items():
        mask, positions = masks[layer]
        gram = gram_matrix(features[layer] * mask.to(features[layer].dtype))
        style_gram, style_positions = style_grams[layer]
        target = style_gram * (positions / style_positions)
        total = total + weight * style_layer_loss(gram, target, features[layer].shape[1], positions)
    return total


def style_target_gram(style_features: torch.Tensor, positions: int) -> torch.Tensor:
    """A^l for a generated layer of `positions` = M_l positions.

    Equal to F F^T of the style image when both images have the same size; for a style image of
    another size the Gram is rescaled by M_generated / M_style, since G sums over positions.
    """
    m_style = style_features.shape[2] * style_features.shape[3]
    return gram_matrix(style_features) * (positions / m_style)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """L_tv = sum (x[i, j+1] - x[i, j])^2 + sum (x[i+1, j] - x[i, j])^2 over pixels and channels."""
    image = image.float()
    return (image[..., :, 1:] - image[..., :, :-1]).pow(2).sum() + (
        image[..., 1:, :] - image[..., :-1, :]
    ).pow(2).sum()
