"""Benchmark: our Gatys engine against the textbook baseline (bench/baseline_gatys.py), in one run.

    python -m bench.gatys                 # full run: about 2 hours on 2 cores (each run at 512 px up to 10 minutes)
    python -m bench.gatys --quick         # small sizes, a smoke test of the script

Prints tables and writes bench/results/gatys-<cpu|gpu>.json. Speed is always a ratio against the
baseline measured in the same run (interleaved repeats, medians), on the same images, size,
layers and VGG19 weights. Losses are compared with one fp32 evaluator (the baseline's loss), so
precision tricks cannot flatter the numbers. Runs on the original VGG19 (nst.gatys.vgg), or the
network NST_VGG19_WEIGHTS names, and says which.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from bench import first_frame
from bench.baseline_gatys import CONTENT_LAYERS, STYLE_LAYERS, TextbookLoss, TextbookVGG, textbook_stylize
from bench.common import interleaved, machine, parse_bench_args, print_table, result_path, sync, timed, tubingen_and_starry_night, write_json
from nst.device import has_fast_bf16, resolve_device
from nst.gatys.config import GatysConfig, default_vgg_weights, preset
from nst.gatys.engine import RunStopped, initial_image, run_gatys
from nst.gatys.vgg import ieee_fp32, load_vgg19
from nst.images import fit_long_side, image_to_tensor, load_image, tensor_to_image
from nst.quality import Quality, judge


def vgg_source() -> str:
    return default_vgg_weights()  # the original network unless NST_VGG19_WEIGHTS says otherwise


def images():
    """The Tübingen photo and The Starry Night (bench.common.tubingen_and_starry_night), loaded."""
    return tuple(load_image(path) for path in tubingen_and_starry_night())


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


# The textbook optimises the paper's loss, so our engine is timed on that objective too: a preset in
# relative units runs in paper units, at the study's ratio for them (alpha / beta = 1e-5).
PAPER_UNITS = {"loss_units": "paper", "alpha": 10.0, "beta": 1e6}

PRECISIONS = ("fp32", "mixed", "bf16")


def precisions(device: torch.device) -> tuple[str, ...]:
    """The precisions worth timing on `device`: all of them where bf16 is fast, else fp32 alone
    (emulated bf16 is several times slower than fp32 there, and "auto" never picks it)."""
    return PRECISIONS if has_fast_bf16(device) else ("fp32",)


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
    contenders |= {f"ours {p}": functools.partial(engine_seconds, p) for p in precisions(bench.device)}
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
    channels-last) in fp32 and, where it is fast, bf16: about the most this device's convolutions reach, the
    ceiling for the figures of per_step_speed."""
    rows = []
    for dtype in [torch.float32] + ([torch.bfloat16] if "bf16" in precisions(device) else []):
        x = torch.randn(1, 256, 128, 128, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(256, 256, 3, 3, dtype=dtype, device=device).contiguous(memory_format=torch.channels_last)
        with ieee_fp32(x):  # as our fp32 features run on CUDA, not TF32
            seconds = min(timed(lambda: torch.nn.functional.conv2d(x, weight, padding=1), device) for _ in range(repeats + 1))
        rows.append({"dtype": str(dtype).removeprefix("torch."), "GFLOP/s": 2 * 9 * 256 * 256 * 128 * 128 / seconds / 1e9})
    return rows


def loss_agreement(bench: Bench, steps: int) -> list[dict]:
    """Each precision's loss after the same LBFGS steps, in the fp32 yardstick, against our fp32."""
    losses = {p: bench.evaluate(bench.engine(bench.config(steps=steps, precision=p))[-1].image) for p in precisions(bench.device)}
    return [{"precision": p, "size": bench.size, "steps": steps, "loss": loss, "relative to fp32": loss / losses["fp32"] - 1}
            for p, loss in losses.items()]  # fmt: skip


@dataclass
class Frame:
    """A picture on a run's way: when (seconds since the run began, scoring excluded) and after
    how many loss-and-gradient evaluations (steps, for pastiche)."""

    seconds: float
    evaluations: int
    image: Image.Image


def textbook_frames(bench: Bench, line_search: str | None, evaluations: int, every: int) -> tuple[list[Frame], Image.Image]:
    """The textbook run from the problem's start: the evaluated images `judged`, and its final
    picture. The clock includes computing the targets."""
    begin = time.perf_counter()
    loss = bench.make_loss()
    start = initial_image(bench.problem, bench.content, bench.style)
    frames = []

    def keep(count, image):
        if judged(count, every):
            sync(bench.device)
            frames.append(Frame(time.perf_counter() - begin, count, tensor_to_image(image.detach())))

    final, history = textbook_stylize(loss, start, evaluations, keep, line_search=line_search)
    frames.append(Frame(time.perf_counter() - begin, len(history), tensor_to_image(final)))
    return frames, frames[-1].image


def engine_frames(bench: Bench, config: GatysConfig, evaluations: int, every: int, enough=lambda frame: False) -> list[Frame]:
    """Our engine's pictures at the steps `judged`, until `enough(frame)` says the run has shown
    what it had to (the clock leaves out the time `enough` spends scoring)."""
    frames, scoring = [], 0.0
    for record in run_gatys(config.replace(steps=evaluations), bench.content_image, bench.style_image, image_every=1):
        if record.image is not None and (judged(record.step, every) or record.step == evaluations):
            frames.append(Frame(record.elapsed_s - scoring, record.step, record.image))
            begin = time.perf_counter()
            done = enough(frames[-1])
            scoring += time.perf_counter() - begin
            if done:
                break
    return frames


def judged(evaluations: int, every: int) -> bool:
    """Whether the picture after this many evaluations is scored: each of the first
    JUDGE_EACH_UNTIL (a good picture can come within them), then every `every`-th."""
    return evaluations <= JUDGE_EACH_UNTIL or evaluations % every == 0


JUDGE_EACH_UNTIL = 30


def pastiche_frames(content: Image.Image, style: Image.Image, size: int, steps: int, every: int) -> list[Frame]:
    """`python -m pastiche` (Gatys with the original VGG19 and L-BFGS, its defaults) as a new user
    runs it, at `size`; its --workspace frames, timed by when each was written, from its step 0
    (so that its start-up, like ours, is not counted)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        content.save(f"{folder}/content.png"), style.save(f"{folder}/style.png")
        subprocess.run([sys.executable, "-m", "pastiche", "--content", f"{folder}/content.png", "--styles",
                        f"{folder}/style.png", "--output", f"{folder}/out.png", "--size", str(size), "--num-steps",
                        str(steps), "--workspace", f"{folder}/frames", "--workspace-step", str(every), "--no-verbose"],
                       check=True)  # fmt: skip
        paths = sorted(Path(folder, "frames").glob("*.png"))
        start = paths[0].stat().st_mtime
        return [Frame(path.stat().st_mtime - start, int(path.stem), Image.open(path).convert("RGB")) for path in paths]


def score(bench: Bench, name: str, frames: list[Frame], with_loss: bool = True) -> dict:
    """Each frame's loss in the one fp32 evaluator and its quality (nst.quality: style moved,
    structure kept), which no run optimises."""
    points = []
    for frame in frames:
        quality = judge(frame.image, bench.content_image, bench.style_image)
        point = {"seconds": frame.seconds, "evaluations": frame.evaluations, "style": quality.style,
                 "structure": quality.structure}  # fmt: skip
        if with_loss:
            point["loss"] = bench.evaluate(frame.image)
        points.append(point)
    return {"run": name, "points": points}


def as_good(point: dict, reference: Quality) -> bool:
    """A picture at least as good as the reference on both measures, give or take QUALITY_SLACK."""
    return point["style"] >= reference.style - QUALITY_SLACK and point["structure"] >= reference.structure - QUALITY_SLACK


QUALITY_SLACK = 0.02  # the measures move by about this between pictures a person cannot tell apart


def seconds_to(curve: dict, reached) -> float | None:
    return next((p["seconds"] for p in curve["points"] if reached(p)), None)


def seconds_to_lasting(curve: dict, reached, finished: bool = True) -> float | None:
    """The seconds to the first picture that is `reached` and stays so: every picture judged in
    the next HOLD evaluations, and the first after them, is reached too (for a `finished` run,
    pictures up to its end are enough). A picture that only flashes by, as after a first step that
    overshoots or right after a coarse-to-fine level's switch, does not count."""
    points = curve["points"]
    for index, point in enumerate(points):
        within = [p for p in points[index:] if p["evaluations"] <= point["evaluations"] + HOLD]
        after = points[index + len(within):][:1]
        if (after or finished) and all(reached(p) for p in within + after):
            return point["seconds"]
    return None


