"""nst.gatys.lbfgs.LBFGS takes the same steps as torch.optim.LBFGS(max_iter=1) called once per step."""

import pytest
import torch

from nst.gatys.lbfgs import LBFGS


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
    ours = trajectory(lambda p: LBFGS(p, lr=0.5, history_size=history, safeguards=False), start, lambda p: rosenbrock(p[0]), 60)
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
    ours = trajectory(lambda p: LBFGS(p, lr=1.0, safeguards=False), start, loss_fn, 8, step_lr)
    theirs = trajectory(torch_lbfgs(1.0), start, loss_fn, 8, step_lr)
    torch.testing.assert_close(ours[-1], theirs[-1], rtol=1e-9, atol=1e-9)
    assert (ours[-1] - target).abs().max() < 0.5 * target.abs().max()


@pytest.mark.parametrize("first_step", [None, 0.5])
def test_a_zero_gradient_takes_a_zero_step(first_step):
    """A flat loss (a one-colour image can give one) leaves the parameters where they are, with
    torch's first step and with `first_step`."""
    start = [torch.full((5,), 0.5, dtype=torch.float64)]
    points = trajectory(lambda p: LBFGS(p, lr=1.0, first_step=first_step), start, lambda p: (p[0] * 0).sum(), 3)
    assert all(torch.equal(point, start[0]) for point in points)


def test_a_step_that_more_than_doubles_the_loss_is_taken_back():
    """f = x^2 from x = 0.1 with lr 20: the first step (lr * g, as |g|_1 < 1) lands on -3.9 (f
    from 0.01 to 15.21). The quadratic through f(0) = 0.01, f'(0) = 0.2 * -4 and f(1) = 15.21 has
    its minimum at t = 0.025, kept to 0.1: x = -0.3 (f = 0.09, still more than double); then
    t = 0.08 / 0.32 = 0.25 of the shortened step: x = 0, the minimum. Without taking back,
    LBFGS goes on from -3.9."""
    start = [torch.tensor([0.1], dtype=torch.float64)]
    ours = trajectory(lambda p: LBFGS(p, lr=20.0), start, lambda p: (p[0] ** 2).sum(), 3)
    torch.testing.assert_close(torch.cat(ours), torch.tensor([-3.9, -0.3, 0.0], dtype=torch.float64))
    plain = trajectory(lambda p: LBFGS(p, lr=20.0, safeguards=False), start, lambda p: (p[0] ** 2).sum(), 1)
    torch.testing.assert_close(plain[0], torch.tensor([-3.9], dtype=torch.float64))


def test_a_smaller_rise_is_let_through():
    """From x = 1 on f = x^2 the first step is lr * g / |g|_1 = lr. With lr 2.2 it lands on -1.2,
    a rise from 1 to 1.44, less than RISE_TAKEN_BACK = 2 times: kept. With lr 2.5 it lands on
    -1.5 (f = 2.25): taken back to t = 5 / 12.5 = 0.4 of the step, x = 0."""
    start = [torch.tensor([1.0], dtype=torch.float64)]
    kept = trajectory(lambda p: LBFGS(p, lr=2.2), start, lambda p: (p[0] ** 2).sum(), 1)
    torch.testing.assert_close(kept[0], torch.tensor([-1.2], dtype=torch.float64))
    taken_back = trajectory(lambda p: LBFGS(p, lr=2.5), start, lambda p: (p[0] ** 2).sum(), 2)
    torch.testing.assert_close(torch.cat(taken_back), torch.tensor([-1.5, 0.0], dtype=torch.float64))


def test_the_steps_after_a_take_back_start_that_much_shorter():
    """f = x^4 from 1 with lr 3: the first step (lr * g / |g|_1 = 3) lands on -2 (f = 16), taken
    back to t = 12 / 54 of it: x = 1/3. The next step is the secant step g * s / y with the one
    pair, times lr, times t (without the safeguards it would be t^-1 = 4.5 times longer)."""
    start = [torch.tensor([1.0], dtype=torch.float64)]
    points = trajectory(lambda p: LBFGS(p, lr=3.0), start, lambda p: (p[0] ** 4).sum(), 3)
    t = 12 / 54
    x1 = 1 - 3 * t
    s, y, g = x1 - 1, 4 * x1**3 - 4, 4 * x1**3
    expected = [-2.0, x1, x1 - 3 * t * g * s / y]
    torch.testing.assert_close(torch.cat(points), torch.tensor(expected, dtype=torch.float64))


