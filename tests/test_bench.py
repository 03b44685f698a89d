"""The benchmark scripts run end to end (with --quick sizes) and write their JSON reports.

These check that the scripts work, not the speed: speed is measured by running them in full.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import first_frame
from nst.device import cpu_has_fast_bf16

pytestmark = pytest.mark.slow  # runs the benchmark scripts

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script,keys", [
    ("gatys", {"speed_256", "first_frame", "time_to_quality_study_64", "time_to_quality_gatys2015_64", "machine", "vgg_weights"}),
    ("cyclegan", {"cpu_inference", "webcam_cpu", "machine"}),
    ("fast", {"cpu_load", "cpu_latency", "machine"}),
    ("large", {"gatys", "cyclegan", "machine"}),
])  # fmt: skip
def test_bench_script_quick_run(tmp_path, script, keys):
    # --device cpu: the GPU sections are skipped, and the script must say so
    command = [sys.executable, "-m", f"bench.{script}"]  # as the README's Performance section runs them
    result = subprocess.run([*command, "--quick", "--device", "cpu", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next(tmp_path.glob(f"{script}-*.json")).read_text())
    assert keys <= set(report) and not any(key.startswith("gpu") for key in report)
    assert "skipped: no CUDA device here" in result.stdout
    if script == "gatys":
        # bf16 and mixed are timed only where bf16 is fast (AMX or AVX512-BF16); elsewhere they are emulated
        fast_bf16 = cpu_has_fast_bf16()
        precisions = ["fp32", "mixed", "bf16"] if fast_bf16 else ["fp32"]
        assert [row["contender"] for row in report["speed_256"]] == ["baseline (textbook, fp32)"] + [f"ours {p}" for p in precisions]
        assert [row["dtype"] for row in report["convolution_peak"]] == ["float32", "bfloat16"][: 1 + fast_bf16]
        if fast_bf16:
            assert [row["precision"] for row in report["loss_agreement"]] == precisions
            assert report["loss_agreement"][0]["relative to fp32"] == 0
        else:
            assert "loss_agreement" not in report
        result = report["time_to_quality_study_64"]
        runs = [curve["run"] for curve in result["curves"]]
        assert runs == ["textbook LBFGS", "textbook LBFGS + strong Wolfe", "pastiche 4 steps", "ours (study: 1 level, auto)",
                        "ours, 2 levels", "ours, feed-forward start"] + ["ours, bf16"] * fast_bf16  # fmt: skip
        assert result["better textbook"] in runs[:2] and len(result["pictures"]) == 2  # its final picture and pastiche's
        assert all(p["seconds"] >= 0 and -1 <= p["structure"] <= 1 for curve in result["curves"] for p in curve["points"])
        assert all(p["loss"] > 0 for curve in result["curves"] if curve["run"] != runs[2] for p in curve["points"])
        assert [row["quality"].split(": ")[1] for row in result["ratios"]] == [f"best loss after {n} evals" for n in (2, 4, 8)]
        for row in result["ratios"]:  # each contender: a ratio, or how close it came
            assert all(isinstance(row[run], float) or row[run].startswith("not reached") for run in runs[3:])
        assert [row["run"] for row in result["time_to_picture"]] == runs
        for name in ("gatys-study-64-cpu-quick.png", "gatys-study-64-pictures-cpu-quick.png"):
            assert (tmp_path / name).stat().st_size > 10_000
        first = report["first_frame"][0]
        assert first["first frame, Run at once s"] > 0 and first["app served s"] > 0 and first["later Run, new pictures s"] > 0
        if first_frame.CHROMIUM.exists():  # as a person clicks: from Run to the picture on the screen
            (clicked,) = report["first_frame_browser"]
            seconds = [value for key, value in clicked.items() if key not in ("size", "target")]
            assert clicked["size"] == 64 and len(seconds) == 3 and all(value > 0 for value in seconds)
        assert all(row["s/step (median)"] > 0 for row in report["speed_256"])
        assert all(row["GFLOP/s"] > 0 for row in report["speed_256"])
        assert all(row["GFLOP/s"] > 1 for row in report["convolution_peak"])
    elif script == "cyclegan":
        assert report["cpu_inference"]["mean |diff| levels"] < 3
    elif script == "large":  # each size measured in its own process, against the estimate
        assert [row["size"] for row in report["gatys"]] == [128, 256] and all(row["peak GB"] > 0.3 for row in report["gatys"])
        assert all(row["estimate GB"] >= 0.5 * row["peak GB"] for row in report["gatys"])
        assert [row["size"] for row in report["cyclegan"]] == [128, 256] and all(row["seconds"] > 0 for row in report["cyclegan"])
    else:
        assert [row["size"] for row in report["cpu_latency"]] == ["64x48", "128x96"]  # the Tübingen photo's 4:3
        assert all(value > 0 for row in report["cpu_latency"] for value in row.values() if isinstance(value, float))
        assert report["cpu_load"]["first load s"] > 0


def test_first_frame_bench_runs_alone(tmp_path):
    # the first-frame part of bench.gatys, measured without the two hours of the rest
    result = subprocess.run([sys.executable, "-m", "bench.first_frame", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = tmp_path.glob("first-frame-*-quick.json")
    report = json.loads(path.read_text())
    assert report["machine"]["cpu"] and [row["size"] for row in report["first_frame"]] == [64]
    assert report["first_frame"][0]["first frame, Run at once s"] > 0 and report["first_frame"][0]["first preview s"] > 0
    assert (report["first_frame_browser"] is None) == (not first_frame.CHROMIUM.exists())
    assert "seconds from python app.py to the first streamed picture" in result.stdout


def test_sweep_bench_quick_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.sweep", "--quick"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(("sweep", "one by one", "one nst gatys"))]
    assert len(rows) == 3 and all(float(row.split()[-2]) > 0 for row in rows)


def test_largest_size_bisects_to_what_fits(monkeypatch):
    # A stand-in engine that "runs out of GPU memory" above 5000 px, as run_gatys reports it
    # (RunStopped): the search doubles from 2048 to the first size that fails, then bisects.
    from bench import gatys as bench_gatys
    from nst.gatys.engine import RunStopped

    monkeypatch.setattr(bench_gatys.torch.cuda, "empty_cache", lambda: None)
    tried = []

    class FakeBench:
        def config(self, **changes):
            return changes

        def engine(self, config):
            tried.append(config["size"])
            if config["size"] > 5000:
                raise RunStopped("the GPU ran out of memory")

    assert bench_gatys.largest_size(FakeBench(), resolution=256) == 4864  # within 256 px below 5000
    assert tried == [2048, 4096, 8192, 6144, 5120, 4608, 4864]
    tried.clear()
    assert bench_gatys.largest_size(FakeBench(), start=8192) == 4096  # nothing fits from the start: bisect below
    tried.clear()
    assert bench_gatys.largest_size(FakeBench(), limit=4096) == 4096 and tried == [2048, 4096]  # all fits: the limit


def test_flops_per_evaluation_counts_the_forward_and_the_image_gradient():
    # One frozen 3x3 convolution, 3 -> 4 channels on a 16 x 16 image: 2 * 9 * 3 * 4 * 256 FLOPs
    # forward, as many for the gradient of the image, none for the (frozen) weights.
    import torch

    from bench.gatys import flops_per_evaluation

    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False).requires_grad_(False)

    class OneConv:
        content = torch.rand(1, 3, 16, 16)

        def loss(self, image):
            return conv(image).square().sum()

    assert flops_per_evaluation(OneConv()) == 2 * (2 * 9 * 3 * 4 * 16 * 16)


def test_a_good_picture_counts_once_it_lasts():
    """seconds_to_lasting: a picture that is good for one step (a first step that overshoots)
    does not count; one that stays good for HOLD (5) evaluations and the frame after does; after
    the per-step frames, two judged frames in a row; up to a finished run's end is enough, while a
    run still going needs the frame after."""
    from bench.gatys import HOLD, seconds_to_lasting

    def curve(goods: dict[int, bool]) -> dict:
        return {"points": [{"evaluations": k, "seconds": 2.0 * k, "good": good} for k, good in goods.items()]}

    good = lambda point: point["good"]  # noqa: E731
    flash_then_good = {k: k == 3 or k >= 10 for k in range(0, 31)}
    assert HOLD == 5 and seconds_to_lasting(curve(flash_then_good), good) == 20.0  # step 10, not the flash at 3
    to_the_end = curve({k: k >= 25 for k in range(0, 31)})
    assert seconds_to_lasting(to_the_end, good) == 50.0  # good from 25 to the run's end
    assert seconds_to_lasting(to_the_end, good, finished=False) is None  # the run goes on: not yet confirmed
    assert seconds_to_lasting(curve({k: 25 <= k < 30 for k in range(0, 31)}), good) is None  # lost at the end
    sparse = {**{k: False for k in range(0, 31)}, 40: True, 50: False, 60: True, 70: True, 80: False}
    assert seconds_to_lasting(curve(sparse), good) == 120.0  # 60 and 70, not 40 alone


def test_the_quality_bench_judges_the_pairs_and_writes_its_sheets(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.quality", "--quick", "--device", "cpu", "--out", str(tmp_path),
                             "--sheet", str(tmp_path / "pairs.png"), "--presets", "--presets-sheet", str(tmp_path / "presets.png")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "quality-cpu-quick.json").read_text())
    assert [row["pair"] for row in report["pairs"]] == ["tubingen in starry_night", "rocket in shipwreck"]
    assert all(-1 <= row["gatys edges"] <= 1 and row["gatys s"] >= row["early s"] >= 0 for row in report["pairs"])
    assert len(report["layer_shares"]) == 9
    for row in report["layer_shares"]:  # each unit's shares over the five layers sum to one
        for units in ("paper", "relative"):
            assert sum(value for key, value in row.items() if key.startswith(units)) == pytest.approx(1)
    assert [row["picture"] for row in report["presets"]][:2] == ["feed-forward (Ghiasi et al.)", "study · original"]
    from PIL import Image

    assert Image.open(tmp_path / "pairs.png").size[0] == 4 * 256 and Image.open(tmp_path / "presets.png").size[0] == 4 * 256