HOLD = 5  # evaluations


def time_to_quality(bench: Bench, evaluations: int, contenders: dict[str, GatysConfig], every: int,
                    others: dict[str, tuple[list[Frame], Quality]] | None = None) -> tuple[dict, dict[str, list[Frame]]]:  # fmt: skip
    """How many times sooner each contender reaches what the better textbook reaches.

    The better textbook is the better (lower best loss) of the plain LBFGS (lr 1, no line search)
    and torch's LBFGS with a strong-Wolfe line search, each run for `evaluations`. Two kinds of
    targets: its best loss on the way after a quarter, half and all of them (a ratio of seconds
    each, or how close the contender came), and pictures: its final one and those of `others`
    (runs made elsewhere, e.g. pastiche's, with their reference picture's quality); for each, the
    seconds until a run's picture is as good (`as_good`) and stays so (`seconds_to_lasting`).
    Returns the report and every run's frames."""
    frames, curves = {}, []
    for name, line_search in (("textbook LBFGS", None), ("textbook LBFGS + strong Wolfe", "strong_wolfe")):
        frames[name], final = textbook_frames(bench, line_search, evaluations, every)
        curves.append(score(bench, name, frames[name]))
    baseline = min(curves, key=lambda curve: min(p["loss"] for p in curve["points"]))
    best = min(p["loss"] for p in baseline["points"])
    better_final = frames[baseline["run"]][-1].image
    pictures = {f"{baseline['run']} after {evaluations} evals": judge(better_final, bench.content_image, bench.style_image)}
    for name, (other_frames, quality) in (others or {}).items():
        frames[name], pictures[f"{name}'s final picture"] = other_frames, quality
        curves.append(score(bench, name, other_frames, with_loss=False))

    def enough(so_far: dict) -> Callable[[Frame], bool]:  # scores each frame into so_far; stop once the best loss
        def scored(frame):  # and every picture are reached and kept
            so_far["points"] += score(bench, "", [frame])["points"]
            return seconds_to(so_far, lambda p: p["loss"] <= best) is not None and all(
                seconds_to_lasting(so_far, functools.partial(as_good, reference=quality), finished=False) is not None for quality in pictures.values())
        return scored

    for name, config in contenders.items():
        curve = {"run": name, "points": []}  # every frame of the run, scored as it comes
        frames[name] = engine_frames(bench, config, evaluations, every, enough(curve))
        curves.append(curve)
    ratios = []
    for share in (0.25, 0.5, 1.0):
        target = min(p["loss"] for p in baseline["points"] if p["evaluations"] <= share * evaluations)
        base_seconds = seconds_to(baseline, lambda p: p["loss"] <= target)
        row = {"quality": f"{baseline['run']}: best loss after {round(share * evaluations)} evals", "loss": target,
               "textbook s": base_seconds}  # fmt: skip
        for curve in curves:
            if curve is not baseline and "loss" in curve["points"][0]:
                seconds = seconds_to(curve, lambda p: p["loss"] <= target)
                row[curve["run"]] = base_seconds / seconds if seconds else f"not reached (best {min(p['loss'] for p in curve['points']):.4g})"
        ratios.append(row)
    to_picture = []
    for curve in curves:
        last = curve["points"][-1]
        row = {"run": curve["run"], "final style": last["style"], "final structure": last["structure"], "final s": last["seconds"]}
        for label, quality in pictures.items():
            seconds = seconds_to_lasting(curve, functools.partial(as_good, reference=quality))
            row[f"s to {label} ({quality.style:.2f}/{quality.structure:.2f})"] = "not reached" if seconds is None else seconds
        to_picture.append(row)
    report = {"size": bench.size, "evaluations": evaluations, "better textbook": baseline["run"], "ratios": ratios,
              "time_to_picture": to_picture, "pictures": {k: dataclasses.asdict(v) for k, v in pictures.items()},
              "curves": curves}  # fmt: skip
    return report, frames


