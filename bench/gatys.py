"""Benchmark: our Gatys engine against the textbook baseline (bench/baseline_gatys.py), in one run.

    python -m bench.gatys                 # full run; CPU parts take about 20 minutes on 2 cores
    python -m bench.gatys --quick         # small sizes, a smoke test of the script

Prints tables and writes bench/results/gatys-<device>.json. Speed is always a ratio against the
baseline measured in the same run (interleaved repeats, medians), on the same images, size,
layers and VGG19 weights. Losses are compared with one fp32 evaluator (the baseline's loss), so
precision tricks cannot flatter the numbers. Uses the pretrained VGG19 when it is available
(NST_VGG19_WEIGHTS or torch's cache), else a seeded random one, and says which.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import torch

from bench.baseline_gatys import CONTENT_LAYERS, STYLE_LAYERS, TextbookLoss, TextbookVGG, textbook_stylize
from bench.common import SHARED_IMAGES, interleaved, machine, parse_bench_args, print_table, timed, write_json
from nst.config import GatysConfig, preset
from nst.device import resolve_device
from nst.gatys import RunStopped, run_gatys
from nst.images import fit_long_side, image_to_tensor, load_image, tensor_to_image
from nst.vgg import ieee_fp32, imagenet_cache_path, load_vgg19_features
from ui.examples import example_files


def vgg_source() -> str:
    if os.environ.get("NST_VGG19_WEIGHTS"):
        return os.environ["NST_VGG19_WEIGHTS"]
    return "imagenet" if imagenet_cache_path().is_file() else "random:0"


def images():
    """The Tübingen photo and The Starry Night from ../shared/images, else the app's 512 px copies."""
    if (SHARED_IMAGES / "tubingen.jpg").is_file():
        return load_image(SHARED_IMAGES / "tubingen.jpg"), load_image(SHARED_IMAGES / "starry_night.jpg")
    files = example_files()
    return load_image(files["tubingen"]), load_image(files["starry_night"])


class Bench:
    """One problem (layers, pooling, weights, size) solved by the baseline and by our engine.

    `problem` is a GatysConfig; the baseline gets the same layers, pooling, alpha and beta, and
    its fp32 loss is the yardstick for both.
    """

    def __init__(self, problem: GatysConfig, device: torch.device, content_image, style_image):
        self.problem, self.device, self.size = problem, device, problem.size
        self.content_image, self.style_image = content_image, style_image
        shape = fit_long_side(content_image.width, content_image.height, problem.size)
        self.content = image_to_tensor(content_image, shape).to(device)
        style_shape = fit_long_side(style_image.width, style_image.height, problem.size)
        style = image_to_tensor(style_image, style_shape).to(device)
        layers = problem.style_layers + problem.content_layers
        vgg = TextbookVGG(load_vgg19_features(problem.vgg_weights), layers, problem.pooling).to(device)
        self.loss = TextbookLoss(vgg, self.content, style, problem.alpha, problem.beta,
                                 problem.style_layers, problem.content_layers)  # fmt: skip

    def config(self, **changes) -> GatysConfig:
        return self.problem.replace(**changes)

    def engine(self, config: GatysConfig):
        return list(run_gatys(config, self.content_image, self.style_image))

    def evaluate(self, image) -> float:
        """The baseline's fp32 loss of a PIL image at this size."""
        tensor = image_to_tensor(image, tuple(self.content.shape[-2:])).to(self.device)
        with torch.no_grad(), ieee_fp32(tensor):
            return float(self.loss(tensor))


def textbook_problem(size: int, weights: str, device: torch.device) -> GatysConfig:
    """The baseline's own problem: style relu1_1..relu5_1, content relu4_2, max pooling."""
    return preset("classic", size=size, style_layers=STYLE_LAYERS, content_layers=CONTENT_LAYERS, init="content",
                  optimizer="lbfgs", vgg_weights=weights, device=device.type)  # fmt: skip


PRECISIONS = ("fp32", "mixed", "bf16")


