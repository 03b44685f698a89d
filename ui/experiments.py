"""The Experiments tab's handler: a sweep (nst.gatys.sweep) run cell after cell, each cell shown as it
finishes, with every run's loss curve on one plot and the contact sheet and report to download."""

from __future__ import annotations

import gradio as gr
import spaces
from matplotlib.figure import Figure

from nst.gatys.config import GatysConfig
from nst.gatys.engine import RunStopped
from nst.gatys.sweep import Axis, SweepConfig, contact_sheet, quality_caption, run_sweep, save_report
from nst.gatys.vgg import VGGWeightsError
from nst.images import ImageError
from ui import zero_gpu
from ui.loss_plot import figure_svg
from ui.widgets import new_result_path, open_upload, status_html, user_error

# The study's figures, one click each: (rows, columns) as `name=values` (see Axis.parse).
_CUMULATIVE = ";".join(",".join(f"conv{b}_1" for b in range(1, n + 1)) for n in range(1, 6))
STUDY_SWEEPS: dict[str, tuple[str, str | None]] = {
    "alpha/beta ratio, 10 to 1e-4 (relative units)": ("log10_ratio=1,0,-1,-2,-3,-4", None),
    "loss units: relative or the paper's, at alpha/beta 0.1 and 1e-5": ("loss_units=relative,paper", "log10_ratio=-1,-5"),
    "style layers, conv1_1 then up to conv5_1": (f"style_layers={_CUMULATIVE}", None),
    "pooling x LR scheduler": ("pooling=max,avg", "scheduler=none,plateau"),
    "initial image: copy of the content or white noise": ("init=content,noise", None),
    # feed-forward and Gatys on one sheet: the steps = 0 column is each start itself, so the "fast" row shows the
    # feed-forward picture (exactly, with one level; with more, made at the coarsest level and carried up as a
    # run carries its image) and then what Gatys makes of it, beside the same from the content and from noise
    "initial image: content, noise or feed-forward, at step 0 and after 60": ("init=content,noise,fast", "steps=0,60"),
    "pretrained or random VGG19": ("vgg_weights=original,random", None),
    "style loss: Gram or mean and covariance": ("style_statistic=gram,mean-cov", None),
    "picture: the best iterate or their moving average": ("iterate_average=0,0.9", None),
}


def study_sweep(name: str) -> tuple[str, str]:
    """The two axis boxes for one of the study's figures."""
    rows, columns = STUDY_SWEEPS[name]
    return rows, columns or ""


def _sweep(rows: str, columns: str, size: int, steps: int, network: str) -> SweepConfig:
    try:
        base = GatysConfig(size=int(size), steps=int(steps), vgg_weights=network)
        return SweepConfig(Axis.parse(rows), Axis.parse(columns) if columns.strip() else None, base)
    except ValueError as error:
        raise user_error(error) from error


def _sweep_gpu_seconds(content, style, rows: str, columns: str, size: int, steps: int, network: str) -> int:
    """ZeroGPU time to reserve for every cell of the sweep (ui.zero_gpu), never more than it grants."""
    cells = len(_sweep(rows, columns, size, steps, network).cells())
    return zero_gpu.duration(zero_gpu.gatys_seconds(int(steps), int(size), cells))


def run_experiment(content: str | None, style: str | None, rows: str, columns: str, size: int, steps: int, network: str):
    """Run the sweep button (api_name /sweep): a sweep that cannot fit in one ZeroGPU call is
    refused before it asks for the GPU."""
    if content is None or style is None:
        raise user_error("Please upload a content image and a style image.")
    refused = zero_gpu.refusal(int(steps), int(size), len(_sweep(rows, columns, size, steps, network).cells()))
    if refused:
        yield gr.skip(), gr.skip(), gr.skip(), status_html(f"Not run: {refused}")
        raise user_error(refused, duration=None)
    yield from _sweep_on_gpu(content, style, rows, columns, size, steps, network)


@spaces.GPU(duration=_sweep_gpu_seconds)
def _sweep_on_gpu(content: str, style: str, rows: str, columns: str, size: int, steps: int, network: str):
    """Yields (gallery, loss plot, downloads, status) after each finished cell."""
    sweep = _sweep(rows, columns, size, steps, network)
    cells_planned = sweep.cells()
    images = (open_upload(content, "content", int(size)), open_upload(style, "style", int(size)))
    sheet_path = new_result_path().with_name("contact_sheet.png")
    report_path = sheet_path.with_name("sweep.json")
    done, gallery = [], []
    # as many gallery columns as the sweep has (up to 4) from the start, so the cells keep their size as they come
    columns = min(4, len(sweep.columns.values) if sweep.columns else len(cells_planned))
    yield (gr.Gallery(value=[], columns=columns), gr.skip(), gr.skip(),
           status_html(f"Running cell 1 of {len(cells_planned)}...", 0, len(cells_planned)))  # fmt: skip
    try:
        for cell in run_sweep(sweep, *images):
            done.append(cell)
            gallery.append((cell.image, f"{sweep.label(cell)}\n{quality_caption(cell.quality)} · loss {cell.losses[-1]['total']:.4g}"))
            contact_sheet(sweep, done).save(sheet_path)  # kept up to date, so Stop leaves what finished
            save_report(sweep, done, report_path)
            text = f"{len(done)} of {len(cells_planned)} cells done"
            files = [str(sheet_path), str(report_path)]
            yield list(gallery), sweep_svg(sweep, done), files, status_html(text, len(done), len(cells_planned))
    except (VGGWeightsError, ImageError, RunStopped, ValueError) as error:
        where = f"Stopped after {len(done)} of {len(cells_planned)} cells" if done else "Not run"
        yield gr.skip(), gr.skip(), gr.skip(), status_html(f"{where}: {error}")
        raise user_error(error, duration=None) from error


def sweep_svg(sweep: SweepConfig, cells) -> str:
    """Every finished cell's total loss against the step, labelled, on one log-scale plot."""
    figure = Figure(figsize=(7.2, 3.2), dpi=100)
    figure.subplots_adjust(left=0.13, right=0.62, top=0.95, bottom=0.16)
    axes = figure.add_subplot()
    axes.set(yscale="log", xlabel="step", ylabel="total loss (log scale)")
    drawn, same = {}, []  # a curve equal to one drawn before hides under it: say which
    for cell in cells:
        points = [(entry["step"], entry["total"]) for entry in cell.losses if entry["total"] > 0]
        label = sweep.label(cell)
        if tuple(points) in drawn:
            same.append(f"{label} = {drawn[tuple(points)]}")
            label += " (same curve)"
        drawn.setdefault(tuple(points), sweep.label(cell))
        if points:  # a cell of 0 steps is one point: a dot, or it would not show
            axes.plot(*zip(*points), label=label, linewidth=1.3, marker="o" if len(points) == 1 else None,
                      linestyle="--" if label.endswith("(same curve)") else "-")  # fmt: skip
    if axes.lines:
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    if same:  # e.g. a plateau scheduler that never cut the rate runs exactly as no scheduler
        figure.subplots_adjust(bottom=0.28)
        figure.text(0.01, 0.01, "Identical runs (the option changed nothing here): " + "; ".join(same), fontsize=6.5,
                    color="#555555", wrap=True)  # fmt: skip
    return figure_svg(figure)
