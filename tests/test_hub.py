"""Loading CycleGAN generators from every kind of source (Hub cache, folders, files in the
formats found in the wild), saving and importing them, and the Hub offline or unreachable.

Weights are random (seeded) and the Hub is never reached: its cache is filled by hand.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx2
import numpy as np
import pytest
import torch
from huggingface_hub import constants
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError
from PIL import Image
from safetensors.torch import save_file

from hub_fixtures import (
    fill_hub_cache, huggan_generator, reference_generator, same_output, seeded, wild_generator, with_legacy_instance_norm_keys,
)  # fmt: skip
from nst import online
from nst.cyclegan import hub
from nst.cyclegan.hub import ModelLoadError, is_cached_or_reachable, load_generator, model_card, save_cyclegan, save_generator
from nst.cyclegan.networks import NLayerDiscriminator, ResnetGenerator
from nst.cyclegan.translate import translate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hub cache in a temporary HF_HOME, with HF_HUB_OFFLINE=1: nothing reaches the network."""
    cache = tmp_path / "hf_home" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.mark.slow
def test_import_official_checkpoint_with_legacy_keys(tmp_path):
    reference = seeded(reference_generator(ngf=16, n_blocks=3), seed=5)
    state = with_legacy_instance_norm_keys(reference.state_dict(), reference)
    assert any(k.endswith("running_mean") for k in state)
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(state, checkpoint)
    result = subprocess.run([sys.executable, "-m", "nst", "import-official", str(checkpoint), "--out", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert "latest_net_G.pth" in (tmp_path / "out" / "README.md").read_text()
    loaded = load_generator(str(tmp_path / "out"))
    assert loaded.layout == "nst"  # converted: config.json names the architecture, the mixin loads it
    assert same_output(loaded.generator, reference)


def test_huggan_layout_from_prefilled_hub_cache(tmp_path, offline_hub):
    reference = seeded(huggan_generator(n_blocks=2), seed=3)
    weights = tmp_path / "pytorch_model.bin"
    torch.save(reference.state_dict(), weights)
    readme = tmp_path / "README.md"
    readme.write_text("HugGAN model")
    fill_hub_cache(offline_hub, "huggan/tiny_cyclegan", {"pytorch_model.bin": weights, "README.md": readme})
    loaded = load_generator("huggan/tiny_cyclegan")
    assert loaded.layout == "huggan"
    assert isinstance(loaded.generator.model[10 + 2], torch.nn.Upsample)  # after 2 residual blocks
    assert same_output(loaded.generator, reference)


def test_round_trip_through_folder_and_hub_cache(tmp_path, offline_hub):
    g_ab, g_ba = seeded(ResnetGenerator(ngf=8, n_blocks=2), 1), seeded(ResnetGenerator(ngf=8, n_blocks=2), 2)
    folder = save_cyclegan(g_ab, g_ba, tmp_path / "export", "photo", "monet", model_card("t", "b"))
    for direction, expected in (("AtoB", g_ab), ("BtoA", g_ba)):
        loaded = load_generator(str(folder), direction)
        assert same_output(loaded.generator, expected)
    assert load_generator(str(folder), "BtoA").label == "monet → photo"
    files = {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()}
    fill_hub_cache(offline_hub, "someone/photo2monet", files)
    assert same_output(load_generator("someone/photo2monet", "BtoA").generator, g_ba)
    assert same_output(load_generator("someone/photo2monet@main").generator, g_ab)


def test_single_safetensors_and_pth_files(tmp_path):
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2))
    save_file(generator.state_dict(), str(tmp_path / "g.safetensors"))
    torch.save(generator.state_dict(), tmp_path / "g.pth")
    for name in ("g.safetensors", "g.pth"):
        assert same_output(load_generator(str(tmp_path / name)).generator, generator)
    with pytest.raises(ModelLoadError, match="only direction AtoB"):
        load_generator(str(tmp_path / "g.pth"), "BtoA")


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"model.1.weight": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ModelLoadError, match="not a checkpoint that can be loaded safely: .*could run code"):
        load_generator(str(tmp_path / "evil.pth"))
    assert not marker.exists()


def test_offline_and_not_cached(offline_hub):
    with pytest.raises(ModelLoadError, match="not in the local Hub cache and the Hub cannot be reached"):
        load_generator("someone/never-downloaded")


def _http_error(cls, url="https://huggingface.co/x"):
    return cls("error", response=httpx2.Response(404, request=httpx2.Request("GET", url)))