def per_step_speed(bench: Bench, steps: int, repeats: int) -> list[dict]:
    """Seconds per loss-and-gradient evaluation: the baseline and our engine in each precision."""

    def engine_seconds(precision):
        records = bench.engine(bench.config(steps=steps, precision=precision))
        return (records[-1].elapsed_s - records[1].elapsed_s) / (steps - 1)  # excludes set-up and step 0

    def baseline_seconds():
        start = time.perf_counter()
        _, history = textbook_stylize(bench.loss, bench.content, steps)
        return (time.perf_counter() - start) / len(history)

    contenders = {"baseline (textbook, fp32)": baseline_seconds}
    contenders |= {f"ours {p}": functools.partial(engine_seconds, p) for p in PRECISIONS}
    medians = interleaved(contenders, repeats)
    base = medians["baseline (textbook, fp32)"]
    return [{"contender": k, "size": bench.size, "s/step (median)": v, "ratio to baseline": v / base} for k, v in medians.items()]


def loss_agreement(bench: Bench, steps: int) -> list[dict]:
    """Each precision's loss after the same LBFGS steps, in the fp32 yardstick, against our fp32."""
    losses = {p: bench.evaluate(bench.engine(bench.config(steps=steps, precision=p))[-1].image) for p in PRECISIONS}
    return [{"precision": p, "size": bench.size, "steps": steps, "loss": loss, "relative to fp32": loss / losses["fp32"] - 1}
            for p, loss in losses.items()]  # fmt: skip


def time_to_quality(bench: Bench, baseline_steps: int, budget_s: float, candidates: dict[str, GatysConfig]) -> list[dict]:
    """Each candidate end to end, against the loss the baseline reaches in `baseline_steps`.
    Final losses of both are taken on the saved 8-bit image, in the baseline's fp32 loss; the
    baseline's lowest loss on the way is shown too, since LBFGS without line search can diverge."""
    start = time.perf_counter()
    result, history = textbook_stylize(bench.loss, bench.content, baseline_steps)
    rows = [{"run": f"baseline, {baseline_steps} steps", "seconds": time.perf_counter() - start,
             "loss": bench.evaluate(tensor_to_image(result)), "lowest on the way": min(history), "within budget": None}]  # fmt: skip
    for name, config in candidates.items():
        start = time.perf_counter()
        image = bench.engine(config)[-1].image
        seconds = time.perf_counter() - start
        rows.append({"run": name, "seconds": seconds, "loss": bench.evaluate(image), "lowest on the way": None,
                     "within budget": seconds <= budget_s})  # fmt: skip
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
        except RunStopped:  # the engine's answer to CUDA running out of memory
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
    small = Bench(textbook_problem(64 if quick else 256, weights, device), device, content, style)
    report["speed_256"] = per_step_speed(small, steps=4 if quick else 12, repeats=2 if quick else 5)
    print_table(f"Time per step at {small.size} px ({device.type}, {torch.get_num_threads()} threads)", report["speed_256"])
    report["loss_agreement"] = loss_agreement(small, steps=5 if quick else 100)
    print_table("Loss after the same LBFGS steps, against our fp32", report["loss_agreement"])

    app_problem = GatysConfig(size=96 if quick else 512, vgg_weights=weights, device=device.type)  # the defaults
    app = Bench(app_problem, device, content, style)
    steps = 6 if quick else app_problem.steps
    candidates = {f"ours, app defaults ({steps} steps, {app_problem.levels} levels)": app.config(steps=steps),
                  f"ours, app defaults but 1 level ({steps} steps)": app.config(steps=steps, levels=1)}  # fmt: skip
    report["time_to_quality_512"] = time_to_quality(app, 8 if quick else 300, 60.0, candidates)
    print_table(f"App defaults at {app.size} px against the baseline on the same problem (budget 60 s)",
                report["time_to_quality_512"])  # fmt: skip
    if device.type == "cuda":
        large = Bench(textbook_problem(512, weights, device), device, content, style)
        report["gpu_512"] = gpu_section(large, steps=20 if quick else 300, repeats=2 if quick else 5)
        print_table(f"GPU: {large.size} px", [report["gpu_512"]])
    else:
        print("\nGPU section skipped: no CUDA device here (run this script on a GPU machine)")
    write_json(Path(args.out) / f"gatys-{device.type}{'-quick' if quick else ''}.json", report)


if __name__ == "__main__":
    main()
