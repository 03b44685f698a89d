"""Learning-rate schedules shared by the Gatys engine and CycleGAN training."""

from __future__ import annotations

import torch


def linear_lr_factor(epoch: int, epochs: int, decay_epochs: int) -> float:
    """Learning-rate multiplier for 0-based `epoch`: 1 for `epochs` epochs, then down by
    1 / (decay_epochs + 1) per epoch (the reference CycleGAN implementation's "linear" policy)."""
    return 1.0 - max(0, epoch + 1 - epochs) / float(decay_epochs + 1)


def step_scheduler(scheduler, loss: float) -> None:
    """Advance any scheduler one step; ReduceLROnPlateau is the one that needs the loss."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(float(loss))
    elif scheduler is not None:
        scheduler.step()
