"""Benchmark: our Gatys engine against the textbook baseline (bench/baseline_gatys.py), in one run.

    python -m bench.gatys                 # full run: about 40 minutes on 2 cores
    python -m bench.gatys --quick         # small sizes, a smoke test of the script

Prints tables and writes bench/results/gatys-<cpu|gpu>.json. Speed is always a ratio against the
baseline measured in the same run (interleaved repeats, medians), on the same images, size,
layers and VGG19 weights. Losses are compared with one fp32 evaluator (the baseline's loss), so
precision tricks cannot flatter the numbers. Runs on the original VGG19 (nst.gatys.vgg), or the
network NST_VGG19_WEIGHTS names, and says which.
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

import torch

from bench.app_process import AppProcess
from bench.baseline_gatys import CONTENT_LAYERS, STYLE_LAYERS, TextbookLoss, TextbookVGG, textbook_stylize
from bench.common import EXAMPLE_IMAGES, SHARED_IMAGES, interleaved, machine, parse_bench_args, print_table, result_path, sync, timed, write_json
from nst.device import resolve_device
from nst.gatys.config import GatysConfig, default_vgg_weights, preset
from nst.gatys.engine import RunStopped, initial_image, run_gatys
from nst.gatys.vgg import ieee_fp32, load_vgg19
from nst.images import fit_long_side, image_to_tensor, load_image, tensor_to_image


def vgg_source() -> str:
    return default_vgg_weights()  # the original network unless NST_VGG19_WEIGHTS says otherwise


def images():
    """The Tübingen photo and The Starry Night from ../shared/images, else the app's 512 px copies."""
    if (SHARED_IMAGES / "tubingen.jpg").is_file():
        return load_image(SHARED_IMAGES / "tubingen.jpg"), load_image(SHARED_IMAGES / "starry_night.jpg")
    return load_image(EXAMPLE_IMAGES / "tubingen.jpg"), load_image(EXAMPLE_IMAGES / "starry_night.jpg")


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
        style_shape = fit_long_side(style_image.width, style_image.height, problem.style_side())
        self.style = image_to_tensor(style_image, style_shape).to(device)
        layers = problem.style_layers + problem.content_layers
        self.vgg = TextbookVGG(load_vgg19(problem.vgg_weights), layers, problem.pooling).to(device)
        with ieee_fp32(self.content):
            self.loss = self.make_loss()  # the evaluator: IEEE fp32 on a GPU too

    def make_loss(self) -> TextbookLoss:
        problem = self.problem
        return TextbookLoss(self.vgg, self.content, self.style, problem.alpha, problem.beta, problem.style_layers,
                            problem.content_layers)  # fmt: skip

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
    base, flops = medians["baseline (textbook, fp32)"], flops_per_evaluation(bench)
    return [{"contender": k, "size": bench.size, "s/step (median)": v, "ratio to baseline": v / base,
             "GFLOP/s": flops / v / 1e9} for k, v in medians.items()]  # fmt: skip


def flops_per_evaluation(bench: Bench) -> float:
    """Floating-point operations of one loss-and-gradient evaluation (the textbook's; ours does
    the same arithmetic: the same layers, and no gradient for the frozen weights)."""
    from torch.utils.flop_counter import FlopCounterMode

    image = bench.content.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        bench.loss(image).backward()
    return counter.get_total_flops()