def test_with_no_curvature_known_each_step_doubles():
    """On f = -x^2 (concave: s'y < 0, no pair is ever stored) from 0.1, with lr 1: the first step
    is -g = 0.2 (|g|_1 < 1), then 2 * -g, 4 * -g: x = 0.3, 1.5, 13.5. torch's LBFGS keeps taking
    -g: 0.3, 0.9, 2.7."""
    start = [torch.tensor([0.1], dtype=torch.float64)]
    ours = trajectory(lambda p: LBFGS(p, lr=1.0), start, lambda p: -(p[0] ** 2).sum(), 3)
    plain = trajectory(lambda p: LBFGS(p, lr=1.0, safeguards=False), start, lambda p: -(p[0] ** 2).sum(), 3)
    torch.testing.assert_close(torch.cat(ours), torch.tensor([0.3, 1.5, 13.5], dtype=torch.float64))
    torch.testing.assert_close(torch.cat(plain), torch.tensor([0.3, 0.9, 2.7], dtype=torch.float64))


def test_first_step_sets_how_far_the_most_moved_parameter_goes():
    """f = -|x|^2 from (0.1, -0.05): g = -2x = (-0.2, 0.1). With first_step 0.5 the first step is
    -g * 0.5 / 0.2 (x moves by 0.5, the most): x = (0.6, -0.3); no pair is stored (concave), so
    the next is twice as long per unit of gradient, -g * 5 = 10x: x = (6.6, -3.3). With lr 0.5
    every step is half as long: (0.35, -0.175), then 6x: (2.1, -1.05). torch's rule, lr * -g *
    min(1, 1 / |g|_1), moves by -g (|g|_1 = 0.3 < 1): (0.3, -0.15)."""
    start = [torch.tensor([0.1, -0.05], dtype=torch.float64)]
    concave = lambda p: -(p[0] ** 2).sum()  # noqa: E731
    ours = trajectory(lambda p: LBFGS(p, lr=1.0, first_step=0.5), start, concave, 2)
    torch.testing.assert_close(torch.stack(ours), torch.tensor([[0.6, -0.3], [6.6, -3.3]], dtype=torch.float64))
    halved = trajectory(lambda p: LBFGS(p, lr=0.5, first_step=0.5), start, concave, 2)
    torch.testing.assert_close(torch.stack(halved), torch.tensor([[0.35, -0.175], [2.1, -1.05]], dtype=torch.float64))
    torchs = trajectory(lambda p: LBFGS(p, lr=1.0), start, concave, 1)
    torch.testing.assert_close(torchs[0], torch.tensor([0.3, -0.15], dtype=torch.float64))


class ProjectedTorchLBFGS(torch.optim.LBFGS):
    """torch's LBFGS (one evaluation a step), with the parameters put back into [0, 1] after each
    step: it has no hook for a projection, so its pairs keep the step as it computed it."""

    def __init__(self, params):
        super().__init__(params, lr=1.0, max_iter=1, history_size=100, tolerance_grad=-1, tolerance_change=-1)

    def step(self, closure):
        loss = super().step(closure)
        with torch.no_grad():
            for p in self._params:
                p.clamp_(0, 1)
        return loss


def test_projected_into_a_box_it_keeps_going_where_torchs_stalls():
    """A Gatys image is put back into [0, 1] after each step. On a quadratic whose minimum over the
    box [0, 1]^50 lies on its faces, LBFGS(project=...) stores the step as projected and gets
    within 4 % of that minimum; torch's, fed the projected iterates, stops moving for good after
    6 steps, 24 % above it (its step points out of the box, the projection undoes it, and a zero
    change stores no pair, so the same step is proposed again)."""
    generator = torch.Generator().manual_seed(0)
    n = 50
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    hessian = a @ a.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    centre = 1.5 * torch.randn(n, generator=generator, dtype=torch.float64) + 0.5  # many coordinates outside [0, 1]

    def loss_fn(params):
        return 0.5 * (params[0] - centre) @ hessian @ (params[0] - centre)

    best = torch.full((n,), 0.5, dtype=torch.float64)  # the box's minimum, by projected gradient descent
    step = 1 / torch.linalg.eigvalsh(hessian).max()
    for _ in range(2000):
        best = (best - step * hessian @ (best - centre)).clamp(0, 1)
    minimum = float(loss_fn([best]))

    start = [torch.full((n,), 0.5, dtype=torch.float64)]
    def projected_lbfgs(params):
        return LBFGS(params, lr=1.0, project=lambda: params[0].data.clamp_(0, 1))

    ours = [float(loss_fn([x])) for x in trajectory(projected_lbfgs, start, loss_fn, 200)]
    theirs = trajectory(ProjectedTorchLBFGS, start, loss_fn, 200)
    assert all(((x >= 0) & (x <= 1)).all() for x in theirs)
    assert all(torch.equal(x, theirs[-1]) for x in theirs[20:])  # stalled for good
    assert float(loss_fn([theirs[-1]])) > 1.15 * minimum  # measured: 1.24
    assert max(ours[-100:]) < 1.1 * minimum  # measured: at most 1.044
