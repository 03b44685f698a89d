"""L-BFGS with the step computed in the compact form of Byrd, Nocedal & Schnabel (1994),
"Representations of quasi-Newton matrices and their use in limited memory methods", eq. (3.13).

With safeguards=False, the same iterates as `torch.optim.LBFGS(max_iter=1, line_search_fn=None)`
called once per step, with its tolerances off (tests/test_lbfgs.py checks this; see LBFGS for
where it differs on purpose, and for the safeguards), but cheaper to run: torch's two-loop
recursion is about 4m vector operations a step (400 kernel launches with a history of m = 100),
which is what a Gatys step at 512 px spent most of its time on, on a GPU. Here the m stored pairs
live in two (m, n) matrices S and Y, and a step is a handful of matrix products with them plus
m x m algebra in float64.
"""

from __future__ import annotations

import torch


CURVATURE_COSINE = 0.01  # pairs with cos(s, y) below this are not stored
RISE_TAKEN_BACK = 2.0  # a step that multiplies the loss by more than this is taken back in part
SHORTEST_BACKTRACK, LONGEST_BACKTRACK = 0.1, 0.5  # to this share of its length, at least and at most


class LBFGS(torch.optim.Optimizer):
    """x_{k+1} = x_k - lr * H_k g_k, with H_k the L-BFGS inverse Hessian built from the last
    `history_size` pairs (s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i) and H_0 = (s'y / y'y) I.

    One loss-and-gradient evaluation per step and no line search, as torch's LBFGS with
    max_iter=1; the first step is scaled to lr * min(1, 1 / |g|_1), as there, unless `first_step`
    is given: then the first step (and the first after a restart) is lr * -g scaled so that the
    parameter it moves most moves by lr * first_step. `step(closure)` calls the closure once; the
    closure may return gradients already in .grad.

    `project()`, if given, moves the parameters back into their feasible set after each step
    (nst.gatys.engine puts the image back into [0, 1]), and s is the step as projected, so the pairs
    describe the moves really made. A direction that is not one of descent (or not finite)
    clears the history and restarts from the gradient. On a quadratic whose minimum over the box
    lies on its faces (tests/test_lbfgs.py), torch's LBFGS with the projection done between its
    steps stops moving for good after 6 steps, 24 % above that minimum; this one gets within 4 %.

    `safeguards`: a step after which the loss is more than RISE_TAKEN_BACK times what it was is
    taken back in part, to the minimum of the quadratic through f(0), f'(0) and f(1) along it,
    kept within [0.1, 0.5] of its length (Nocedal & Wright, sec. 3.5); that evaluation counts as
    a step and stores no pair. Without it, as in torch's LBFGS with no line search, nothing stops a
    step that the quadratic model misjudges: on the original VGG19's Gram losses (quartic in the
    pixels) the second step of a Gatys run raised the loss 160 times and the run never
    recovered. Smaller rises are let through: L-BFGS recovers from them by itself, and taking
    back every rise (10 % ones, from noise on a small random-network problem) left the loss after
    150 steps 7 times higher (tests/test_gatys.py). Two more safeguards come with it: after a
    take-back to t of a step, the next steps are scaled by t, doubling back to 1 step by step (the
    model misjudged the length); and while no pair has been stored (from the photo the Gram
    losses are concave along the first steps, so s'y < 0), each step is twice as long as the
    last instead of a fixed, arbitrary length (31 steps of 1 % each, on the default run).

    Why `first_step`: torch's first step is bounded in the L1 norm of the whole gradient, so it
    shrinks with the number of parameters: from the photo at 256 px it moved no pixel by more
    than 0.015 grey levels, and the doubling took 8 steps to reach a useful length. nst.gatys
    starts at a length in pixel units (LBFGS_FIRST_STEP there).
    """

    def __init__(self, params, lr: float = 1.0, history_size: int = 100, project=None, safeguards: bool = True,
                 first_step: float | None = None):  # fmt: skip
        super().__init__(params, {"lr": lr})
        self.history_size, self.project, self.safeguards = history_size, project, safeguards
        self.first_step = first_step
        self._params = [p for group in self.param_groups for p in group["params"]]
        self._last_step = None  # the step just taken, and the gradient it was taken from
        self._last_grad = None
        self._last_loss = None  # the loss where the last step began
        self._slots = []  # rows of S and Y in use, oldest pair first
        self._gamma = 1.0
        self._scale = 1.0  # multiplies the quasi-Newton step: cut by a take-back, doubled back to 1 by each step after

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        grad = self._gather_grad()
        if self.safeguards and self._last_step is not None and float(loss) > RISE_TAKEN_BACK * self._last_loss:
            self._take_back(float(loss))
            return loss
        lr = self.param_groups[0]["lr"]
        if self._last_step is not None:
            direction = -self._remember_and_apply(self._last_step, grad - self._last_grad, grad)
            scale = lr * self._scale
            if self.safeguards:
                self._scale = min(1.0, 2 * self._scale)
        if self._last_step is None or not float(grad.dot(direction)) < 0:  # (NaN is not < 0)
            self._slots = []  # start (again) from the gradient, with a cautious step
            self._gamma, scale = self._first_scale(grad, lr)
            direction = -grad
        self._last_step, self._last_grad, self._last_loss = direction.mul_(scale), grad.clone(), float(loss)
        self._add_to_params(self._last_step)
        if self.project is not None:  # s is the step as projected: exact where nothing was moved
            before = self._flat_params()
            self.project()
            self._last_step += self._flat_params() - before
        return loss

    def _first_scale(self, grad: torch.Tensor, lr: float) -> tuple[float, float]:
        """(γ, the scale of -g) for a first step: with `first_step`, γ = first_step / max|g|, so
        that the doubling while no pair is stored goes on from this length; else torch's
        lr * min(1, 1 / |g|_1), and γ = 1. A zero gradient takes a zero step either way."""
        if self.first_step is not None:
            largest = float(grad.abs().max())
            gamma = self.first_step / largest if largest > 0 else 1.0
            return gamma, lr * gamma
        size = float(grad.abs().sum())
        return 1.0, lr * (min(1.0, 1.0 / size) if size > 0 else 1.0)

    def _take_back(self, loss: float) -> None:
        """Shorten the last step s to t s: t minimises the quadratic with f(0), slope g's and f(1)
        = `loss` (the parameters go back to where it began, plus t s; both ends were feasible)."""
        slope = float(self._last_grad.dot(self._last_step))  # < 0: every step taken is of descent
        curvature = loss - self._last_loss - slope  # > 0, since the loss rose
        t = min(LONGEST_BACKTRACK, max(SHORTEST_BACKTRACK, -slope / (2 * curvature)))
        self._add_to_params(self._last_step * (t - 1))
        self._last_step.mul_(t)
        self._scale *= t  # the model misjudged the length by about 1/t: the next steps start shorter

    def _remember_and_apply(self, s: torch.Tensor, y: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """Store the pair (s, y) if it keeps H positive definite (s'y > 1e-10, as torch does) and
        s and y are not nearly orthogonal, then return H_k g. One pass over S and one over Y give
        every product with them.

        The second test is not torch's: after a bf16 run's first, tiny step, y is rounding noise
        (cos(s, y) = 4e-4, against 0.3-0.9 later), and with that pair the next step was 20,000
        times longer and the loss went from 11 to 8000."""
        m, sy = self.history_size, float(s.dot(y))
        keep, used = sy > max(1e-10, CURVATURE_COSINE * float(s.norm() * y.norm())), len(self._slots)  # slots fill 0, 1, ... first
        if keep and not self._slots:
            self._S, self._Y = s.new_empty(m, s.numel()), s.new_empty(m, s.numel())
            self._SY = torch.zeros(m, m, dtype=torch.float64, device=s.device)  # SY[i, j] = s_i'y_j, by slot
            self._YY = torch.zeros(m, m, dtype=torch.float64, device=s.device)
        if not keep and not self._slots:  # no curvature known yet (the loss was concave along every step so far)
            if self.safeguards:
                self._gamma *= 2  # so each step is twice the last, until one more than doubles the loss
            return grad * self._gamma
        a = torch.zeros(m, dtype=torch.float64, device=s.device)  # S g and Y g, by slot
        b = torch.zeros(m, dtype=torch.float64, device=s.device)
        if used:
            with_s = (self._S[:used] @ torch.stack([y, grad]).T).double()  # s_i'y, s_i'g
            with_y = (self._Y[:used] @ torch.stack([s, y, grad]).T).double()  # y_i's, y_i'y, y_i'g
            a[:used], b[:used] = with_s[:, 1], with_y[:, 2]
        if keep:
            slot = used if used < m else self._slots.pop(0)
            self._slots.append(slot)
            self._S[slot], self._Y[slot] = s, y
            if used:
                self._SY[:used, slot], self._SY[slot, :used] = with_s[:, 0], with_y[:, 0]
                self._YY[:used, slot] = self._YY[slot, :used] = with_y[:, 1]
            yy = float(y.dot(y))
            self._SY[slot, slot], self._YY[slot, slot] = sy, yy
            a[slot], b[slot] = float(s.dot(grad)), float(y.dot(grad))
            self._gamma = sy / yy
        return self._inverse_hessian_times(grad, a, b)

    def _inverse_hessian_times(self, grad: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """H_k g = γ g + S'p + Y'q (rows of S and Y are the pairs), from a = S g and b = Y g:
        in oldest-first order, q = -γ R^-1 a and p = R^-T ((D + γ Y Y') R^-1 a - γ b), where
        R = triu(S Y') and D = diag(S Y')."""
        gamma, used = self._gamma, len(self._slots)
        order = torch.tensor(self._slots, device=grad.device)
        SY = self._SY[order][:, order]
        R = torch.triu(SY)
        u = torch.linalg.solve_triangular(R, a[order, None], upper=True)[:, 0]
        middle = torch.diag(SY) * u + gamma * (self._YY[order][:, order] @ u) - gamma * b[order]
        p = torch.linalg.solve_triangular(R.T, middle[:, None], upper=False)[:, 0]
        p_by_slot, q_by_slot = torch.zeros_like(p), torch.zeros_like(u)
        p_by_slot[order], q_by_slot[order] = p, -gamma * u
        S, Y = self._S[:used], self._Y[:used]
        return grad * gamma + p_by_slot.to(grad.dtype) @ S + q_by_slot.to(grad.dtype) @ Y

    def _gather_grad(self) -> torch.Tensor:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self._params]
        return grads[0].reshape(-1).clone() if len(grads) == 1 else torch.cat([g.reshape(-1) for g in grads])

    def _flat_params(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    def _add_to_params(self, update: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            p.add_(update[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
