"""ZeroGPU's limit, and what a run asks of it: a Space's GPU is lent for at most LIMIT_S seconds a
`@spaces.GPU` call, and a request for more is refused outright. So every handler asks for at most
that, and a Gatys run or a sweep that would need more is refused before it starts, in one line that
names the largest size and steps that fit. Off ZeroGPU (a local GPU, a CPU) nothing is refused."""

from __future__ import annotations

import math

import spaces.config

LIMIT_S = 300  # ZeroGPU's longest call
OVERHEAD_S = 30  # moving the networks to the GPU and computing the targets
STEP_S_AT_512 = 0.05  # a step at 512 px, with a wide margin over a large GPU; scales with the pixels


def on_zero_gpu() -> bool:
    return spaces.config.Config.zero_gpu


def gatys_seconds(steps: int, size: int, runs: int = 1) -> float:
    """The GPU time `runs` Gatys runs of `steps` steps at `size` px are expected to take."""
    return OVERHEAD_S + runs * steps * STEP_S_AT_512 * (size / 512) ** 2


def duration(seconds: float) -> int:
    """What to ask ZeroGPU for: the estimate, never more than it grants."""
    return min(LIMIT_S, math.ceil(seconds))


def refusal(steps: int, size: int, runs: int = 1) -> str | None:
    """On ZeroGPU, why `runs` runs of `steps` steps at `size` px cannot be done in one call (None: they can)."""
    if not on_zero_gpu() or gatys_seconds(steps, size, runs) <= LIMIT_S:
        return None
    budget = (LIMIT_S - OVERHEAD_S) / (runs * STEP_S_AT_512)  # steps x (size / 512)^2 that fit
    most_steps = int(budget / (size / 512) ** 2)
    largest = int(512 * math.sqrt(budget / steps)) // 32 * 32
    cells = f" for {runs} cells" if runs > 1 else ""
    return (f"Too long for this Space's GPU (at most {LIMIT_S} s a run): {steps} steps at {size} px{cells} need about "
            f"{gatys_seconds(steps, size, runs):.0f} s. At {size} px at most {most_steps} steps fit; "
            f"at {steps} steps, at most {largest} px.")  # fmt: skip
