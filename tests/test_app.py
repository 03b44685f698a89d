"""The app: its handlers as plain functions, then the served app through gradio_client.

VGG19 weights are random (NST_VGG19_WEIGHTS=random): the tests check streaming, stopping and
errors, not the look of a stylised image.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app_server import serve_app_with_tiny_generator
from conftest import synthetic_image
from nst.cyclegan import ResnetGenerator, init_weights
from nst.hub import model_card, save_generator
from nst.translate import prepare_generator, translate

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("NST_VGG19_WEIGHTS", "random")
    import app as module

    yield module
    mp.undo()


def gatys_args(content, style, steps=12, size=64, **changes):
    values = dict(content=content, style=style, style2=None, style2_weight=0.5, steps=steps, size=size, alpha=10,
                  log10_ratio=-5, style_layers=["relu1_1", "relu2_1"], content_layers=["relu2_1"], pooling="avg",
                  init="content", noise_ratio=0.6, optimizer="lbfgs", lr=0, scheduler="plateau", tv_weight=0,
                  preserve_color="none", style_scale=1.0, levels=1, seed=0, vgg="random")  # fmt: skip
    values.update(changes)
    return values


@pytest.fixture
def generator_dir(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    generator = init_weights(ResnetGenerator(ngf=8, n_blocks=2))
    return save_generator(generator, tmp_path / "weights" / "tiny-red2blue", model_card("tiny", "random weights")), generator


def test_stylize_streams_frames_and_a_png(app, content_image, style_image):
    frames = list(app.stylize(**gatys_args(content_image, style_image, steps=40)))
    assert len(frames) >= 10
    image, plot, path, status = frames[-1]
    assert image.size == (64, 48)
    assert Image.open(path).format == "PNG" and Image.open(path).size == (64, 48)
    assert status.startswith("step 40/40")
    assert set(plot["term"]) == {"α·content", "β·style", "total"} and plot["step"].max() == 40
    assert len(frames[0][1]) < len(plot)  # the plot grows


def test_stop_leaves_the_last_image(app, content_image, style_image):
    run = app.stylize(**gatys_args(content_image, style_image, steps=1000))
    frames = [next(run) for _ in range(3)]
    run.close()  # what the Stop button's cancel does to the generator
    image, _, path, status = frames[-1]
    assert image.size == (64, 48) and Image.open(path).size == (64, 48)
    assert status.startswith("step 100/1000")


def test_greyscale_and_rgba_inputs_work(app, content_image, style_image):
    frames = list(app.stylize(**gatys_args(content_image.convert("L"), style_image.convert("RGBA"), steps=2)))
    assert frames[-1][0].mode == "RGB"


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(content=None), "Please upload a content image and a style image"),
        (dict(steps=0), "Steps must be at least 1"),
        (dict(style_layers=[], content_layers=[]), "at least one content or style layer"),
        (dict(content=Image.new("RGB", (6000, 5000))), "too large"),
        (dict(alpha=-1), "alpha must not be negative"),
    ],
)
def test_stylize_errors(app, content_image, style_image, changes, message):
    args = {**gatys_args(content_image, style_image), **changes}
    with pytest.raises(gr.Error, match=message):
        list(app.stylize(**args))


def test_preset_fills_controls(app):
    values = app.preset_controls("study")
    assert values[:2] == [10.0, -5.0] and values[2] == ["relu1_1", "relu2_1", "relu3_1"] and values[4] == "avg"


def test_cyclegan_handler_and_cache(app, generator_dir):
    folder, generator = generator_dir
    image = synthetic_image(70, 45)
    before, after = app.cyclegan(image, str(folder), "AtoB", 512)
    assert after.size == (70, 45) and before.size == (70, 45)
    assert np.array_equal(np.asarray(after), np.asarray(translate(prepare_generator(generator), image)))
    hits = app.cached_generator.cache_info().hits
    app.cyclegan(image, str(folder), "AtoB", 512)
    assert app.cached_generator.cache_info().hits == hits + 1  # no reload for a second image
    with pytest.raises(gr.Error, match="neither a local file or folder nor a Hub repo id"):
        app.cyclegan(image, "not a model", "AtoB", 512)
    with pytest.raises(gr.Error, match="only direction AtoB"):
        app.cyclegan(image, str(folder), "BtoA", 512)
    with pytest.raises(gr.Error, match="Please upload an image"):
        app.cyclegan(None, str(folder), "AtoB", 512)


def test_local_checkpoints_are_offered(app, generator_dir, monkeypatch):
    folder, _ = generator_dir
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(folder.parent))
    names = dict(app.model_choices())
    assert names["tiny-red2blue (local)"] == str(folder)
    assert names["Simulation → real (HugGAN sim2real)"] == "huggan/sim2real_cyclegan"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app_with_tiny_generator(tmp_path_factory)


def test_served_gatys_streams_through_gradio_client(server, image_files):
    content, style = image_files
    client = Client(server.url, verbose=False)
    args = gatys_args(handle_file(str(content)), handle_file(str(style)), steps=30, size=64)
    job = client.submit(*args.values(), api_name="/gatys")
    outputs = list(job)
    assert len(outputs) >= 5  # intermediate results streamed, then the final one
    final_image, _, final_png, status = job.outputs()[-1]
    assert Image.open(final_image).size == (64, 48) and Image.open(final_png).format == "PNG"
    assert "step 30/30" in status


def test_served_cyclegan_through_gradio_client(server, tmp_path):
    source = tmp_path / "in.png"
    synthetic_image(90, 50).save(source)
    client = Client(server.url, verbose=False)
    model = str(server.weights_dir / "tiny")
    before, after = client.predict(handle_file(str(source)), model, "AtoB", 512, api_name="/cyclegan")
    assert Image.open(after).size == (90, 50)
    with pytest.raises(Exception, match="neither a local file or folder nor a Hub repo id"):
        client.predict(handle_file(str(source)), "no such model", "AtoB", 512, api_name="/cyclegan")
    # the app keeps serving after an error
    before, after = client.predict(handle_file(str(source)), model, "AtoB", 64, api_name="/cyclegan")
    assert max(Image.open(after).size) == 64


def test_served_gatys_rejects_a_non_image_upload(server, tmp_path, image_files):
    _, style = image_files
    notes = tmp_path / "notes.png"
    notes.write_text("this is not a picture")
    client = Client(server.url, verbose=False)
    args = gatys_args(handle_file(str(notes)), handle_file(str(style)), steps=2)
    with pytest.raises(Exception, match="cannot identify image file") as error:
        client.predict(*args.values(), api_name="/gatys")
    assert "Traceback" not in str(error.value)
