"""Benchmark: a 6-cell alpha/beta sweep against the same 6 cells run one by one.

    python -m bench.sweep [--quick]

Two baselines, measured in the same run: the cells one by one in this process (each run loads
VGG19 and computes its targets itself), and what a person does without a sweep, one
`python -m nst gatys` command per cell. Prints seconds and the ratios.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import torch

from bench.common import EXAMPLE_IMAGES, machine, print_table
from nst.gatys.config import GatysConfig
from nst.gatys.engine import run_gatys
from nst.gatys.sweep import Axis, SweepConfig, run_sweep
from nst.gatys.vgg import load_vgg19
from nst.images import load_image


def main() -> None:
    quick = "--quick" in sys.argv
    torch.set_num_threads(2)
    content, style = load_image(EXAMPLE_IMAGES / "tubingen.jpg"), load_image(EXAMPLE_IMAGES / "starry_night.jpg")
    base = GatysConfig(size=64 if quick else 128, steps=6 if quick else 40, vgg_weights="random:0")
    sweep = SweepConfig(Axis("log10_ratio", (-1, -2, -3, -4, -5, -6)), None, base)
    print(machine())
    load_vgg19.cache_clear()
    start = time.perf_counter()
    list(run_sweep(sweep, content, style))
    swept = time.perf_counter() - start
    start = time.perf_counter()
    for _, _, config in sweep.cells():
        load_vgg19.cache_clear()
        list(run_gatys(config, content, style))
    separate = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for _, _, config in sweep.cells():
            subprocess.run([sys.executable, "-m", "nst", "gatys", "--content", str(EXAMPLE_IMAGES / "tubingen.jpg"), "--style",
                            str(EXAMPLE_IMAGES / "starry_night.jpg"), "--out", f"{folder}/o.png", "--size", str(config.size), "--steps",
                            str(config.steps), "--beta", str(config.beta), "--vgg-weights", "random:0"], check=True,
                           capture_output=True)  # fmt: skip
    commands = time.perf_counter() - start
    rows = [{"way": "sweep (nst.gatys.sweep)", "seconds": round(swept, 1), "sweep is faster by": 1.0},
            {"way": "one by one, same process", "seconds": round(separate, 1), "sweep is faster by": round(separate / swept, 2)},
            {"way": "one nst gatys command a cell", "seconds": round(commands, 1), "sweep is faster by": round(commands / swept, 2)}]  # fmt: skip
    print_table(f"6-cell alpha/beta sweep at {base.size} px, {base.steps} steps a cell (random VGG19)", rows)


if __name__ == "__main__":
    main()
