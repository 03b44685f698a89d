"""The loss formulas of Gatys et al. (2015), checked by hand on tiny tensors."""

import pytest
import torch

from nst.gatys.losses import (augment_with_ones, content_loss, gaussian_w2, gram_matrix, moments, paper_style_scale,
                              style_layer_loss, style_loss, style_moments, style_target_gram, tv_loss)


def test_gram_matrix_is_f_f_transpose():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # N=2, M=2
    # rows (1, 2) and (3, 4): G = [[1+4, 3+8], [3+8, 9+16]]
    assert torch.equal(gram_matrix(features), torch.tensor([[5.0, 11.0], [11.0, 25.0]]))


def test_gram_matrix_is_fp32_for_bf16_features():
    features = torch.randn(1, 3, 4, 4).bfloat16()
    assert gram_matrix(features).dtype == torch.float32


def test_content_loss_is_half_sum_of_squares():
    f = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    p = torch.tensor([0.0, 2.0, 5.0]).reshape(1, 1, 1, 3)
    assert content_loss(f, p).item() == pytest.approx(0.5 * (1 + 0 + 4))


def test_style_layer_loss_normalisation():
    g = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    a = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    # sum (G - A)^2 = 1 + 1 = 2; N = 2, M = 3: 2 / (4 * 4 * 9)
    assert paper_style_scale(2, 3) == 144
    assert style_layer_loss(g, a, paper_style_scale(2, 3)).item() == pytest.approx(2 / 144)


def test_style_loss_weights_layers():
    torch.manual_seed(0)
    feats = {"a": torch.randn(1, 2, 2, 3), "b": torch.randn(1, 4, 1, 2)}
    targets = {"a": torch.randn(2, 2), "b": torch.randn(4, 4)}
    expected = 0.25 * ((gram_matrix(feats["a"]) - targets["a"]) ** 2).sum() / (4 * 2**2 * 6**2) + 0.75 * (
        (gram_matrix(feats["b"]) - targets["b"]) ** 2
    ).sum() / (4 * 4**2 * 2**2)
    grams = {name: gram_matrix(f) for name, f in feats.items()}
    scales = {"a": paper_style_scale(2, 6), "b": paper_style_scale(4, 2)}
    assert style_loss(grams, targets, scales, {"a": 0.25, "b": 0.75}).item() == pytest.approx(expected.item())


def test_style_target_gram_rescales_to_generated_positions():
    gram = gram_matrix(torch.randn(1, 3, 4, 5))  # over 20 positions
    assert torch.equal(style_target_gram(gram, 20, 20), gram)
    assert torch.allclose(style_target_gram(gram, 20, 40), 2 * gram)


def test_tv_loss_by_hand():
    image = torch.tensor([[1.0, 2.0], [4.0, 8.0]]).reshape(1, 1, 2, 2)
    # horizontal: (2-1)^2 + (8-4)^2 = 17; vertical: (4-1)^2 + (8-2)^2 = 45
    assert tv_loss(image).item() == pytest.approx(62.0)


def test_gram_gradient_is_f_times_symmetrised_upstream_gradient():
    # dL/dF for L = sum(W * G) with G = F F^T is (W + W^T) F; compare with autograd's own matmul.
    features = torch.randn(1, 3, 4, 5)
    weight = torch.randn(3, 3)  # not symmetric, so both halves of the formula matter
    ours = features.clone().requires_grad_(True)
    (weight * gram_matrix(ours)).sum().backward()
    plain = features.clone().requires_grad_(True)
    flat = plain.flatten(2).squeeze(0)
    (weight * (flat @ flat.T)).sum().backward()
    assert torch.allclose(ours.grad, plain.grad, atol=1e-5)
    assert torch.allclose(ours.grad[0].flatten(1), (weight + weight.T) @ features[0].flatten(1), atol=1e-5)


def test_gram_matrix_of_channels_last_features():
    features = torch.randn(1, 4, 3, 5)
    assert torch.allclose(gram_matrix(features.contiguous(memory_format=torch.channels_last)), gram_matrix(features))


def test_relative_units_divide_each_term_by_its_targets_squared_norm():
    f = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    p = torch.tensor([0.0, 2.0, 5.0]).reshape(1, 1, 1, 3)
    assert content_loss(f, p, p.pow(2).sum()).item() == pytest.approx((1 + 0 + 4) / 29)
    g = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    a = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert style_layer_loss(g, a, a.pow(2).sum()).item() == pytest.approx(2 / 3)
    # the point of relative units: a layer (or a picture) with features k times larger weighs the same
    for k in (1e-3, 7.0, 1e4):
        assert style_layer_loss(k * g, k * a, (k * a).pow(2).sum()).item() == pytest.approx(2 / 3, rel=1e-5)
        assert content_loss(k * f, k * p, (k * p).pow(2).sum()).item() == pytest.approx(5 / 29, rel=1e-5)


def test_tv_loss_mean_is_over_the_values():
    image = torch.tensor([[1.0, 2.0], [4.0, 8.0]]).reshape(1, 1, 2, 2)
    assert tv_loss(image, mean=True).item() == pytest.approx(62.0 / 4)


def test_the_augmented_gram_holds_the_features_mean_and_covariance():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, 3, 5, 4, generator=generator, dtype=torch.float64)
    flat = features.reshape(3, 20)
    gram = augment_with_ones(features).reshape(4, 20) @ augment_with_ones(features).reshape(4, 20).T
    assert torch.allclose(gram[-1, -1], torch.tensor(20.0, dtype=torch.float64))
    mean, covariance = moments(gram)
    assert torch.allclose(mean, flat.mean(1))
    assert torch.allclose(covariance, torch.cov(flat, correction=0))


def test_gaussian_w2_is_the_closed_form_for_commuting_covariances():
    # For Sigma and Sigma_s with the same eigenvectors, W2^2 = |mu - mu_s|^2 + sum (sigma_i - sigma_s,i)^2.
    generator = torch.Generator().manual_seed(1)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    def gram_of(mean, variances):
        covariance = rotation @ torch.diag(torch.tensor(variances, dtype=torch.float64)) @ rotation.T
        mean = torch.tensor(mean, dtype=torch.float64)
        second = covariance + torch.outer(mean, mean)  # E[x x^T], times M = 10 positions
        return 10 * torch.cat([torch.cat([second, mean[:, None]], 1), torch.cat([mean, torch.ones(1, dtype=torch.float64)])[None]], 0)
    generated, style = gram_of([1.0, 0.0, 2.0], [4.0, 1.0, 0.25]), gram_of([0.0, 0.5, 2.0], [1.0, 9.0, 0.25])
    expected = (1 + 0.25 + 0) + ((2 - 1) ** 2 + (1 - 3) ** 2 + (0.5 - 0.5) ** 2)
    assert gaussian_w2(generated, style, style_moments(style)).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_w2(style, style, style_moments(style)).item() == pytest.approx(0.0, abs=1e-6)


def test_gaussian_w2_gradient_matches_finite_differences():
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(1, 3, 4, 5, generator=generator, dtype=torch.float64).requires_grad_(True)
    style = augment_with_ones(torch.randn(1, 3, 6, 5, generator=generator, dtype=torch.float64))
    style_gram = style.reshape(4, 30) @ style.reshape(4, 30).T
    root = style_moments(style_gram)

    def w2(x):
        flat = augment_with_ones(x).reshape(4, 20)
        return gaussian_w2(flat @ flat.T, style_gram, root)

    assert torch.autograd.gradcheck(w2, (features,), eps=1e-6, atol=1e-5)
