"""train/cyclegan.py on a tiny synthetic dataset, on the CPU.

Domain A holds red shapes and domain B blue ones on grey, so a few dozen steps are enough to see
G_AB learn to turn red into blue. The Hub cannot be reached here: the push tests stop at the
boundary, recording the repo and upload calls the script makes.
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi
from PIL import Image
from safetensors.torch import load_file

from nst.cyclegan.data import DataError, UnpairedDataset, load_domains
from nst.cyclegan.training import (
    CycleGANTrainConfig, Discriminators, ImagePool, discriminator_losses, lsgan_loss,
)  # fmt: skip
from nst.cyclegan import hub as hub_module
from nst.cyclegan.hub import load_generator
from nst.cyclegan.translate import translate
from nst.schedules import linear_lr_factor
from synthetic_cyclegan import make_dataset
from nst.cyclegan import trainer as train_cyclegan

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "train" / "cyclegan.py"
TINY = ["--ngf", "8", "--ndf", "8", "--n-blocks", "2", "--load-size", "36", "--crop-size", "32", "--batch-size", "2",
        "--num-workers", "0", "--lr", "2e-3", "--sample-steps", "4"]  # fmt: skip


def train(dataset, out, *extra) -> int:
    return train_cyclegan.main(train_cyclegan.parse_args(["--dataset", str(dataset), "--output-dir", str(out), *TINY, *extra]))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "red2blue")


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def _mean_rgb(images) -> np.ndarray:
    return np.mean([np.asarray(image, dtype=float).reshape(-1, 3).mean(0) for image in images], axis=0)


@pytest.mark.slow
def test_short_run_learns_the_mapping(dataset, tmp_path):
    out = tmp_path / "run"
    assert train(dataset, out, "--epochs", "15", "--decay-epochs", "0") == 0
    log = _log(out)
    assert [entry["step"] for entry in log] == list(range(1, 61))  # 15 epochs of 8 images in batches of 2
    assert {"G_gan_AB", "G_gan_BA", "cycle_A", "cycle_B", "idt_A", "idt_B", "G", "D_A", "D_B", "D", "lr"} <= set(log[0])
    first, last = np.mean([e["cycle_A"] for e in log[:5]]), np.mean([e["cycle_A"] for e in log[-5:]])
    assert last < 0.6 * first
    g_ab = load_generator(str(out / "export"), "AtoB")
    assert g_ab.label == "A → B"
    test_a = [Image.open(p) for p in sorted((dataset / "testA").iterdir())]
    test_b = [Image.open(p) for p in sorted((dataset / "testB").iterdir())]
    translated = _mean_rgb([translate(g_ab.generator, image) for image in test_a])
    # G_AB's outputs have domain B's colour statistics (blue shapes), not A's (red shapes)
    assert np.linalg.norm(translated - _mean_rgb(test_b)) < 0.2 * np.linalg.norm(translated - _mean_rgb(test_a))
    assert load_generator(str(out / "export"), "BtoA").label == "B → A"
    assert (out / "loss_plot.png").is_file() and Image.open(out / "loss_plot.png").size[0] > 100
    grid = Image.open(out / "samples" / "step-000004.png")
    assert grid.size == (2 * 32, 6 * 32)  # two test images, six rows
    card = (out / "export" / "README.md").read_text()
    assert "![samples](samples.png)" in card and '"lambda_cyc": 10.0' in card and "| cycle_A |" in card
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["ngf"] == 8 and config["options"]["dataset"] == str(dataset)


def _export_weights(out: Path) -> dict:
    return {**load_file(out / "export" / "G_AB" / "model.safetensors"), **{
        f"ba.{k}": v for k, v in load_file(out / "export" / "G_BA" / "model.safetensors").items()}}  # fmt: skip


@pytest.mark.slow
def test_resume_continues_exactly(dataset, tmp_path):
    args = ("--epochs", "2", "--decay-epochs", "1", "--checkpointing-steps", "3")
    assert train(dataset, tmp_path / "whole", *args) == 0
    assert train(dataset, tmp_path / "cut", *args, "--max-train-steps", "6") == 0  # stopped mid-epoch 2
    assert sorted(p.name for p in (tmp_path / "cut").glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-4", "checkpoint-6"]
    (tmp_path / "cut" / "checkpoint-9.tmp").mkdir()  # what a kill during a save leaves behind
    (tmp_path / "cut" / "checkpoint-9.tmp" / "model.safetensors").write_bytes(b"half-written")
    assert train(dataset, tmp_path / "cut", *args, "--resume", "latest") == 0
    assert [e["step"] for e in _log(tmp_path / "cut")] == list(range(1, 13))
    whole, cut = _export_weights(tmp_path / "whole"), _export_weights(tmp_path / "cut")
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    assert [e["G"] for e in _log(tmp_path / "whole")] == [e["G"] for e in _log(tmp_path / "cut")]
    assert sorted(p.name for p in (tmp_path / "cut").glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-8", "checkpoint-9"]


@pytest.mark.slow
def test_killed_process_resumes(dataset, tmp_path):
    """A real SIGKILL in the middle of training, then --resume latest."""
    out = tmp_path / "run"
    command = [sys.executable, str(SCRIPT), "--dataset", str(dataset), "--output-dir", str(out), *TINY,
               "--epochs", "200", "--decay-epochs", "0", "--checkpointing-steps", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if (out / "checkpoint-6").is_dir():
                break
            process.wait(timeout=0.1) if process.poll() is not None else __import__("time").sleep(0.1)
        assert (out / "checkpoint-6").is_dir()
    finally:
        process.kill()
        process.wait()
    saved = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if p.suffix != ".tmp")
    assert train(dataset, out, "--epochs", "200", "--decay-epochs", "0", "--checkpointing-steps", "2", "--resume", "latest",
                 "--max-train-steps", str(saved + 2)) == 0  # fmt: skip
    steps = [e["step"] for e in _log(out)]
    assert steps == list(range(1, saved + 3))


def test_workers_do_not_change_the_data(dataset):
    a, b, _ = load_domains(str(dataset), "imageA", "imageB")
    data = UnpairedDataset(a, b, 36, 32, seed=3)
    data.start_epoch(2)
    batches = [batch["A"] for batch in torch.utils.data.DataLoader(data, batch_size=2, num_workers=2)]
    assert len(batches) == 4
    assert all(torch.equal(x, torch.stack([data[2 * i]["A"], data[2 * i + 1]["A"]])) for i, x in enumerate(batches))
    data.start_epoch(3)
    assert not torch.equal(data[0]["A"], UnpairedDataset(a, b, 36, 32, seed=3)[0]["A"])


@pytest.mark.slow
def test_two_process_run_with_accelerate_launch(dataset, tmp_path):
    out = tmp_path / "ddp"
    # --multi_gpu is Accelerate's torchrun launcher; on a machine without GPUs it starts CPU
    # processes that talk over gloo (DistributedType.MULTI_CPU). --cpu alone would start one.
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", str(SCRIPT), "--dataset", str(dataset),
               "--output-dir", str(out), *TINY, "--epochs", "1", "--decay-epochs", "1", "--checkpointing-steps", "2"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # 8 images over 2 processes in batches of 2: 2 steps an epoch
    assert [e["step"] for e in _log(out)] == [1, 2, 3, 4]
    # the export holds the trained G_BA of the last checkpoint (not G_AB, not a stale copy)
    exported = load_generator(str(out / "export"), "BtoA").generator.state_dict()
    checkpoint = load_file(str(out / "checkpoint-4" / "model.safetensors"))
    assert set(exported) == {k.removeprefix("g_ba.") for k in checkpoint if k.startswith("g_ba.")}
    assert all(torch.equal(value, checkpoint[f"g_ba.{key}"]) for key, value in exported.items())
    assert not torch.equal(checkpoint["g_ba.model.1.weight"], checkpoint["g_ab.model.1.weight"])


class _RecordingHub:
    def __init__(self, fail_upload=False):
        self.calls, self.fail_upload = [], fail_upload

    def create_repo(self, api, repo_id, private=False, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", repo_id, private, exist_ok))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, api, repo_id, folder_path, commit_message=None, **kwargs):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        self.calls.append(("upload_folder", repo_id, files))
        if self.fail_upload:
            raise OSError("503 Service Unavailable")
        return f"https://huggingface.co/{repo_id}/commit/abc"


@pytest.mark.parametrize("fail_upload", [False, True])
def test_push_to_hub_builds_the_folder_and_calls(dataset, tmp_path, monkeypatch, caplog, fail_upload):
    """Stops at the Hub boundary: HfApi's create_repo and upload_folder are recorded, not sent."""
    hub = _RecordingHub(fail_upload)
    monkeypatch.setattr(hub_module, "reachable", lambda url: True)  # the Hub answers (its calls are recorded)
    monkeypatch.setattr(HfApi, "create_repo", lambda self, *a, **k: hub.create_repo(self, *a, **k))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, *a, **k: hub.upload_folder(self, *a, **k))
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value")
    out = tmp_path / "push"
    status = train(dataset, out, "--epochs", "2", "--decay-epochs", "0", "--push-to-hub", "--hub-repo-id", "me/red2blue",
                   "--hub-private", "--push-every-epochs", "1")  # fmt: skip
    expected_files = ["G_AB/config.json", "G_AB/model.safetensors", "G_BA/config.json", "G_BA/model.safetensors",
                      "README.md", "cyclegan.json", "samples.png"]  # one model card, at the top  # fmt: skip
    uploads = [c for c in hub.calls if c[0] == "upload_folder"]
    assert hub.calls[0] == ("create_repo", "me/red2blue", True, True)  # created first, before training ...
    assert [c for c in hub.calls if c[0] == "create_repo"] == [hub.calls[0]]  # ... and only then
    assert len(uploads) == 2 and all(c == ("upload_folder", "me/red2blue", expected_files) for c in uploads)  # epoch 1, end
    card = (out / "export" / "README.md").read_text()
    assert "license: mit" in card and "nst cyclegan --model me/red2blue" in card and "## Training config" in card
    assert json.loads((out / "export" / "G_AB" / "config.json").read_text())["architecture"] == "resnet"
    assert "hf_secret_token_value" not in caplog.text
    assert status == (1 if fail_upload else 0)
    if fail_upload:
        assert "upload to me/red2blue failed (OSError: 503 Service Unavailable); the export is kept in" in caplog.text
        assert (out / "export" / "G_AB" / "model.safetensors").is_file() and list(out.glob("checkpoint-*"))


