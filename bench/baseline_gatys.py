"""A textbook Gatys et al. (2015) implementation, written the way the usual PyTorch tutorial does
it, as the yardstick for bench/gatys.py. Deliberately plain: VGG19 (the run's network) cut after
relu5_1 (or the deepest layer asked for), fp32, contiguous tensors, LBFGS with a closure that
clamps the image, the study's loss formulas, by default style on relu1_1..relu5_1 and content on
relu4_2 with max pooling. Not used by the app.
"""

from __future__ import annotations

import torch
from torch import nn

from nst.gatys.vgg import VGG19, VGG19_LAYER_NAMES, NetworkInput

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)


class TextbookVGG(nn.Module):
    """vgg19().features up to the deepest wanted layer with out-of-place ReLUs (and average
    pooling if asked, as the tutorial suggests); returns the wanted activations. Pixels are put
    into the network's input convention (channel order, range, mean and std) first."""

    def __init__(self, network: VGG19, wanted=STYLE_LAYERS + CONTENT_LAYERS, pooling="max"):
        super().__init__()
        self.wanted = set(wanted)
        last = max(VGG19_LAYER_NAMES.index(name) for name in wanted)
        layers = []
        for module in list(network.features)[: last + 1]:
            if isinstance(module, nn.ReLU):
                module = nn.ReLU(inplace=False)
            elif isinstance(module, nn.MaxPool2d) and pooling == "avg":
                module = nn.AvgPool2d(2, 2)
            layers.append(module)
        self.layers = nn.ModuleList(layers)
        self.network_input = NetworkInput(network.convention)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x):
        x = self.network_input(x)
        out = {}
        for name, layer in zip(VGG19_LAYER_NAMES, self.layers):
            x = layer(x)
            if name in self.wanted:
                out[name] = x
        return out


def gram(x):
    _, c, h, w = x.size()
    f = x.view(c, h * w)
    return torch.mm(f, f.t())


class TextbookLoss:
    """L_total = alpha * L_content + beta * L_style with the paper's normalisation; fp32."""

    def __init__(self, model: TextbookVGG, content: torch.Tensor, style: torch.Tensor, alpha=10.0, beta=1e6,
                 style_layers=STYLE_LAYERS, content_layers=CONTENT_LAYERS):  # fmt: skip
        self.model, self.alpha, self.beta = model, alpha, beta
        with torch.no_grad():
            self.content_targets = {k: v.detach() for k, v in model(content).items() if k in content_layers}
            style_features = model(style)
            positions = {k: v.shape[2] * v.shape[3] for k, v in model(content).items()}
            # the style Gram, scaled to the generated image's positions (equal sizes: unchanged)
            self.style_targets = {
                k: gram(style_features[k]) * positions[k] / (style_features[k].shape[2] * style_features[k].shape[3])
                for k in style_layers
            }

    def __call__(self, image):
        features = self.model(image)
        content = sum(0.5 * ((features[k] - t) ** 2).sum() for k, t in self.content_targets.items())
        style = 0
        for k, target in self.style_targets.items():
            _, n, h, w = features[k].shape
            style = style + (1 / len(self.style_targets)) * ((gram(features[k]) - target) ** 2).sum() / (4 * n**2 * (h * w) ** 2)
        return self.alpha * content + self.beta * style


def textbook_stylize(loss: TextbookLoss, start: torch.Tensor, evaluations: int, on_evaluation=None,
                     line_search: str | None = None) -> tuple[torch.Tensor, list[float]]:  # fmt: skip
    """LBFGS from a copy of `start` (the content image, in the tutorial) for `evaluations`
    loss-and-gradient evaluations: the tutorial's plain steps (lr 1), or with torch's
    `line_search="strong_wolfe"`, which does not stall where the plain step overshoots on the
    large losses of Caffe-scale features. `on_evaluation(count, image)`, if given, sees the
    clamped image each evaluation scored (bench/gatys.py keeps some of them for its curves)."""
    image = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], line_search_fn=line_search)
    history: list[float] = []

    def closure():
        with torch.no_grad():
            image.clamp_(0, 1)
        optimizer.zero_grad()
        value = loss(image)
        value.backward()
        history.append(value.item())
        if on_evaluation is not None:
            on_evaluation(len(history), image)
        return value

    while len(history) < evaluations:
        optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, 1)
    return image.detach(), history  # LBFGS may run a few evaluations past the request
