"""The loss formulas of Gatys et al. (2015), checked by hand on tiny tensors."""

import pytest
import torch

from nst.gatys.losses import content_loss, gram_matrix, style_layer_loss, style_loss, style_target_gram, tv_loss


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
    assert style_layer_loss(g, a, n=2, m=3).item() == pytest.approx(2 / 144)


def test_style_loss_weights_layers():
    torch.manual_seed(0)
    feats = {"a": torch.randn(1, 2, 2, 3), "b": torch.randn(1, 4, 1, 2)}
    targets = {"a": torch.randn(2, 2), "b": torch.randn(4, 4)}
    expected = 0.25 * ((gram_matrix(feats["a"]) - targets["a"]) ** 2).sum() / (4 * 2**2 * 6**2) + 0.75 * (
        (gram_matrix(feats["b"]) - targets["b"]) ** 2
    ).sum() / (4 * 4**2 * 2**2)
    grams = {name: gram_matrix(f) for name, f in feats.items()}
    assert style_loss(grams, targets, {"a": 6, "b": 2}, {"a": 0.25, "b": 0.75}).item() == pytest.approx(expected.item())


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