@pytest.mark.slow
def test_data_folder_errors(tmp_path):
    root = make_dataset(tmp_path / "data", n=3, test=0)
    (root / "trainA" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.warns(UserWarning, match="skipping unreadable image .*broken.jpg"):
        a, b, skipped = load_domains(str(root), "imageA", "imageB")
    assert (len(a), len(b), skipped) == (3, 3, 1)
    for path in (root / "trainB").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="trainB holds no readable images"):
        load_domains(str(root), "imageA", "imageB")
    (root / "trainB").rmdir()
    with pytest.raises(DataError, match="trainB not found: a CycleGAN data folder needs trainA/ and trainB/"):
        load_domains(str(root), "imageA", "imageB")
    result = subprocess.run([sys.executable, str(SCRIPT), "--dataset", str(root), "--output-dir", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 2 and "error: " in result.stderr and "trainB not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_hugging_face_dataset_columns(tmp_path):
    import datasets

    images_a = [Image.new("RGB", (40, 40), (200, 0, 0)) for _ in range(3)]
    images_b = [Image.new("RGB", (40, 40), (0, 0, 200)) for _ in range(3)]
    features = datasets.Features({"imageA": datasets.Image(), "imageB": datasets.Image()})
    data = datasets.Dataset.from_dict({"imageA": images_a, "imageB": images_b}, features=features)
    data.save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "repo" / "data").mkdir(parents=True)
    data.to_parquet(str(tmp_path / "repo" / "data" / "train-00000.parquet"))  # a Hub dataset repo's layout
    for name in (tmp_path / "saved", tmp_path / "repo"):
        a, b, _ = load_domains(str(name), "imageA", "imageB")
        assert len(a) == 3 and a[0].getpixel((0, 0)) == (200, 0, 0) and b[2].getpixel((5, 5)) == (0, 0, 200)
    with pytest.raises(DataError, match="has no column 'photo'; its columns are \\['imageA', 'imageB'\\]"):
        load_domains(str(tmp_path / "saved"), "photo", "imageB")
    out = tmp_path / "out"
    assert train(tmp_path / "saved", out, "--epochs", "1", "--decay-epochs", "0", "--batch-size", "1") == 0
    assert len(_log(out)) == 3


def test_image_pool_history():
    """Until full, images pass through and are kept; then about half are swapped for an older
    one, which leaves the pool; the same seed makes the same choices (so a resume does)."""
    pool = ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    assert torch.equal(pool.query(first), first) and len(pool.images) == 4
    returned = []
    for value in range(4, 204):
        out = float(pool.query(torch.full((1, 3, 2, 2), float(value)))[0, 0, 0, 0])
        stored = {float(image[0, 0, 0, 0]) for image in pool.images}
        if out != value:  # swapped: an earlier image comes back, the new one takes its place
            assert out < value and out not in stored and value in stored
        returned.append(out)
    swapped = sum(out != value for out, value in zip(returned, range(4, 204)))
    assert 60 <= swapped <= 140  # Binomial(200, 1/2): mean 100, sd 7
    again = ImagePool(4, seed=0)
    again.query(first)
    assert [float(again.query(torch.full((1, 3, 2, 2), float(v)))[0, 0, 0, 0]) for v in range(4, 204)] == returned
    restored = ImagePool(0)
    restored.load_state_dict(pool.state_dict())
    assert restored.size == 4 and all(torch.equal(a, b) for a, b in zip(restored.images, pool.images))
    assert torch.equal(ImagePool(0).query(first), first)


def test_linear_policy_and_losses():
    factors = [linear_lr_factor(e, epochs=2, decay_epochs=3) for e in range(5)]
    assert factors == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.25])
    prediction = torch.tensor([0.5, 1.0])
    assert lsgan_loss(prediction, True).item() == pytest.approx((0.25 + 0) / 2)
    assert lsgan_loss(prediction, False).item() == pytest.approx((0.25 + 1) / 2)
    config = CycleGANTrainConfig(ndf=8)
    torch.manual_seed(0)
    nets = Discriminators(config)
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    losses = discriminator_losses(nets, real, fake, real, fake)
    expected = 0.5 * (lsgan_loss(nets.d_a(real), True) + lsgan_loss(nets.d_a(fake), False))
    assert losses["D_A"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_bad_options_are_rejected():
    with pytest.raises(SystemExit):
        train_cyclegan.parse_args(["--dataset", "x", "--crop-size", "30"])
    with pytest.raises(ValueError, match="lr_policy must be linear or plateau"):
        CycleGANTrainConfig(lr_policy="cosine")


@pytest.mark.slow
def test_every_training_flag_has_help_text():
    """--help explains each recipe flag from the config's field comments."""
    from nst.gatys.config import GatysConfig
    from nst.options import field_help

    helps = field_help(CycleGANTrainConfig)
    assert set(helps) == {f.name for f in dataclasses.fields(CycleGANTrainConfig)}
    assert all(len(text) > 10 for text in helps.values()), helps
    assert "fraction of lambda_cyc" in helps["lambda_id"]
    assert field_help(GatysConfig)["size"] == ("long side of the output in pixels; the content's aspect ratio is kept; the CLI's "
                                               "and the app's default is by device (DEFAULT_SIZE)")
    result = subprocess.run([sys.executable, "train/cyclegan.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert "discriminator updates per generator update" in " ".join(result.stdout.split())


@pytest.mark.slow
def test_without_the_training_extras_help_works_and_a_run_says_what_to_install(tmp_path):
    """In the app's environment (no accelerate): --help works, and a run says what to install, in one line."""
    def script(*argv):
        code = (f"import runpy, sys; sys.modules['accelerate'] = None; sys.argv = ['cyclegan.py', *{list(argv)!r}]; "
                "runpy.run_path('train/cyclegan.py', run_name='__main__')")  # fmt: skip
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert script("--help").returncode == 0
    result = script("--dataset", str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: CycleGAN training needs the accelerate package: pip install -r requirements-train.txt"


def test_data_workers_default_to_no_more_than_the_cpus(monkeypatch):
    """On a 2-core machine, 2 workers, not 4 (torch warns about more workers than CPUs)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert train_cyclegan.parse_args(["--dataset", "x"]).options.num_workers == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert train_cyclegan.parse_args(["--dataset", "x"]).options.num_workers == 4


@pytest.mark.parametrize("fast_bf16", [True, False])
def test_bf16_training_on_a_cpu_that_emulates_bf16_runs_in_fp32(monkeypatch, caplog, fast_bf16):
    monkeypatch.setattr(train_cyclegan, "cpu_has_fast_bf16", lambda: fast_bf16)
    with caplog.at_level("WARNING", logger="nst.cyclegan.trainer"):
        on_cpu = train_cyclegan.mixed_precision_for("bf16", on_cpu=True)
    assert on_cpu == ("bf16" if fast_bf16 else "no")
    assert ("emulates bf16" in caplog.text) == (not fast_bf16)
    assert train_cyclegan.mixed_precision_for("bf16", on_cpu=False) == "bf16"  # a GPU computes bf16 natively
    assert train_cyclegan.mixed_precision_for("fp16", on_cpu=True) == "fp16"