def convolution_peak(device: torch.device, repeats: int = 5) -> list[dict]:
    """GFLOP/s of one large VGG19 convolution (conv3_2: 256 to 256 channels, 3x3, at 128 x 128,
    channels-last) in fp32 and bf16: about the most this device's convolutions reach, the
    ceiling for the figures of per_step_speed."""
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(1, 256, 128, 128, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(256, 256, 3, 3, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        with ieee_fp32(x):  # as our fp32 features run on CUDA, not TF32
            seconds = min(timed(lambda: torch.nn.functional.conv2d(x, weight, padding=1), device) for _ in range(repeats + 1))
        rows.append({"dtype": str(dtype).removeprefix("torch."), "GFLOP/s": 2 * 9 * 256 * 256 * 128 * 128 / seconds / 1e9})
    return rows


def loss_agreement(bench: Bench, steps: int) -> list[dict]:
    """Each precision's loss after the same LBFGS steps, in the fp32 yardstick, against our fp32."""
    losses = {p: bench.evaluate(bench.engine(bench.config(steps=steps, precision=p))[-1].image) for p in PRECISIONS}
    return [{"precision": p, "size": bench.size, "steps": steps, "loss": loss, "relative to fp32": loss / losses["fp32"] - 1}
            for p, loss in losses.items()]  # fmt: skip


def loss_curve(bench: Bench, name: str, config: GatysConfig | None, evaluations: int, every: int,
               stop_at: float = 0.0) -> dict:  # fmt: skip
    """Seconds against quality for one run: every `every`-th image on the way (and the last) is
    scored by the evaluator as the saved 8-bit image. `config` None is the baseline, which starts
    where `bench.problem` starts and runs all its evaluations; ours stops once it scores
    `stop_at` or lower. The clock includes computing the targets, for both, and leaves out the
    scoring."""
    points = []
    if config is None:
        begin = time.perf_counter()
        loss = bench.make_loss()
        start = initial_image(bench.problem, bench.content, bench.style)
        kept = []

        def keep(count, image):
            if count == 1 or count % every == 0:
                sync(bench.device)
                kept.append((time.perf_counter() - begin, count, tensor_to_image(image.detach())))

        textbook_stylize(loss, start, evaluations, keep)
        points = [{"seconds": seconds, "evaluations": count, "loss": bench.evaluate(image)} for seconds, count, image in kept]
    else:
        scoring = 0.0  # seconds spent scoring, which the engine's clock counts but the run did not need
        for record in run_gatys(config.replace(steps=evaluations), bench.content_image, bench.style_image, image_every=every):
            if record.image is not None:
                begin = time.perf_counter()
                points.append({"seconds": record.elapsed_s - scoring, "evaluations": record.step, "loss": bench.evaluate(record.image)})
                scoring += time.perf_counter() - begin
                if points[-1]["loss"] <= stop_at:
                    break
    return {"run": name, "points": points}


def seconds_to_reach(curve: dict, loss: float) -> float | None:
    return next((p["seconds"] for p in curve["points"] if p["loss"] <= loss), None)


def time_to_quality(bench: Bench, evaluations: int, contenders: dict[str, GatysConfig], every: int) -> dict:
    """How many times sooner each contender reaches the losses the textbook LBFGS reaches.

    The qualities are the baseline's best loss on the way after a quarter, half and all of its
    `evaluations` (its best, never a point it reached by diverging); for each, the seconds the
    baseline needed and each contender's ratio (baseline seconds / contender seconds; None where
    the contender never got there, with its best loss shown)."""
    baseline = loss_curve(bench, "baseline (textbook LBFGS, fp32)", None, evaluations, every)
    best = min(p["loss"] for p in baseline["points"])
    curves = [baseline] + [loss_curve(bench, name, config, evaluations, every, stop_at=best) for name, config in contenders.items()]
    rows = []
    for share in (0.25, 0.5, 1.0):
        on_the_way = [p for p in baseline["points"] if p["evaluations"] <= share * evaluations]
        target = min(p["loss"] for p in on_the_way)
        base_seconds = seconds_to_reach(baseline, target)
        row = {"quality": f"textbook best after {round(share * evaluations)} evals", "loss": target,
               "textbook s": base_seconds}  # fmt: skip
        for curve in curves[1:]:
            seconds = seconds_to_reach(curve, target)
            row[curve["run"]] = base_seconds / seconds if seconds else f"not reached (best {min(p['loss'] for p in curve['points']):.4g})"
        rows.append(row)
    return {"size": bench.size, "evaluations": evaluations, "ratios": rows, "curves": curves}


def plot_curves(result: dict, title: str, path: Path) -> None:
    """Loss against seconds for every run, with the baseline's best as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for curve in result["curves"]:
        axes.plot([p["seconds"] for p in curve["points"]], [p["loss"] for p in curve["points"]], label=curve["run"], lw=1.4)
    axes.axhline(result["ratios"][-1]["loss"], color="grey", ls="--", lw=0.8, label="textbook's best")
    # the y range holds the textbook's start and every curve of ours but the fast start's (far off at first)
    # and leaves out the textbook's spikes once it diverges, which would squash the race to its best
    shown = [result["curves"][0]["points"][0]] + [p for c in result["curves"][1:] if "fast" not in c["run"] for p in c["points"]]
    lowest = min(p["loss"] for curve in result["curves"] for p in curve["points"])
    axes.set(xlabel="seconds", ylabel="loss of the saved image (one fp32 evaluator)", yscale="log", title=title,
             ylim=(0.8 * lowest, 1.5 * max(p["loss"] for p in shown)))  # fmt: skip
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"wrote {path}")


def gpu_section(bench: Bench, steps: int, repeats: int) -> dict:
    """`steps` steps at the bench's size: seconds for the baseline and ours in each precision,
    peak memory, and the largest size that fits."""
    device = bench.device

    def ours(precision):
        return timed(lambda: bench.engine(bench.config(steps=steps, precision=precision)), device)

    def baseline():
        return timed(lambda: textbook_stylize(bench.loss, bench.content, steps), device)

    torch.cuda.reset_peak_memory_stats()
    contenders = {"baseline": baseline} | {f"ours {p}": functools.partial(ours, p) for p in PRECISIONS}
    medians = interleaved(contenders, repeats)
    row = {"size": bench.size, "steps": steps, "baseline s": medians.pop("baseline")}
    for name, seconds in medians.items():
        row[f"{name} s"], row[f"{name} speed-up"] = seconds, row["baseline s"] / seconds
    row["peak GiB"] = torch.cuda.max_memory_allocated() / 2**30
    row["largest size"] = largest_size(bench)
    return row


def largest_size(bench: Bench, start: int = 2048, limit: int = 16384, resolution: int = 1024) -> int:
    """Double, then bisect to `resolution`, the long side while a step of our engine fits in GPU memory."""

    def fits(size):
        try:
            bench.engine(bench.config(size=size, steps=1))
            return True
        except RunStopped:  # the engine's answer to CUDA running out of memory
            return False
        finally:
            torch.cuda.empty_cache()

    low, high = 0, start
    while high <= limit and fits(high):
        low, high = high, high * 2
    if high > limit:  # `limit` (or the last size below it) fits: no need to look further
        return low
    while high - low > resolution:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def first_frame(sizes: list[int], repeats: int = 3) -> list[dict]:
    """What a person waits for after `python app.py`, measured from outside through the app's API
    (gradio_client), with the app's defaults: seconds until the page is served, then per size the
    seconds from pressing Run to the first streamed picture on a fresh process (cold: the network
    is read and dequantised then) and on later Runs (warm, median of `repeats`), and the first
    feed-forward preview."""
    import tempfile

    from gradio_client import Client, handle_file

    content, style = images()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        content.save(f"{folder}/content.png"), style.save(f"{folder}/style.png")
        files = dict(content=handle_file(f"{folder}/content.png"), style=handle_file(f"{folder}/style.png"))
        for size in sizes:
            app = AppProcess(Path(folder) / "app.log", {"NST_VGG19_WEIGHTS": vgg_source()})
            try:
                client = Client(app.url, verbose=False)
                seconds = []
                for _ in range(repeats + 1):
                    start = time.perf_counter()
                    job = client.submit(**files, style2=None, size=size, api_name="/gatys")
                    next(output for output in job if isinstance(output[0], str))  # a picture, not gr.skip()
                    seconds.append(time.perf_counter() - start)
                    job.cancel()
                start = time.perf_counter()
                client.predict(**files, strength=1.0, api_name="/preview")
                preview_s = time.perf_counter() - start
            finally:
                app.stop()
            rows.append({"size": size, "app served s": app.started_s, "first frame cold s": seconds[0],
                         "first frame warm s (median)": statistics.median(seconds[1:]), "first preview s": preview_s,
                         "target": "<= 5 s cold, <= 1 s warm"})  # fmt: skip
    return rows


def contenders(problem: GatysConfig) -> dict[str, GatysConfig]:
    """Our engine on the baseline's problem: each precision at one level (fp32 is what a CPU
    without native bf16 runs), the preset's own coarse-to-fine plan, and the feed-forward start."""
    runs = {f"ours {precision}, 1 level": problem.replace(precision=precision, levels=1) for precision in PRECISIONS}
    if problem.levels > 1:
        runs[f"ours auto, {problem.levels} levels"] = problem
    runs["ours auto, 1 level, fast start"] = problem.replace(levels=1, init="fast")  # the feed-forward picture (nst.feedforward.magenta)
    return runs


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="time-to-quality sizes (default: 256 512)")
    parser.add_argument("--presets", nargs="+", default=["study", "gatys2015"], help="time-to-quality problems (default: study gatys2015)")
    parser.add_argument("--evaluations", type=int, default=300, help="the textbook's evaluations (default: 300)")