def plot_curves(result: dict, title: str, path: Path) -> None:
    """Loss, style and structure against seconds for every run, side by side, each run in one colour
    (pastiche's run has no loss: it is in the style and structure panels, and the legend's)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2), dpi=100)
    for index, curve in enumerate(result["curves"]):
        seconds = [p["seconds"] for p in curve["points"]]
        for axis, measure in zip(axes, ("loss", "style", "structure")):
            if measure in curve["points"][0]:
                axis.plot(seconds, [p[measure] for p in curve["points"]], label=curve["run"], lw=1.3, color=f"C{index}")
    losses = [p["loss"] for c in result["curves"] for p in c["points"] if "loss" in p]
    axes[0].set(yscale="log", ylabel="loss of the saved image (one fp32 evaluator)", ylim=(0.8 * min(losses), 1.5 * result["curves"][0]["points"][0]["loss"]))
    axes[1].set(ylabel="style moved (nst.quality; 1: the style image's)")
    axes[2].set(ylabel="structure kept (nst.quality; 1: the content's edges)")
    for label, quality in result["pictures"].items():
        axes[1].axhline(quality["style"], ls="--", lw=0.8, color="grey")
        axes[2].axhline(quality["structure"], ls="--", lw=0.8, color="grey")
    for axis in axes:
        axis.set_xlabel("seconds")
    axes[1].legend(fontsize=7)  # the style panel has every run
    figure.suptitle(title + " (dashed: the reference pictures)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"wrote {path}")


def pictures_at_equal_seconds(runs: dict[str, list[Frame]], moments: list[float], path: Path) -> None:
    """A sheet: one row per run, one column per moment, each cell the run's latest picture by then."""
    from PIL import ImageDraw, ImageOps

    cell, label_w = 200, 230
    sheet = Image.new("RGB", (label_w + cell * len(moments), 24 + cell * len(runs)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, moment in enumerate(moments):
        draw.text((label_w + column * cell + 6, 6), f"after {moment:g} s", fill="black")
    for row, (name, frames) in enumerate(runs.items()):
        draw.text((6, 24 + row * cell + cell // 2), name[:36], fill="black")
        for column, moment in enumerate(moments):
            shown = [f for f in frames if f.seconds <= moment]
            if shown:
                picture = ImageOps.contain(shown[-1].image, (cell - 4, cell - 4))  # a coarse level's picture enlarged
                sheet.paste(picture, (label_w + column * cell + 2, 24 + row * cell + 2))
    sheet.save(path)
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
    contenders = {"baseline": baseline} | {f"ours {p}": functools.partial(ours, p) for p in precisions(device)}
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


def contenders(problem: GatysConfig, name: str, device: torch.device) -> dict[str, GatysConfig]:
    """Our engine on the baseline's problem: as the preset runs it (the app's defaults for
    "study"), with the other plan (one level or two), from the feed-forward picture, and in bf16
    where bf16 is fast (elsewhere it is emulated, slower than fp32, and "auto" never picks it)."""
    def levels(n: int) -> str:
        return f"{n} level{'s' if n > 1 else ''}"

    count = problem.level_count()  # at this size ("study": one level up to 362 px, two at 512 px)
    other = 2 if count == 1 else 1
    runs = {
        f"ours ({name}: {levels(count)}, {problem.precision})": problem,
        f"ours, {levels(other)}": problem.replace(levels=other),
        "ours, feed-forward start": problem.replace(init="fast"),  # nst.feedforward's picture, then Gatys
    }
    if "bf16" in precisions(device):
        runs["ours, bf16"] = problem.replace(precision="bf16")
    return runs


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="time-to-quality sizes (default: 256 512)")
    parser.add_argument("--presets", nargs="+", default=["study", "gatys2015"], help="time-to-quality problems (default: study gatys2015)")
    parser.add_argument("--evaluations", type=int, default=300, help="the textbook's evaluations (default: 300)")
    parser.add_argument("--pastiche-size", type=int, default=512, help="pastiche's run, at one of --sizes (default: 512)")
    parser.add_argument("--pastiche-steps", type=int, default=200, help="pastiche's steps (default: 200)")


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
    if len(precisions(device)) > 1:
        report["loss_agreement"] = loss_agreement(small, steps=5 if quick else 100)
        print_table("Loss after the same LBFGS steps, against our fp32", report["loss_agreement"])

    report |= first_frame.measure(content, style, quick)
    save()
    sizes, pastiche_size = ([64], 64) if quick else (args.sizes, args.pastiche_size)
    evaluations, every = (8, 2) if quick else (args.evaluations, 10)
    pastiche = None
    for preset_name in args.presets:
        for size in sizes:
            problem = preset(preset_name, size=size, vgg_weights=weights, device=device.type)
            bench = Bench(problem.replace(**PAPER_UNITS) if problem.loss_units == "relative" else problem, device, content, style)
            if size == pastiche_size and pastiche is None:
                steps = 4 if quick else args.pastiche_steps
                frames = pastiche_frames(content, style, size, steps, every)
                pastiche = {f"pastiche {steps} steps": (frames, judge(frames[-1].image, content, style))}
            result, frames = time_to_quality(bench, evaluations, contenders(bench.problem, preset_name, device), every,
                                             pastiche if size == pastiche_size else None)  # fmt: skip
            report[f"time_to_quality_{preset_name}_{size}"] = result
            title = f"{preset_name} preset, {size} px, {device.type}"
            print_table(f"{title}: times sooner than the better textbook (ratio)", result["ratios"])
            print_table(f"{title}: seconds to a picture as good as each reference (style/structure, nst.quality)",
                        result["time_to_picture"])  # fmt: skip
            plot_curves(result, title, result_path(args.out, f"gatys-{preset_name}-{size}", device.type, quick, ".png"))
            moments = [2, 4, 8] if quick else [5, 10, 20, 40, 80, 160]
            pictures_at_equal_seconds(frames, moments, result_path(args.out, f"gatys-{preset_name}-{size}-pictures",
                                                                          device.type, quick, ".png"))  # fmt: skip
            save()


if __name__ == "__main__":
    main()
