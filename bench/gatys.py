"""Benchmark: our Gatys engine against the textbook baseline (bench/baseline_gatys.py), in one run.

    python bench/gatys.py                 # full run; CPU parts take about 20 minutes on 2 cores
    python bench/gatys.py --quick         # small sizes, a smoke test of the script

Prints tables and writes bench/results/gatys-<device>.json. Speed is always a ratio against the
baseline measured in the same run (interleaved repeats, medians), on the same images, size,
layers and VGG19 weights. Losses are compared with one fp32 evaluator (the baseline's loss), so
precision tricks cannot flatter the numbers. Uses the pretrained VGG19 when it is available
(NST_VGG19_WEIGHTS or torch's cache), else a seeded random one, and says which.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import SHARED_IMAGES, interleaved, machine, parse_bench_args, print_table, timed, write_json

import torch  # noqa: E402  (after common, which puts the project on sys.path)

from baseline_gatys import CONTENT_LAYERS, STYLE_LAYERS, TextbookLoss, TextbookVGG, textbook_stylize  # noqa: E402
from nst.config import GatysConfig  # noqa: E402
from nst.device import resolve_device  # noqa: E402
from nst.examples import example_files  # noqa: E402
from nst.gatys import run_gatys  # noqa: E402
from nst.images import fit_long_side, image_to_tensor, load_image, tensor_to_image  # noqa: E402
from nst.vgg import imagenet_cache_path, load_vgg19_features  # noqa: E402


def vgg_source() -> str:
    if os.environ.get("NST_VGG19_WEIGHTS"):
        return os.environ["NST_VGG19_WEIGHTS"]
    return "imagenet" if imagenet_cache_path().is_file() else "random:0"


def images():
    """The Tübingen photo and The Starry Night from ../shared/images, else the app's examples."""
    if (SHARED_IMAGES / "tubingen.jpg").is_file():
        return load_image(SHARED_IMAGES / "tubingen.jpg"), load_image(SHARED_IMAGES / "starry_night.jpg")
    files = example_files()
    return load_image(files["cat"]), load_image(files["swirls"])


class Bench:
    """The shared setup of one size: tensors, the baseline loss (also our fp32 yardstick)."""

    def __init__(self, size: int, device: torch.device, weights: str, content_image, style_image):
        self.device, self.weights, self.content_image, self.style_image = device, weights, content_image, style_image
        shape = fit_long_side(content_image.width, content_image.height, size)
        self.content = image_to_tensor(content_image, shape).to(device)
        style = image_to_tensor(style_image, fit_long_side(style_image.width, style_image.height, size)).to(device)
        self.loss = TextbookLoss(TextbookVGG(load_vgg19_features(weights)).to(device), self.content, style)
        self.size = size

    def config(self, **changes) -> GatysConfig:
        """Our engine on exactly the baseline's problem."""
        base = dict(size=self.size, style_layers=STYLE_LAYERS, content_layers=CONTENT_LAYERS, pooling="max",
                    init="content", optimizer="lbfgs", vgg_weights=self.weights, device=self.device.type)  # fmt: skip
        return GatysConfig(**{**base, **changes})

    def engine(self, config: GatysConfig):
        records = list(run_gatys(config, self.content_image, self.style_image))
        return records

    def evaluate(self, image) -> float:
        """The baseline's fp32 loss of a PIL image at this size."""
        tensor = image_to_tensor(image, tuple(self.content.shape[-2:])).to(self.device)
        with torch.no_grad():
            return float(self.loss(tensor))


def per_step_speed(bench: Bench, steps: int, repeats: int) -> list[dict]:
    """Seconds per loss-and-gradient evaluation: baseline, our fp32 (the default), our bf16."""

    def engine_seconds(precision):
        records = bench.engine(bench.config(steps=steps, precision=precision))
        return (records[-1].elapsed_s - records[1].elapsed_s) / (steps - 1)  # excludes set-up and step 0

    def baseline_seconds():
        start = time.perf_counter()
        _, history = textbook_stylize(bench.loss, bench.content, steps)
        return (time.perf_counter() - start) / len(history)

    medians = interleaved({"baseline (textbook, fp32)": baseline_seconds, "ours fp32 (default)": lambda: engine_seconds("fp32"),
                           "ours bf16": lambda: engine_seconds("bf16")}, repeats)  # fmt: skip
    base = medians["baseline (textbook, fp32)"]
    return [{"contender": k, "size": bench.size, "s/step (median)": v, "ratio to baseline": v / base} for k, v in medians.items()]


