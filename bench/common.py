"""Shared pieces of the benchmarks: machine description, interleaved timing, tables and JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from nst.device import cpu_has_fast_bf16

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT.parent / "shared" / "images"
EXAMPLE_IMAGES = ROOT / "ui" / "images"  # the photo and paintings the app offers (512 px copies); read, not imported


def tubingen_and_starry_night() -> tuple[Path, Path]:
    """The Tübingen photo and The Starry Night from ../shared/images (1024 px), else the app's 512 px copies."""
    folder = SHARED_IMAGES if (SHARED_IMAGES / "tubingen.jpg").is_file() else EXAMPLE_IMAGES
    return folder / "tubingen.jpg", folder / "starry_night.jpg"


def parse_bench_args(description: str, add_arguments: Callable | None = None) -> argparse.Namespace:
    """The options every benchmark script takes, and a script's own from `add_arguments(parser)`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps: checks the script runs")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2, as on a CPU Space)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the JSON report")
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args()


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "fast_bf16": cpu_has_fast_bf16(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}  # fmt: skip
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return info


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Median of `repeats` measurements per contender, taken in turn (A, B, A, B, ...) so that a
    noisy neighbour slows them alike. Each callable returns the seconds it measured."""
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def timed(fn: Callable[[], object], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def print_table(title: str, rows: list[dict]) -> None:
    """A plain-text table of dicts with the same keys."""
    if not rows:
        return
    keys = list(rows[0])
    cells = [[_fmt(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print(f"\n{title}")
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def result_path(out: str, benchmark: str, device: str, quick: bool, suffix: str = ".json") -> Path:
    """bench/results/<benchmark>-<cpu|gpu>[-quick].json (or another `suffix`): "gpu" for CUDA."""
    return Path(out) / f"{benchmark}-{'gpu' if device == 'cuda' else device}{'-quick' if quick else ''}{suffix}"


def write_json(path: Path, data: dict) -> None:
    """Write atomically: a run killed mid-write leaves the previous file, not half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)
    print(f"\nwrote {path}")
