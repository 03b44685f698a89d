"""The pieces of CycleGAN training (Zhu et al. 2017, section 3-4) that do not depend on how the run
is launched: the config, the losses, the history pool and the learning-rate policy.
train/cyclegan.py puts them together with Accelerate.

Code names to paper names: G_AB = G, G_BA = F, D_A = D_X, D_B = D_Y; lambda_cyc = lambda (eq. 3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from nst.cyclegan.networks import NLayerDiscriminator, ResnetGenerator, init_weights
from nst.schedules import linear_lr_factor

LrPolicy = Literal["linear", "plateau"]
LR_POLICIES = get_args(LrPolicy)


@dataclass
class CycleGANTrainConfig:
    """Hyper-parameters of a run; defaults are those of the reference implementation."""

    ngf: int = 64  # generator filters in the first layer
    ndf: int = 64  # discriminator filters in the first layer
    n_blocks: int = 9  # residual blocks: 9 for 256 px images, 6 for 128 px
    lambda_cyc: float = 10.0  # weight of the cycle-consistency L1 loss (eq. 2)
    lambda_id: float = 0.5  # identity L1 weight as a fraction of lambda_cyc (0.5 means 0.5 * lambda_cyc; 0 turns it off)
    lr: float = 2e-4  # Adam learning rate of generators and discriminators
    beta1: float = 0.5  # Adam beta1 (beta2 is 0.999)
    epochs: int = 100  # epochs at the initial learning rate
    decay_epochs: int = 100  # epochs of linear decay to zero after that (lr_policy "linear")
    lr_policy: LrPolicy = "linear"  # linear: constant, then linear decay; plateau: cut when the epoch's G loss stalls
    plateau_factor: float = 0.2  # lr_policy plateau: multiply the rate by this ...
    plateau_patience: int = 5  # ... after this many epochs without a relative improvement of ...
    plateau_threshold: float = 0.01  # ... this much in the epoch's mean generator loss
    batch_size: int = 1  # images of each domain per step
    load_size: int = 286  # images are resized to this square, then cropped to crop_size
    crop_size: int = 256  # side of the random crops trained on (a multiple of 4)
    pool_size: int = 50  # history of generated images shown to the discriminators
    n_critic: int = 1  # discriminator updates per generator update (the study's variation; 1 in the paper)
    d_clip: float | None = None  # clamp discriminator weights to [-d_clip, d_clip] after each update (WGAN-style; off by default)
    max_batches_per_epoch: int | None = None  # shorten epochs (quick studies)
    seed: int = 0  # seeds weights, data order and crops

    def __post_init__(self):
        checks = [
            (self.lr_policy in LR_POLICIES, f"lr_policy must be linear or plateau; got {self.lr_policy!r}"),
            (self.n_blocks >= 1 and self.ngf >= 1 and self.ndf >= 1, "n_blocks, ngf and ndf must be positive"),
            (self.lambda_cyc >= 0 and self.lambda_id >= 0, "lambda_cyc and lambda_id must not be negative"),
            (self.epochs >= 0 and self.decay_epochs >= 0 and self.epochs + self.decay_epochs > 0, "train for at least one epoch"),
            (self.batch_size >= 1 and self.n_critic >= 1, "batch_size and n_critic must be at least 1"),
            (self.crop_size % 4 == 0 and self.crop_size >= 16, "crop_size must be a multiple of 4, at least 16"),
            (self.load_size >= self.crop_size, "load_size must be at least crop_size"),
            (self.d_clip is None or self.d_clip > 0, "d_clip must be positive"),
            (0 < self.plateau_factor < 1 and self.plateau_patience >= 0, "plateau_factor must be in (0, 1), plateau_patience >= 0"),
            (self.max_batches_per_epoch is None or self.max_batches_per_epoch >= 1, "max_batches_per_epoch must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.decay_epochs

    def to_dict(self) -> dict:
        return asdict(self)


class Generators(nn.Module):
    """G_AB and G_BA; one forward computes everything the generator loss needs, so a
    DistributedDataParallel wrapper sees a single forward per step."""

    def __init__(self, config: CycleGANTrainConfig):
        super().__init__()
        self.g_ab = init_weights(ResnetGenerator(config.ngf, config.n_blocks))
        self.g_ba = init_weights(ResnetGenerator(config.ngf, config.n_blocks))

    def forward(self, real_a: torch.Tensor, real_b: torch.Tensor, identity: bool) -> dict[str, torch.Tensor]:
        fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
        out = {"fake_B": fake_b, "fake_A": fake_a, "rec_A": self.g_ba(fake_b), "rec_B": self.g_ab(fake_a)}
        if identity:  # G_AB should leave an image of B unchanged, and G_BA one of A
            out["idt_B"], out["idt_A"] = self.g_ab(real_b), self.g_ba(real_a)
        return out


class Discriminators(nn.Module):
    """D_A judges domain A, D_B domain B (70x70 PatchGANs)."""

    def __init__(self, config: CycleGANTrainConfig):
        super().__init__()
        self.d_a = init_weights(NLayerDiscriminator(config.ndf))
        self.d_b = init_weights(NLayerDiscriminator(config.ndf))

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.d_a(images_a), self.d_b(images_b)


def lsgan_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017): mean (D(x) - 1)^2 for real, mean D(x)^2 for fake."""
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction.float(), target.float())


