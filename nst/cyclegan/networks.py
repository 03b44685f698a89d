"""CycleGAN networks of Zhu et al. (2017), "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", in the state-dict layout of the reference implementation
(junyanz/pytorch-CycleGAN-and-pix2pix: `resnet_9blocks`, `--norm instance`, no dropout), so its
published checkpoints load with strict key matching.

Paper names: G_AB is G (X -> Y), G_BA is F (Y -> X), D_B is D_Y and D_A is D_X.
"""

from __future__ import annotations

from huggingface_hub import PyTorchModelHubMixin
from torch import nn

UPSAMPLINGS = ("transpose", "nearest")


def instance_norm(channels: int, affine: bool = False) -> nn.Module:
    """Instance normalisation, without affine parameters as in the paper (some checkpoints have them).

    Written as GroupNorm with one channel per group: the same computation (and the same state
    dict keys and shapes), but it works on channels-last tensors without copying them, which
    nn.InstanceNorm2d does not; that makes bf16 inference on CPU several times faster (bench/).
    """
    return nn.GroupNorm(channels, channels, eps=1e-5, affine=affine)


class ResnetBlock(nn.Module):
    """R256: two reflection-padded 3x3 convolutions with instance norm and a skip connection
    (with `dropout`, the reference implementation's --use_dropout: Dropout(0.5) between them)."""

    def __init__(self, channels: int, norm_affine: bool = False, dropout: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            instance_norm(channels, norm_affine),
            nn.ReLU(True),
            *([nn.Dropout(0.5)] if dropout else []),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            instance_norm(channels, norm_affine),
        )

    def forward(self, x):
        return x + self.conv_block(x)


def _conv_norm_relu(conv: nn.Module, channels: int, affine: bool) -> list[nn.Module]:
    return [conv, instance_norm(channels, affine), nn.ReLU(True)]


class ResnetGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="nst",
    tags=["cyclegan", "image-to-image", "style-transfer"],
    license="mit",
    pipeline_tag="image-to-image",
    paper_url="https://arxiv.org/abs/1703.10593",
):
    """c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, Tanh; images in [-1, 1].

    upsampling="transpose" is the paper's (fractionally strided convolutions, key layout of the
    reference implementation); "nearest" is the HugGAN variant (nearest-neighbour upsampling then a
    3x3 convolution), which most CycleGAN generators on the Hugging Face Hub use. norm_affine and
    dropout are variants found in the wild (instance norm with weight and bias; --use_dropout).
    """

    architecture = "resnet"  # its name in GENERATORS and in a saved config.json
    input_multiple = 4  # two stride-2 stages: input sides must be multiples of 2**2

    def __init__(self, ngf: int = 64, n_blocks: int = 9, upsampling: str = "transpose", norm_affine: bool = False,
                 dropout: bool = False):  # fmt: skip
        super().__init__()
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"upsampling must be one of {UPSAMPLINGS}; got {upsampling!r}")
        self.hub_config = {"architecture": self.architecture, "ngf": ngf, "n_blocks": n_blocks, "upsampling": upsampling,
                           "norm_affine": norm_affine, "dropout": dropout}  # fmt: skip
        layers = [nn.ReflectionPad2d(3), *_conv_norm_relu(nn.Conv2d(3, ngf, 7), ngf, norm_affine)]
        for mult in (1, 2):  # d128, d256
            down = nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1)
            layers += _conv_norm_relu(down, ngf * mult * 2, norm_affine)
        layers += [ResnetBlock(ngf * 4, norm_affine, dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # u128, u64
            if upsampling == "transpose":
                up = [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1)]
            else:
                up = [nn.Upsample(scale_factor=2), nn.Conv2d(ngf * mult, ngf * mult // 2, 3, padding=1)]
            layers += up[:-1] + _conv_norm_relu(up[-1], ngf * mult // 2, norm_affine)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):  # (B, 3, H, W) in [-1, 1], H and W multiples of 4
        return self.model(x)


# Generator architectures by the name a saved config.json gives ("architecture"); a new one is a
# class with `architecture`, `input_multiple` and `hub_config`, added here.
GENERATORS: dict[str, type[nn.Module]] = {ResnetGenerator.architecture: ResnetGenerator}


def generator_class(config: dict) -> type[nn.Module]:
    """The class a saved generator config names."""
    name = config["architecture"]
    if name not in GENERATORS:
        raise ValueError(f"unknown generator architecture {name!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[name]


class NLayerDiscriminator(nn.Module):
    """70x70 PatchGAN: C64 (no norm) - C128 - C256 - C512 (stride 1) - 1-channel conv.

    Each output pixel judges one 70x70 patch; a 256x256 input gives a 30x30 map.
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(3, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=1), instance_norm(out), nn.LeakyReLU(0.2, True)]
            channels = out
        layers += [nn.Conv2d(channels, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def init_weights(net: nn.Module, std: float = 0.02) -> nn.Module:
    """Convolution weights ~ N(0, 0.02), biases 0, as in the paper's training setup."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, std)
            nn.init.zeros_(module.bias)
    return net
