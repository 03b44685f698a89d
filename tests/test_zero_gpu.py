"""ZeroGPU's 300 s a call: every handler asks for at most that, and a run that would need more is
refused before it starts, naming the largest size and steps that fit (ui.zero_gpu)."""

import re

import gradio as gr
import pytest
import spaces.config

from ui import zero_gpu
from ui.gatys_handlers import LARGEST_SIZE, _gatys_gpu_seconds, run_gatys_tab
from ui.experiments import STUDY_SWEEPS, _sweep_gpu_seconds, run_experiment
from ui.cyclegan_handlers import _cyclegan_gpu_seconds


@pytest.fixture
def zero_gpu_space(monkeypatch):
    monkeypatch.setattr(spaces.config.Config, "zero_gpu", True)


def test_no_duration_asks_for_more_than_zero_gpu_grants():
    for size in range(64, max(LARGEST_SIZE, 4096) + 1, 32):  # the size slider's whole range, at its step
        for steps in (1, 2, 60, 100, 300, 999, 1000):  # the steps slider's ends and values between
            assert 1 <= _gatys_gpu_seconds(steps=steps, size=size) <= zero_gpu.LIMIT_S
    for rows, columns in STUDY_SWEEPS.values():
        for size, steps in ((64, 1), (128, 60), (512, 300)):  # the sweep sliders' ends
            assert 1 <= _sweep_gpu_seconds(None, None, rows, columns or "", size, steps, "original") <= zero_gpu.LIMIT_S
    assert _cyclegan_gpu_seconds() <= zero_gpu.LIMIT_S
    assert _gatys_gpu_seconds(steps=60, size=512) == 33  # 30 s + 60 steps x 0.05 s: asks for what it needs, not the limit


def test_off_zero_gpu_nothing_is_refused():
    assert zero_gpu.refusal(1000, 4096) is None


def test_a_run_too_long_for_one_call_is_refused_naming_what_fits(zero_gpu_space):
    assert zero_gpu.refusal(60, 1024) is None  # 42 s
    message = zero_gpu.refusal(1000, 4096)
    most_steps, largest = map(int, re.search(r"at most (\d+) steps fit; at 1000 steps, at most (\d+) px", message).groups())
    assert message.startswith("Too long for this Space's GPU (at most 300 s a run): 1000 steps at 4096 px need about 3230 s.")
    assert zero_gpu.gatys_seconds(most_steps, 4096) <= 300 < zero_gpu.gatys_seconds(most_steps + 1, 4096)
    assert zero_gpu.gatys_seconds(1000, largest) <= 300 < zero_gpu.gatys_seconds(1000, largest + 32)
    assert (most_steps, largest) == (84, 1184)


def test_the_run_button_refuses_before_it_asks_for_the_gpu(zero_gpu_space, image_files, monkeypatch):
    from ui import gatys_handlers

    monkeypatch.setattr(gatys_handlers, "_run_on_gpu", lambda **named: pytest.fail("asked for the GPU"))
    content, style = map(str, image_files)
    run = run_gatys_tab(content=content, style=style, steps=1000, size=4096)
    status = next(run)[3]
    assert "Not run: Too long for this Space&#x27;s GPU" in status  # escaped as HTML
    with pytest.raises(gr.Error, match="at most 84 steps fit"):
        next(run)


def test_a_sweep_too_long_for_one_call_is_refused(zero_gpu_space, image_files, monkeypatch):
    from ui import experiments

    monkeypatch.setattr(experiments, "_sweep_on_gpu", lambda *args: pytest.fail("asked for the GPU"))
    content, style = map(str, image_files)
    rows, columns = "log10_ratio=1,0,-1,-2,-3,-4,-5,-6,-7,-8", "scheduler=none,plateau,step"
    assert "for 30 cells need about 480 s" in next(run_experiment(content, style, rows, columns, 512, 300, "original"))[3]
    run = run_experiment(content, style, rows, columns, 512, 300, "original")
    next(run)
    with pytest.raises(gr.Error):
        next(run)