def loss_agreement(bench: Bench, steps: int) -> dict:
    """Our bf16 against our fp32 after the same LBFGS steps, in the fp32 yardstick."""
    fp32 = bench.evaluate(bench.engine(bench.config(steps=steps, precision="fp32"))[-1].image)
    bf16 = bench.evaluate(bench.engine(bench.config(steps=steps, precision="bf16"))[-1].image)
    return {"size": bench.size, "steps": steps, "loss fp32": fp32, "loss bf16": bf16, "relative difference": bf16 / fp32 - 1}


def time_to_quality(bench: Bench, baseline_steps: int, budget_s: float, candidates: list[GatysConfig]) -> list[dict]:
    """Each candidate end to end, against the loss the baseline reaches in `baseline_steps`.
    Losses of both are taken on the saved 8-bit image, in the baseline's fp32 loss."""
    start = time.perf_counter()
    result, _ = textbook_stylize(bench.loss, bench.content, baseline_steps)
    rows = [{"run": f"baseline, {baseline_steps} steps", "seconds": time.perf_counter() - start,
             "loss": bench.evaluate(tensor_to_image(result)), "within budget": None}]  # fmt: skip
    for config in candidates:
        start = time.perf_counter()
        image = bench.engine(config)[-1].image
        seconds = time.perf_counter() - start
        rows.append({"run": f"ours {config.precision}, {config.steps} steps, {config.levels} level(s)", "seconds": seconds,
                     "loss": bench.evaluate(image), "within budget": seconds <= budget_s})  # fmt: skip
    for row in rows:
        row["size"] = bench.size
    return rows


def gpu_section(bench: Bench, steps: int, repeats: int) -> dict:
    """512 px, `steps` steps: seconds for baseline and ours, peak memory, largest size that fits."""
    device = bench.device

    def ours():
        return timed(lambda: bench.engine(bench.config(steps=steps)), device)

    def baseline():
        return timed(lambda: textbook_stylize(bench.loss, bench.content, steps), device)

    torch.cuda.reset_peak_memory_stats()
    medians = interleaved({"baseline": baseline, "ours": ours}, repeats)
    peak = torch.cuda.max_memory_allocated() / 2**30
    largest = largest_size(bench)
    return {"size": bench.size, "steps": steps, "ours s": medians["ours"], "baseline s": medians["baseline"],
            "speed-up": medians["baseline"] / medians["ours"], "peak GiB": peak, "largest size": largest}  # fmt: skip


def largest_size(bench: Bench, start: int = 1024, limit: int = 16384) -> int:
    """Double, then bisect, the long side while two steps of our engine fit in GPU memory."""

    def fits(size):
        try:
            bench.engine(bench.config(size=size, steps=2))
            return True
        except torch.OutOfMemoryError:
            return False
        finally:
            torch.cuda.empty_cache()

    low, high = 0, start
    while high <= limit and fits(high):
        low, high = high, high * 2
    while high - low > 64:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def main() -> None:
    args = parse_bench_args(__doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    weights = vgg_source()
    content, style = images()
    quick = args.quick
    report = {"machine": machine(), "device": device.type, "vgg_weights": weights}
    print(report)
    if weights.startswith("random"):
        print("note: pretrained VGG19 not available here; losses use a seeded random VGG19 (speed is the same)")
    small = Bench(64 if quick else 256, device, weights, content, style)
    report["speed_256"] = per_step_speed(small, steps=4 if quick else 12, repeats=2 if quick else 5)
    print_table(f"Time per step at {small.size} px ({device.type}, {torch.get_num_threads()} threads)", report["speed_256"])
    report["loss_agreement"] = loss_agreement(small, steps=5 if quick else 100)
    print_table("Final loss after the same LBFGS steps, ours bf16 vs ours fp32", [report["loss_agreement"]])
    large = Bench(96 if quick else 512, device, weights, content, style)
    candidates = [large.config(steps=n, precision=p, levels=lv) for n, p, lv in
                  ([(3, "fp32", 1), (6, "bf16", 2)] if quick else [(40, "fp32", 1), (120, "bf16", 1), (120, "bf16", 2)])]  # fmt: skip
    report["time_to_quality_512"] = time_to_quality(large, 8 if quick else 300, 60.0, candidates)
    print_table(f"End to end at {large.size} px against the baseline (budget 60 s)", report["time_to_quality_512"])
    if device.type == "cuda":
        report["gpu_512"] = gpu_section(large, steps=20 if quick else 300, repeats=2 if quick else 5)
        print_table(f"GPU: {large.size} px", [report["gpu_512"]])
    else:
        print("\nGPU section skipped: no CUDA device here (run this script on a GPU machine)")
    write_json(Path(args.out) / f"gatys-{device.type}{'-quick' if quick else ''}.json", report)


if __name__ == "__main__":
    main()