def main() -> None:
    args = parse_bench_args(__doc__.split("\n\n")[0], add_arguments)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    weights = vgg_source()
    content, style = images()
    quick = args.quick
    report = {"machine": machine(), "device": device.type, "vgg_weights": weights}
    print(report)
    if weights.startswith("random"):
        print("note: a random VGG19: speeds hold, losses describe no real stylisation")
    small = Bench(textbook_problem(64 if quick else 256, weights, device), device, content, style)
    report["speed_256"] = per_step_speed(small, steps=4 if quick else 12, repeats=2 if quick else 5)
    print_table(f"Time per step at {small.size} px ({device.type}, {torch.get_num_threads()} threads)", report["speed_256"])
    report["convolution_peak"] = convolution_peak(device)
    print_table("The ceiling: one large convolution (conv3_2 at 128 x 128, channels-last)", report["convolution_peak"])
    save = functools.partial(write_json, result_path(args.out, "gatys", device.type, quick), report)
    save()  # and again after each part: a run cut short keeps what it measured
    if device.type == "cuda":  # before the long time-to-quality runs, so a short session still gets it
        large = Bench(textbook_problem(512, weights, device), device, content, style)
        report["gpu_512"] = gpu_section(large, steps=20 if quick else 300, repeats=2 if quick else 3)
        print_table(f"GPU: {large.size} px", [report["gpu_512"]])
        save()
    else:
        print("\nGPU section skipped: no CUDA device here (run this script on a GPU machine)")
    report["loss_agreement"] = loss_agreement(small, steps=5 if quick else 100)
    print_table("Loss after the same LBFGS steps, against our fp32", report["loss_agreement"])

    report["first_frame"] = first_frame([64] if quick else [256, 512], repeats=1 if quick else 3)
    print_table("The app's Run: seconds to the first streamed picture (app defaults, network loaded)", report["first_frame"])
    save()
    for preset_name in args.presets:
        for size in [64] if quick else args.sizes:
            problem = preset(preset_name, size=size, vgg_weights=weights, device=device.type)
            result = time_to_quality(Bench(problem, device, content, style), 8 if quick else args.evaluations,
                                     contenders(problem), every=2 if quick else 10)  # fmt: skip
            report[f"time_to_quality_{preset_name}_{size}"] = result
            title = f"{preset_name} preset, {size} px, {device.type}: times sooner than the textbook (ratio)"
            print_table(title, result["ratios"])
            plot_curves(result, title.split(":")[0], result_path(args.out, f"gatys-{preset_name}-{size}", device.type, quick, ".png"))
            save()


if __name__ == "__main__":
    main()
