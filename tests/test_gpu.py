"""Every CUDA path, on a GPU: `pytest -m gpu` (bench/gpu.sh runs it). Skipped where there is no CUDA.

Weights are random; the tests check that each path runs on the GPU and agrees with the CPU or
with fp32, not the look of a picture.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import synthetic_image
from nst.cyclegan.hub import model_card, save_generator
from nst.cyclegan.networks import ResnetGenerator, init_weights
from nst.cyclegan.translate import prepare_generator, translate
from nst.gatys.config import preset
from nst.gatys.engine import run_gatys
from synthetic_cyclegan import make_dataset

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def small_problem(**changes):
    return preset("study", **{"size": 96, "steps": 30, "levels": 2, "vgg_weights": "random:0", "device": "cuda", **changes})


def test_gatys_runs_on_the_gpu_in_every_precision(content_image, style_image):
    finals = {}
    for precision in ("fp32", "mixed", "bf16"):
        records = list(run_gatys(small_problem(precision=precision), content_image, style_image))
        assert records[-1].step == 30 and records[-1].image.size == (96, 72)
        assert all(np.isfinite(r.total) for r in records)
        assert records[-1].total < records[0].total  # it optimises
        finals[precision] = records[-1].total
    # mixed keeps fp32 features, so it lands where fp32 does; bf16 may end somewhat higher
    assert abs(finals["mixed"] / finals["fp32"] - 1) < 0.05, finals
    assert finals["bf16"] < 2 * finals["fp32"], finals


def test_gatys_on_the_gpu_agrees_with_the_cpu(content_image, style_image):
    """One LBFGS run in fp32 on both devices: the same losses for the first steps (TF32 off)."""
    config = small_problem(precision="fp32", steps=5, levels=1)
    gpu = [r.total for r in run_gatys(config, content_image, style_image)]
    cpu = [r.total for r in run_gatys(config.replace(device="cpu"), content_image, style_image)]
    np.testing.assert_allclose(gpu[:3], cpu[:3], rtol=1e-3)


def test_fast_init_on_the_gpu_starts_where_the_cpu_does(content_image, style_image):
    """init "fast": the feed-forward start (onnxruntime, on whichever device it has) is the same
    picture for a run on the GPU as on the CPU, and the first steps from it agree (fp32, TF32 off)."""
    config = small_problem(init="fast", precision="fp32", steps=5, levels=2)
    gpu = list(run_gatys(config, content_image, style_image, image_every=1))
    cpu = list(run_gatys(config.replace(device="cpu"), content_image, style_image, image_every=1))
    assert gpu[0].image.size == (48, 36)  # the coarse level's start
    assert np.abs(np.asarray(gpu[0].image, dtype=float) - np.asarray(cpu[0].image, dtype=float)).max() <= 1
    assert all(np.isfinite(r.total) for r in gpu)
    np.testing.assert_allclose([r.total for r in gpu[:3]], [r.total for r in cpu[:3]], rtol=1e-3)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cyclegan_inference_on_the_gpu_matches_the_cpu(precision):
    torch.manual_seed(0)
    generator = init_weights(ResnetGenerator(ngf=16, n_blocks=3)).eval()
    image = synthetic_image(130, 90, seed=3)
    on_cpu = np.asarray(translate(prepare_generator(generator, "cpu", "fp32"), image), dtype=float)
    on_gpu = translate(prepare_generator(generator, "cuda", precision), image)
    assert on_gpu.size == (130, 90)
    assert np.abs(np.asarray(on_gpu, dtype=float) - on_cpu).mean() < (1.0 if precision == "fp32" else 4.0)


def test_twenty_training_steps_in_bf16(tmp_path):
    from nst.cyclegan import trainer as train_cyclegan

    dataset = make_dataset(tmp_path / "red2blue", n=20)
    args = ["--dataset", str(dataset), "--output-dir", str(tmp_path / "run"), "--ngf", "16", "--ndf", "16",
            "--n-blocks", "3", "--load-size", "72", "--crop-size", "64", "--batch-size", "2", "--num-workers", "0",
            "--epochs", "2", "--decay-epochs", "0", "--mixed-precision", "bf16"]  # fmt: skip
    assert train_cyclegan.main(train_cyclegan.parse_args(args)) == 0
    log = [line for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines() if line]
    assert len(log) == 20  # 2 epochs of 20 images in batches of 2
    assert (tmp_path / "run" / "export" / "G_AB" / "model.safetensors").is_file()


def test_app_handlers_run_on_the_gpu(tmp_path, monkeypatch, image_files):
    """The Gatys and CycleGAN handlers, wrapped in spaces.GPU as on a ZeroGPU Space."""
    pytest.importorskip("gradio")
    monkeypatch.setenv("NST_VGG19_WEIGHTS", "random")
    import app

    values = {name: control.value for name, control in app.gatys_controls.items()}
    values.update(content=str(image_files[0]), style=str(image_files[1]), style2=None, steps=12, size=64,
                  network="random")  # fmt: skip
    outputs = list(app.run_gatys_tab(**values))
    shown = [output[0] for output in outputs if isinstance(output[0], Image.Image)]
    assert "Done: 12 steps" in outputs[-1][3] and shown[-1].size == (64, 48)

    torch.manual_seed(0)
    folder = tmp_path / "generator"
    save_generator(init_weights(ResnetGenerator(ngf=8, n_blocks=2)), folder, model_card("tiny", "random weights"))
    photo = tmp_path / "in.png"
    synthetic_image(70, 45).save(photo)
    (before, after), status, *_ = list(app.cyclegan(str(photo), str(folder), "AtoB", 512))[-1]
    assert after.size == (70, 45) and "Done: AtoB" in status
