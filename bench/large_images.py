"""Benchmark: peak memory of a 512 px Gatys run from very large inputs, against a small input.

    python -m bench.large_images [--quick]

Writes a 12000x12000 PNG and a 100-megapixel JPEG (smooth synthetic pictures) to a temporary
folder, runs `python -m nst gatys --size 512 --steps 2` on each in a fresh process (random VGG19),
and prints each process's peak resident memory next to the same run on a 512 px JPEG.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import machine, print_table


def smooth_picture(width: int, height: int) -> Image.Image:
    """Colour gradients built row by row (the full image is the only large array)."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    rows = np.empty((height, width, 3), dtype=np.uint8)
    for y in range(height):
        shade = 255 * y / max(1, height - 1)
        rows[y] = np.stack([x, np.full_like(x, shade), 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rows, "RGB")


# Runs a command and prints the peak memory of its (only) child: ru_maxrss is per process tree.
MEASURE = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); " \
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"  # fmt: skip


def peak_rss_mib(content: Path, style: Path, out: Path) -> float:
    """Peak resident memory of one CLI run, in a fresh process."""
    command = [sys.executable, "-m", "nst", "gatys", "--content", str(content), "--style", str(style),
               "--out", str(out), "--size", "512", "--steps", "2", "--vgg-weights", "random"]  # fmt: skip
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], check=True, capture_output=True, text=True)
    return int(result.stdout.split()[-1]) / 1024  # KiB on Linux


def main() -> None:
    quick = "--quick" in sys.argv
    cases = [("512 px JPEG (baseline)", (512, 384), "jpg"),
             ("100 MP JPEG" if not quick else "4 MP JPEG", (11547, 8660) if not quick else (2309, 1732), "jpg"),
             ("12000x12000 PNG" if not quick else "2400x2400 PNG", (12000, 12000) if not quick else (2400, 2400), "png")]  # fmt: skip
    print(machine())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        style = Path(folder) / "style.jpg"
        smooth_picture(512, 512).save(style)
        for name, (width, height), suffix in cases:
            path = Path(folder) / f"input.{suffix}"
            smooth_picture(width, height).save(path, **({"quality": 90} if suffix == "jpg" else {}))
            rows.append({"input": name, "file MB": round(path.stat().st_size / 1e6, 1),
                         "peak RSS MiB": round(peak_rss_mib(path, style, Path(folder) / "out.png"))})  # fmt: skip
            path.unlink()
    print_table("Peak memory of `nst gatys --size 512 --steps 2` (random VGG19)", rows)


if __name__ == "__main__":
    main()
