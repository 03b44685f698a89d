"""nst.lbfgs.LBFGS takes the same steps as torch.optim.LBFGS(max_iter=1) called once per step."""

import pytest
import torch

from nst.lbfgs import LBFGS


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """A curved valley: the history matters, and some pairs have s'y small."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def trajectory(make_optimizer, params: list[torch.Tensor], loss_fn, steps: int, make_scheduler=None) -> list[torch.Tensor]:
    """The parameters, flattened together, after each of `steps` optimiser steps."""
    params = [p.clone().requires_grad_(True) for p in params]
    optimizer = make_optimizer(params)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    points = []
    for _ in range(steps):
        def closure():
            optimizer.zero_grad()
            loss = loss_fn(params)
            loss.backward()
            return loss

        optimizer.step(closure)
        if scheduler:
            scheduler.step()
        points.append(torch.cat([p.detach().reshape(-1) for p in params]))
    return points


def torch_lbfgs(lr: float, history: int = 100):
    return lambda p: torch.optim.LBFGS(p, lr=lr, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1)


@pytest.mark.parametrize("history", [3, 10])
def test_same_iterates_as_torch_lbfgs(history):
    start = [torch.linspace(-1.2, 1.0, 40, dtype=torch.float64)]
    ours = trajectory(lambda p: LBFGS(p, lr=0.5, history_size=history, backtrack=False), start, lambda p: rosenbrock(p[0]), 60)
    theirs = trajectory(torch_lbfgs(0.5, history), start, lambda p: rosenbrock(p[0]), 60)
    assert len(ours) == 60 and not torch.equal(ours[0], ours[-1])  # it moves, well past the history size
    # the same up to rounding, which the curved valley amplifies slowly (1e-16 at first, 1e-8 by step 60)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        tolerance = 1e-10 if k < 30 else 1e-6
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance, msg=f"step {k}")
    assert rosenbrock(ours[-1]) < 0.5 * rosenbrock(start[0])


def test_several_parameters_and_a_learning_rate_scheduler():
    """Parameters are flattened together; a scheduler changes lr between steps, as in Gatys runs."""
    target = torch.arange(12, dtype=torch.float64)

    def loss_fn(params):
        return ((torch.cat([p.reshape(-1) for p in params]) - target) ** 2 * torch.linspace(1, 5, 12, dtype=torch.float64)).sum()

    start = [torch.zeros(2, 3, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)]
    step_lr = lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)  # noqa: E731
    ours = trajectory(lambda p: LBFGS(p, lr=1.0, backtrack=False), start, loss_fn, 8, step_lr)
    theirs = trajectory(torch_lbfgs(1.0), start, loss_fn, 8, step_lr)
    torch.testing.assert_close(ours[-1], theirs[-1], rtol=1e-9, atol=1e-9)
    assert (ours[-1] - target).abs().max() < 0.5 * target.abs().max()


def test_a_zero_gradient_takes_a_zero_step():
    """A flat loss (a one-colour image can give one) leaves the parameters where they are."""
    start = [torch.full((5,), 0.5, dtype=torch.float64)]
    points = trajectory(lambda p: LBFGS(p, lr=1.0), start, lambda p: (p[0] * 0).sum(), 3)
    assert all(torch.equal(point, start[0]) for point in points)
