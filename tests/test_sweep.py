"""Sweeps: a grid of runs over one or two options, through the Python API and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys import engine as gatys
from nst.gatys.config import GatysConfig
from nst.gatys.sweep import Axis, SweepConfig, contact_sheet, run_sweep, save_report

ROOT = Path(__file__).resolve().parents[1]


def tiny_sweep() -> SweepConfig:
    base = GatysConfig(size=32, steps=4, levels=2, vgg_weights="random", device="cpu", precision="fp32",
                       style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))  # fmt: skip
    return SweepConfig(Axis("log10_ratio", (-2, -4)), Axis("pooling", ("max", "avg")), base)


def test_a_2x2_sweep_fills_every_cell_in_order_and_shares_targets(content_image, style_image, monkeypatch, tmp_path):
    calls = []
    real = gatys.compute_targets
    monkeypatch.setattr(gatys, "compute_targets", lambda *a: calls.append(a[0].pooling) or real(*a))
    sweep = tiny_sweep()
    cells = list(run_sweep(sweep, content_image, style_image))
    assert [(c.row, c.column) for c in cells] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [c.config.pooling for c in cells] == ["max", "avg", "max", "avg"]
    assert [c.config.alpha / c.config.beta for c in cells] == pytest.approx([1e-2, 1e-2, 1e-4, 1e-4])
    assert all(c.image.size == (32, 24) and len(c.losses) == 5 for c in cells)
    # targets depend on the pooling (2 values) and the level (2), not on alpha / beta: 4, not 8
    assert len(calls) == 4 and sorted(calls) == ["avg", "avg", "max", "max"]
    sheet = contact_sheet(sweep, cells, cell_px=64)
    assert sheet.size == (270 + 2 * 64, 30 + 2 * (64 + 38))
    for cell in cells:  # each cell's picture is on the sheet, where its row and column say
        x, y = 270 + cell.column * 64, 30 + cell.row * (64 + 20)
        assert np.asarray(sheet.crop((x + 2, y + 2, x + 62, y + 46))).std() > 1
    report = json.loads(save_report(sweep, cells, tmp_path / "r.json").read_text())
    assert report["rows"] == {"name": "log10_ratio", "values": [-2, -4]} and len(report["cells"]) == 4
    assert report["cells"][3]["config"]["pooling"] == "avg" and len(report["cells"][3]["losses"]) == 5


def test_stopping_a_sweep_keeps_the_finished_cells(content_image, style_image):
    sweep = tiny_sweep()
    run = run_sweep(sweep, content_image, style_image)
    finished = [next(run), next(run)]
    run.close()
    sheet = contact_sheet(sweep, finished, cell_px=64)
    bottom_row = np.asarray(sheet.crop((270, 30 + 84, 270 + 128, 30 + 84 + 60)))
    assert (bottom_row == 255).all()  # the cells that did not run stay empty


def test_axes_parse_and_check():
    assert Axis.parse("log10_ratio=-1,-3").values == (-1.0, -3.0)
    assert Axis.parse("style-layers=relu1_1;relu1_1,relu2_1").values == (("relu1_1",), ("relu1_1", "relu2_1"))
    assert Axis.parse("pooling=max,avg").values == ("max", "avg") and Axis.parse("steps=5,10").values == (5, 10)
    assert Axis("style_layers", (("relu1_1", "relu2_1", "relu3_1"),)).label(("relu1_1", "relu2_1", "relu3_1")) == (
        "style_layers = relu1_1..relu3_1 (3)")  # fmt: skip
    with pytest.raises(ValueError, match="cannot vary 'colour'"):
        Axis("colour", (1,))
    with pytest.raises(ValueError, match="pooling must be one of max, avg"):
        SweepConfig(Axis("pooling", ("max", "mean")), None, tiny_sweep().base).cells()


@pytest.mark.slow
def test_cli_sweep_writes_a_sheet_and_a_report(tmp_path, image_files):
    content, style = image_files
    result = subprocess.run(
        [sys.executable, "-m", "nst", "sweep", "--content", str(content), "--style", str(style), "--vary", "log10_ratio=-2,-4",
         "--vary", "pooling=max,avg", "--out", str(tmp_path / "sheet.png"), "--json", str(tmp_path / "r.json"),
         "--size", "32", "--steps", "3", "--vgg-weights", "random"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("cell")] == [
        "cell 1/4", "cell 2/4", "cell 3/4", "cell 4/4"]  # fmt: skip
    assert len(json.loads((tmp_path / "r.json").read_text())["cells"]) == 4 and (tmp_path / "sheet.png").is_file()
    assert result.stdout.strip() == f"saved {tmp_path / 'sheet.png'} and {tmp_path / 'r.json'}"  # both files it wrote
    assert all(" · edges " in line for line in result.stderr.splitlines() if line.startswith("cell"))  # each cell judged
    bad = subprocess.run([sys.executable, "-m", "nst", "sweep", "--content", str(content), "--style", str(style),
                          "--vary", "colour=1,2", "--out", str(tmp_path / "x.png")], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: cannot vary 'colour'")


@pytest.fixture(scope="module")
def experiments():
    mp = pytest.MonkeyPatch()
    mp.setenv("NST_VGG19_WEIGHTS", "random")
    from ui import experiments

    yield experiments
    mp.undo()


def test_the_experiments_handler_shows_cells_as_they_finish(experiments, image_files):
    content, style = map(str, image_files)
    outputs = list(experiments.run_experiment(content, style, "log10_ratio=-2,-4", "pooling=max,avg", 64, 3, "random"))
    assert outputs[0][0].columns == 2 and outputs[0][0].value == []  # the sweep's two columns from the start: no jump
    assert [len(gallery) for gallery, *_ in outputs[1:]] == [1, 2, 3, 4]  # one more cell each time
    gallery, plot, files, status = outputs[-1]
    assert [caption.split("\n")[0] for _, caption in gallery] == [
        "log10(alpha/beta) = -2, pooling = max", "log10(alpha/beta) = -2, pooling = avg",
        "log10(alpha/beta) = -4, pooling = max", "log10(alpha/beta) = -4, pooling = avg"]  # fmt: skip
    assert "4 of 4 cells done" in status and plot.count("pooling = avg") >= 2  # every curve named in the legend
    assert Path(files[0]).name == "contact_sheet.png" and len(json.loads(Path(files[1]).read_text())["cells"]) == 4


def test_identical_curves_are_named_not_hidden(experiments, content_image, style_image):
    """Two runs with the same losses (a plateau scheduler that never acted) would hide one curve
    under the other: the legend and a note say they are the same."""
    sweep = SweepConfig(Axis("scheduler", ("none", "plateau")), None,
                        GatysConfig(size=32, steps=3, levels=1, vgg_weights="random", scheduler_patience=50))  # fmt: skip
    cells = list(run_sweep(sweep, content_image, style_image))
    assert [entry["total"] for entry in cells[0].losses] == [entry["total"] for entry in cells[1].losses]
    plot = experiments.sweep_svg(sweep, cells)
    assert "scheduler = plateau (same curve)" in plot
    assert "Identical runs (the option changed nothing here): scheduler = plateau = scheduler = none" in plot


def test_stopping_the_experiment_keeps_the_finished_cells_downloadable(experiments, image_files):
    content, style = map(str, image_files)
    run = experiments.run_experiment(content, style, "log10_ratio=-2,-4,-6", "", 64, 3, "random")
    outputs = [next(run) for _ in range(3)]  # the start, then two cells
    run.close()  # what Stop's cancel does
    files = outputs[-1][2]
    assert len(json.loads(Path(files[1]).read_text())["cells"]) == 2 and "2 of 3 cells done" in outputs[-1][3]


def test_the_study_figures_fill_the_axes(experiments):
    rows, columns = experiments.study_sweep("style layers, conv1_1 then up to conv5_1")
    axis = Axis.parse(rows)
    assert axis.values[0] == ("conv1_1",) and axis.values[-1] == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert columns == "" and experiments.study_sweep("pooling x LR scheduler") == ("pooling=max,avg", "scheduler=none,plateau")
    for rows, columns in map(experiments.study_sweep, experiments.STUDY_SWEEPS):
        SweepConfig(Axis.parse(rows), Axis.parse(columns) if columns else None, GatysConfig(vgg_weights="random")).cells()


FEED_FORWARD_FIGURE = "initial image: content, noise or feed-forward, at step 0 and after 60"


def test_the_feed_forward_figure_puts_both_methods_on_one_sheet(experiments, content_image, style_image):
    rows, columns = experiments.study_sweep(FEED_FORWARD_FIGURE)
    base = GatysConfig(size=32, levels=1, vgg_weights="random", device="cpu", precision="fp32",
                       style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))  # fmt: skip
    sweep = SweepConfig(Axis.parse(rows), Axis.parse(columns), base)
    assert [(r, c, config.init, config.steps) for r, c, config in sweep.cells()] == [
        (0, 0, "content", 0), (0, 1, "content", 60), (1, 0, "noise", 0), (1, 1, "noise", 60),
        (2, 0, "fast", 0), (2, 1, "fast", 60)]  # fmt: skip
    sweep.columns = Axis("steps", (0, 4))  # the same sheet, quicker
    cells = {(cell.config.init, cell.config.steps): cell for cell in run_sweep(sweep, content_image, style_image)}
    pixels = {key: np.asarray(cell.image) for key, cell in cells.items()}
    assert np.array_equal(pixels["fast", 0], np.asarray(fast_stylize(content_image, style_image, FastConfig(size=32))))
    assert np.array_equal(pixels["content", 0], np.asarray(content_image.resize((32, 24), Image.Resampling.LANCZOS)))
    assert not np.array_equal(pixels["fast", 4], pixels["fast", 0])  # and Gatys moved on from it
    assert cells["fast", 4].losses[-1]["total"] < cells["fast", 0].losses[-1]["total"]
    sheet = contact_sheet(sweep, list(cells.values()), cell_px=64)
    assert sheet.size == (270 + 2 * 64, 30 + 3 * (64 + 38))
    plot = experiments.sweep_svg(sweep, list(cells.values()))
    assert plot.count("init = fast, steps = 0") >= 1  # the one-point curve of the feed-forward picture is named


@pytest.mark.slow
def test_the_served_app_runs_a_sweep(tmp_path, tmp_path_factory, image_files):
    from gradio_client import Client, handle_file

    from app_server import serve_app_with_tiny_generator

    server = serve_app_with_tiny_generator(tmp_path_factory)
    app_server = next(server)
    try:
        content, style = image_files
        client = Client(app_server.url, verbose=False)
        gallery, _, files, status = client.predict(handle_file(str(content)), handle_file(str(style)), "log10_ratio=-2,-4",
                                                   "pooling=max,avg", 64, 2, "random", api_name="/sweep")  # fmt: skip
        assert len(gallery) == 4 and "4 of 4 cells done" in status and len(files) == 2
    finally:
        next(server, None)


def test_a_sweep_that_cannot_start_says_not_run(experiments, image_files, monkeypatch):
    """torchvision's network offline: nothing ran, so the status says "Not run", not "Stopped after 0 cells"."""
    from nst.gatys.vgg import VGGWeightsError

    def offline(source):
        raise VGGWeightsError("Could not download torchvision's VGG19 weights")

    monkeypatch.setattr(gatys, "load_vgg19", offline)
    content, style = map(str, image_files)
    outputs = []
    with pytest.raises(gr.Error, match="Could not download"):
        for output in experiments.run_experiment(content, style, "log10_ratio=-2,-4", "", 64, 3, "torchvision"):
            outputs.append(output)
    assert "Not run: Could not download" in outputs[-1][3] and "Stopped after" not in outputs[-1][3]


def test_the_sweep_example_picture_is_what_its_documented_command_makes():
    """docs/sweep-example.png records how it was made (the CLI writes it into the PNG); it must be
    the command docs/study.md shows, so the picture cannot drift from its command."""
    import re
    import shlex

    root = Path(__file__).resolve().parents[1]
    block = re.search(r"```bash\n(python -m nst sweep .*?)```", (root / "docs" / "study.md").read_text(), re.S).group(1)
    words = shlex.split(re.sub(r"\\\n\s*", "", block))
    shown = {"vary": [words[i + 1] for i, word in enumerate(words) if word == "--vary"],
             "size": int(words[words.index("--size") + 1]), "steps": int(words[words.index("--steps") + 1]),
             "content": words[words.index("--content") + 1], "style": words[words.index("--style") + 1]}  # fmt: skip
    recorded = json.loads(Image.open(root / "docs" / "sweep-example.png").text["nst sweep"])
    assert recorded == shown