def test_hub_errors_are_explained(monkeypatch):
    """The Hub cannot be reached from the tests: these check the mapping of its answers."""

    def repo_missing(*args, **kwargs):
        raise _http_error(RepositoryNotFoundError)

    monkeypatch.setattr(hub, "hf_hub_download", repo_missing)
    with pytest.raises(ModelLoadError, match="Hub repo nobody/nothing not found"):
        load_generator("nobody/nothing")

    def file_missing(*args, **kwargs):
        raise _http_error(RemoteEntryNotFoundError)

    monkeypatch.setattr(hub, "hf_hub_download", file_missing)
    with pytest.raises(ModelLoadError, match="has no generator weights"):
        load_generator("somebody/empty-repo")


def test_wrong_architecture_lists_keys(tmp_path):
    save_file(NLayerDiscriminator().state_dict(), str(tmp_path / "d.safetensors"))
    with pytest.raises(ModelLoadError, match="not a CycleGAN ResNet generator: .*keys begin \\[model.0.bias"):
        load_generator(str(tmp_path / "d.safetensors"))
    folder = save_generator(ResnetGenerator(ngf=8, n_blocks=2), tmp_path / "g", model_card("t", "b"))
    (folder / "config.json").write_text('{"ngf": 8, "n_blocks": 3, "upsampling": "transpose"}')
    with pytest.raises(ModelLoadError, match="n_blocks=3.*missing keys \\[model.12.conv_block.1.bias, .*unexpected"):
        load_generator(str(folder))
    state = ResnetGenerator(ngf=8, n_blocks=2).state_dict()
    state["model.99.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "extra.safetensors"))
    with pytest.raises(ModelLoadError, match="unexpected keys \\[model.99.weight\\]"):
        load_generator(str(tmp_path / "extra.safetensors"))


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pth").write_text("just text")
    (tmp_path / "noise.safetensors").write_bytes(b"\x00\x01garbage")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    for name in ("notes.pth", "noise.safetensors", "list.pth"):
        with pytest.raises(ModelLoadError, match="not a checkpoint"):
            load_generator(str(tmp_path / name))
    with pytest.raises(ModelLoadError, match="has no generator weights"):
        load_generator(str(tmp_path))
    with pytest.raises(ModelLoadError, match="neither a local file or folder nor a Hub repo id"):
        load_generator("no such thing")


@pytest.mark.slow
def test_cli_translates_from_offline_hub_cache(tmp_path):
    generator = seeded(ResnetGenerator(ngf=8, n_blocks=2))
    folder = save_generator(generator, tmp_path / "export", model_card("t", "b"))
    fill_hub_cache(tmp_path / "hf_home" / "hub", "me/tiny", {p.name: p for p in folder.iterdir()})
    source = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (61, 47, 3), dtype=np.uint8)).save(source)
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-m", "nst", "cyclegan", "--model", "me/tiny", "--precision", "fp32", "--input", str(source), "--out"]
    result = subprocess.run([*args, str(tmp_path / "out.png")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = Image.open(tmp_path / "out.png")
    assert out.size == (47, 61)
    assert np.array_equal(np.asarray(out), np.asarray(translate(generator, Image.open(source))))
    result = subprocess.run([*args, str(tmp_path / "x.png"), "--direction", "BtoA"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


@pytest.fixture
def unreachable_hub(tmp_path, monkeypatch):
    """Online mode, but every HTTPS request goes to a closed local port: the Hub cannot answer."""
    cache = tmp_path / "hf_home" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    online.forget()
    yield cache
    online.forget()


def test_unreachable_hub_fails_in_seconds_and_serves_the_cache(tmp_path, unreachable_hub):
    assert not online.reachable(constants.ENDPOINT)
    with pytest.raises(ModelLoadError, match="not in the local Hub cache and the Hub cannot be reached"):
        load_generator("someone/never-downloaded")  # answered by the reachability probe, not after download retries
    assert not is_cached_or_reachable("someone/never-downloaded")
    torch.manual_seed(0)
    folder = save_generator(ResnetGenerator(ngf=8, n_blocks=1), tmp_path / "g", model_card("t", "t"))
    fill_hub_cache(unreachable_hub, "someone/cached", {n: folder / n for n in ("config.json", "model.safetensors")})
    assert is_cached_or_reachable("someone/cached")
    assert load_generator("someone/cached").generator is not None


def test_missing_local_paths_say_so(tmp_path, monkeypatch):
    (tmp_path / "weights").mkdir()
    monkeypatch.chdir(tmp_path)
    for source in ("weights/photo2monet", "./nothing", "model.safetensors", "~/missing/folder"):
        with pytest.raises(ModelLoadError, match=f"no such file or folder: {re.escape(source)}"):
            load_generator(source)
        assert not is_cached_or_reachable(source)
    absolute = str(tmp_path / "data" / "missing" / "generator.safetensors")  # a path, not a Hub id; no "looked in" cwd
    with pytest.raises(ModelLoadError, match=f"^no such file or folder: {re.escape(absolute)}$"):
        load_generator(absolute)


def test_saved_config_names_the_architecture_and_loads_strictly(tmp_path):
    torch.manual_seed(0)
    generator = ResnetGenerator(ngf=8, n_blocks=2, upsampling="nearest")
    folder = save_generator(generator, tmp_path / "g")
    config = json.loads((folder / "config.json").read_text())
    assert config == {"architecture": "resnet", "ngf": 8, "n_blocks": 2, "upsampling": "nearest", "norm_affine": False,
                      "dropout": False}  # fmt: skip
    assert not (folder / "README.md").exists()  # no generic card from the mixin
    loaded = load_generator(str(folder))
    assert loaded.layout == "nst" and loaded.generator.input_multiple == 4
    assert all(torch.equal(a, b) for a, b in zip(loaded.generator.state_dict().values(), generator.state_dict().values()))
    (folder / "config.json").write_text(json.dumps({**config, "n_blocks": 3}))
    with pytest.raises(ModelLoadError, match="does not load as the generator its config.json describes"):
        load_generator(str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "architecture": "unet"}))
    with pytest.raises(ModelLoadError, match="unknown generator architecture 'unet'; known: resnet"):
        load_generator(str(folder))


def test_import_official_pushes_with_the_shared_hub_flags(tmp_path, monkeypatch, capsys):
    from huggingface_hub import HfApi

    from nst.cli import main

    assert main(["import-official", "x.pth", "--out", str(tmp_path / "o"), "--push-to-hub"]) == 2
    assert capsys.readouterr().err == "error: --push-to-hub needs --hub-repo-id USER/NAME\n"
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(reference_generator(ngf=8, n_blocks=2).state_dict(), checkpoint)
    monkeypatch.setattr(hub, "reachable", lambda url: False)  # offline: one line, before any work
    assert main(["import-official", str(checkpoint), "--out", str(tmp_path / "o"), "--push-to-hub", "--hub-repo-id", "me/monet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the Hugging Face Hub (") and "cannot be reached (offline?)" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    monkeypatch.setattr(hub, "reachable", lambda url: True)  # the Hub answers; its calls are recorded, not sent
    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw["private"])) or "url")
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw["repo_id"])) or "commit")
    assert main(["import-official", str(checkpoint), "--out", str(tmp_path / "o"), "--push-to-hub",
                 "--hub-repo-id", "me/monet", "--hub-private"]) == 0  # fmt: skip
    assert calls == [("create", "me/monet", True), ("upload", "me/monet")]
    assert "nst cyclegan --model me/monet" in (tmp_path / "o" / "README.md").read_text()


