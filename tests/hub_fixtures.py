"""Test helpers: a Hugging Face Hub cache filled by hand, and independent builds of the two
generator layouts found in the wild (written from their published descriptions, not imported
from nst), so that loading is checked against networks nst did not build; and seeded copies of
nst's own networks to compare them with."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import torch
from torch import nn

from nst.cyclegan.networks import init_weights


def fill_hub_cache(cache_dir: Path, repo_id: str, files: dict[str, Path], revision: str = "main") -> Path:
    """Lay `files` out as huggingface_hub's cache does after a download: blobs named by hash,
    a snapshot folder per commit with links to them, and refs/<revision> naming the commit."""
    repo_dir = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    for name, source in files.items():
        blob = repo_dir / "blobs" / hashlib.sha256(Path(source).read_bytes()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, blob)
        link = repo_dir / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(blob)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / revision).write_text(commit)
    return repo_dir


def _instance_norm_relu(channels, affine=False):
    return [nn.InstanceNorm2d(channels, affine=affine), nn.ReLU(True)]


class _Residual(nn.Module):
    def __init__(self, channels: int, attribute: str, affine: bool = False, dropout: bool = False):
        super().__init__()
        self.attribute = attribute
        setattr(self, attribute, nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), *_instance_norm_relu(channels, affine),
            *([nn.Dropout(0.5)] if dropout else []),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels, affine=affine),
        ))  # fmt: skip

    def forward(self, x):
        return x + getattr(self, self.attribute)(x)


class _Sequential(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def wild_generator(ngf: int = 64, n_blocks: int = 9, upsampling: str = "transpose", attribute: str = "conv_block",
                   affine: bool = False, dropout: bool = False) -> nn.Module:  # fmt: skip
    """A CycleGAN ResNet generator as published checkpoints build it: upsampling by transposed
    convolutions (junyanz/pytorch-CycleGAN-and-pix2pix) or nearest + 3x3 convolution
    (huggingface/community-events), residual blocks in `conv_block` or `block`, instance norm
    with or without affine parameters, with or without --use_dropout."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), *_instance_norm_relu(ngf, affine)]
    layers += [nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), *_instance_norm_relu(2 * ngf, affine)]
    layers += [nn.Conv2d(2 * ngf, 4 * ngf, 3, 2, 1), *_instance_norm_relu(4 * ngf, affine)]
    layers += [_Residual(4 * ngf, attribute, affine, dropout) for _ in range(n_blocks)]
    for channels in (4 * ngf, 2 * ngf):
        if upsampling == "transpose":
            layers += [nn.ConvTranspose2d(channels, channels // 2, 3, 2, 1, output_padding=1)]
        else:
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(channels, channels // 2, 3, 1, 1)]
        layers += _instance_norm_relu(channels // 2, affine)
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return _Sequential(layers).eval()


def reference_generator(ngf: int = 64, n_blocks: int = 9) -> nn.Module:
    """junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator (instance norm, no dropout)."""
    return wild_generator(ngf, n_blocks, "transpose", "conv_block")


def huggan_generator(n_blocks: int = 9) -> nn.Module:
    """huggingface/community-events GeneratorResNet: nearest upsampling then a 3x3 convolution."""
    return wild_generator(64, n_blocks, "nearest", "block")


def with_legacy_instance_norm_keys(state: dict, model: nn.Module) -> dict:
    """Add the running statistics that instance norm saved in PyTorch before 0.4."""
    import torch

    state = dict(state)
    for name, module in model.named_modules():
        if isinstance(module, nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.zeros(module.num_features)
            state[f"{name}.running_var"] = torch.ones(module.num_features)
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return state


def seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, affine norm parameters included (so that loading them matters)."""
    torch.manual_seed(seed)
    init_weights(module)
    for norm in module.modules():
        if isinstance(norm, (nn.InstanceNorm2d, nn.GroupNorm)) and norm.affine:
            nn.init.normal_(norm.weight, 1.0, 0.2)
            nn.init.normal_(norm.bias, 0.0, 0.2)
    return module


def same_output(a: nn.Module, b: nn.Module, size=(1, 3, 36, 44)) -> bool:
    x = torch.rand(size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-5)