def generator_losses(
    out: dict[str, torch.Tensor], real_a: torch.Tensor, real_b: torch.Tensor,
    discriminators: Discriminators, config: CycleGANTrainConfig,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """The terms of the full objective (eq. 3) from the generators' side, and their sum `G`."""
    pred_a, pred_b = discriminators(out["fake_A"], out["fake_B"])
    terms = {
        "G_gan_AB": lsgan_loss(pred_b, True),
        "G_gan_BA": lsgan_loss(pred_a, True),
        "cycle_A": F.l1_loss(out["rec_A"].float(), real_a.float()) * config.lambda_cyc,
        "cycle_B": F.l1_loss(out["rec_B"].float(), real_b.float()) * config.lambda_cyc,
    }
    if "idt_A" in out:
        weight = config.lambda_cyc * config.lambda_id
        terms["idt_A"] = F.l1_loss(out["idt_A"].float(), real_a.float()) * weight
        terms["idt_B"] = F.l1_loss(out["idt_B"].float(), real_b.float()) * weight
    terms["G"] = sum(terms.values())
    return terms


def discriminator_losses(
    discriminators: nn.Module, real_a: torch.Tensor, fake_a: torch.Tensor, real_b: torch.Tensor, fake_b: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each discriminator's loss, halved as in the paper: 0.5 (LSGAN(real) + LSGAN(fake)).

    Real and fake images go through in one batch: instance norm treats each image alone, so this
    equals two separate calls and saves a forward pass.
    """
    n_a, n_b = real_a.shape[0], real_b.shape[0]
    pred_a, pred_b = discriminators(torch.cat([real_a, fake_a.detach()]), torch.cat([real_b, fake_b.detach()]))
    loss_a = 0.5 * (lsgan_loss(pred_a[:n_a], True) + lsgan_loss(pred_a[n_a:], False))
    loss_b = 0.5 * (lsgan_loss(pred_b[:n_b], True) + lsgan_loss(pred_b[n_b:], False))
    return {"D_A": loss_a, "D_B": loss_b, "D": loss_a + loss_b}


class ImagePool:
    """History of generated images (Shrivastava et al. 2017), as in the paper: until the pool is
    full, images pass through and are stored; then each image is, with probability 1/2, swapped
    for a random stored one (which is returned instead). Its own random generator is part of its
    state, so a resumed run makes the same choices."""

    def __init__(self, size: int = 50, seed: int = 0):
        self.size, self.images = size, []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                index = int(torch.randint(len(self.images), (), generator=self.generator))
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"size": self.size, "images": [image.cpu() for image in self.images], "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.images = state["size"], list(state["images"])
        self.generator.set_state(state["rng"])


def make_lr_scheduler(optimizer: torch.optim.Optimizer, config: CycleGANTrainConfig):
    """Stepped once per epoch (nst.schedules.step_scheduler with the epoch's mean G loss):
    constant then linear decay, or reduce-on-plateau of that loss."""
    if config.lr_policy == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience, threshold=config.plateau_threshold
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: linear_lr_factor(epoch, config.epochs, config.decay_epochs))


def training_step(
    generators: nn.Module, discriminators: nn.Module, opt_g, opt_d, pools: tuple[ImagePool, ImagePool],
    real_a: torch.Tensor, real_b: torch.Tensor, config: CycleGANTrainConfig,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    judge: nn.Module | None = None,
) -> dict[str, float]:  # fmt: skip
    """One CycleGAN update: the generators first, with the discriminators frozen, then the
    discriminators n_critic times on images from the history pools. `backward` and `autocast`
    let a launcher (Accelerate) take over those two; `judge` is the discriminator pair the
    generator loss consults, unwrapped from any distributed wrapper."""
    set_requires_grad(discriminators, False)
    with autocast():
        out = generators(real_a, real_b, identity=config.lambda_id > 0)
        g_terms = generator_losses(out, real_a, real_b, judge or discriminators, config)
    opt_g.zero_grad(set_to_none=True)
    backward(g_terms["G"])
    opt_g.step()
    set_requires_grad(discriminators, True)
    fake_a, fake_b = pools[0].query(out["fake_A"]), pools[1].query(out["fake_B"])
    for _ in range(config.n_critic):
        with autocast():
            d_terms = discriminator_losses(discriminators, real_a, fake_a, real_b, fake_b)
        opt_d.zero_grad(set_to_none=True)
        backward(d_terms["D"])
        opt_d.step()
        if config.d_clip:
            with torch.no_grad():
                for parameter in discriminators.parameters():
                    parameter.clamp_(-config.d_clip, config.d_clip)
    return {name: float(value.detach()) for name, value in {**g_terms, **d_terms}.items()}


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(flag)


def sample_grid(rows: list[list[torch.Tensor]]) -> Image.Image:
    """A PNG-ready grid of (3, H, W) images in [-1, 1]: one list per row."""
    tiles = torch.stack([torch.stack(row) for row in rows])  # (R, C, 3, H, W)
    r, c, _, h, w = tiles.shape
    grid = tiles.permute(0, 3, 1, 4, 2).reshape(r * h, c * w, 3)
    array = ((grid.float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()
    return Image.fromarray(array, "RGB")