VARIANTS = [(upsampling, attribute, affine, dropout) for upsampling in ("transpose", "nearest")
            for attribute in ("conv_block", "block") for affine in (False, True) for dropout in (False, True)]  # fmt: skip


@pytest.mark.parametrize("upsampling,attribute,affine,dropout", VARIANTS)
def test_checkpoints_from_the_wild_load_as_the_network_they_are(tmp_path, upsampling, attribute, affine, dropout):
    """For each variant, an independent network makes a random checkpoint; the loader, reading
    only keys and shapes, must give that network's output (file, import-official, the app's loader)."""
    wild = seeded(wild_generator(ngf=4, n_blocks=3, upsampling=upsampling, attribute=attribute, affine=affine,
                                 dropout=dropout), seed=3).eval()  # fmt: skip
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(wild.state_dict(), checkpoint)
    loaded = load_generator(str(checkpoint))
    config = loaded.generator.hub_config
    assert (config["ngf"], config["n_blocks"], config["upsampling"], config["norm_affine"], config["dropout"]) == (
        4, 3, upsampling, affine, dropout)  # fmt: skip
    assert same_output(loaded.generator, wild, size=(1, 3, 20, 28))
    folder = hub.import_official(checkpoint, tmp_path / "imported")
    assert same_output(load_generator(str(folder)).generator, wild, size=(1, 3, 20, 28))


def test_the_apps_loader_reads_a_wild_checkpoint(tmp_path):
    from ui.cyclegan_handlers import loaded_generator

    wild = seeded(wild_generator(ngf=4, n_blocks=2, upsampling="transpose", attribute="block", affine=True), seed=4)
    torch.save(wild.state_dict(), tmp_path / "wild.pth")
    assert same_output(loaded_generator(str(tmp_path / "wild.pth"), "AtoB").generator, wild, size=(1, 3, 16, 16))
