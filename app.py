"""Neural style transfer studio: the Gradio app, locally (`python app.py`) or as a Hugging Face Space.

Only UI lives here: handlers turn control values into `nst` calls, then the Blocks layout wires
them up. Models load lazily on first use and stay cached.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd
import spaces
from PIL import Image

from nst.catalog import CatalogEntry, available_models
from nst.config import APP_DEFAULTS as DEFAULTS
from nst.config import PRESETS, GatysConfig, default_vgg_weights, preset
from nst.examples import GATYS_PAIRS, example_files
from nst.gatys import run_gatys
from nst.hub import ModelLoadError, load_generator
from nst.images import ImageError, to_rgb
from nst.translate import prepare_generator, translate
from nst.vgg import IMAGENET_FILE, VGG19_LAYER_NAMES, VGGWeightsError, imagenet_cache_path

MAX_PIXELS = 24_000_000  # uploads above ~24 megapixels are refused rather than resized
FRAMES = 20  # intermediate images streamed per run
OUTPUT_DIR = Path(tempfile.gettempdir()) / "nst-app"


# ----------------------------------------------------------------------------- Gatys handlers


def _checked(image: Image.Image | None, what: str) -> Image.Image | None:
    """An uploaded image as RGB (greyscale and RGBA are converted), or a gr.Error."""
    if image is None:
        return None
    if image.width * image.height > MAX_PIXELS:
        raise gr.Error(f"The {what} image is too large ({image.width}x{image.height}); please use one under 24 megapixels.")
    return to_rgb(image)


def gatys_config(steps, size, alpha, log10_ratio, style_layers, content_layers, pooling, init, noise_ratio,
                 optimizer, lr, scheduler, tv_weight, preserve_color, style_scale, levels, seed, vgg,
                 style2_weight: float | None = None) -> GatysConfig:  # fmt: skip
    """The engine's config from the controls; alpha / beta = 10 ** log10_ratio; style2_weight is
    the second style image's share, None without one."""
    if steps is None or int(steps) < 1:
        raise gr.Error("Steps must be at least 1.")
    try:
        return GatysConfig(
            steps=int(steps), size=int(size), alpha=float(alpha), beta=float(alpha) / 10 ** float(log10_ratio),
            style_layers=tuple(style_layers or ()), content_layers=tuple(content_layers or ()), pooling=pooling,
            init=init, noise_ratio=float(noise_ratio), optimizer=optimizer, lr=float(lr) if lr else None,
            scheduler=scheduler, tv_weight=float(tv_weight), preserve_color=preserve_color,
            style_scale=float(style_scale), levels=int(levels), seed=int(seed),
            vgg_weights=default_vgg_weights() if vgg == "pretrained" else "random",
            style_blend_weights=None if style2_weight is None else (1.0 - float(style2_weight), float(style2_weight)),
        )  # fmt: skip
    except ValueError as error:
        raise gr.Error(str(error)) from error


def _gatys_gpu_seconds(content, style, style2, style2_weight, steps, size, *rest, **kwargs) -> int:
    """ZeroGPU time to reserve: ~1 s per 100 steps at 512 px on a big GPU, with a margin."""
    return int(30 + int(steps or 1) * (int(size or 256) / 512) ** 2 * 0.05)


@spaces.GPU(duration=_gatys_gpu_seconds)
def stylize(content, style, style2, style2_weight, steps, size, alpha, log10_ratio, style_layers, content_layers,
            pooling, init, noise_ratio, optimizer, lr, scheduler, tv_weight, preserve_color, style_scale, levels,
            seed, vgg, progress=gr.Progress()):  # fmt: skip
    """Stream (image, loss plot, PNG file, status) about FRAMES times during the optimisation."""
    content, style, style2 = _checked(content, "content"), _checked(style, "style"), _checked(style2, "second style")
    if content is None or style is None:
        raise gr.Error("Please upload a content image and a style image (or click an example).")
    styles = [style] if style2 is None else [style, style2]
    config = gatys_config(steps, size, alpha, log10_ratio, style_layers, content_layers, pooling, init, noise_ratio,
                          optimizer, lr, scheduler, tv_weight, preserve_color, style_scale, levels, seed, vgg,
                          None if style2 is None else style2_weight)  # fmt: skip
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    result = Path(tempfile.mkdtemp(dir=OUTPUT_DIR)) / "stylized.png"
    rows = []
    try:
        for record in run_gatys(config, content, styles, image_every=max(1, config.steps // FRAMES)):
            rows += _plot_rows(record, config)
            progress((record.step, config.steps), desc="optimising")
            if record.image is not None:
                record.image.save(result)  # lossless, so Stop still leaves a PNG to download
                status = f"step {record.step}/{config.steps} · total loss {record.total:.4g} · {record.elapsed_s:.1f} s"
                yield record.image, pd.DataFrame(rows), str(result), status
    except (VGGWeightsError, ImageError, ValueError) as error:
        raise gr.Error(str(error)) from error


def _plot_rows(record, config: GatysConfig) -> list[dict]:
    """The weighted terms of eq. 7, as log10 so that curves decades apart share one plot."""
    terms = {"α·content": config.alpha * record.content, "β·style": config.beta * record.style, "total": record.total}
    return [{"step": record.step, "term": k, "log10 loss": math.log10(max(v, 1e-12))} for k, v in terms.items()]


def preset_controls(name: str) -> list:
    """Control values for a preset, in the order of the layout's `preset_outputs`."""
    config = preset(name)
    return [config.alpha, round(math.log10(config.alpha / config.beta), 2), list(config.style_layers), list(config.content_layers),
            config.pooling, config.init, config.optimizer, config.scheduler,
            "pretrained" if config.vgg_weights != "random" else "random"]  # fmt: skip


def vgg_note() -> str:
    """What the Gatys tab says about the VGG19 weights it will use."""
    source = os.environ.get("NST_VGG19_WEIGHTS", "").strip()
    if source:
        return f"VGG19 weights: `{source}` (from NST_VGG19_WEIGHTS)."
    cached = imagenet_cache_path()
    if cached.is_file():
        return "VGG19 weights: pretrained ImageNet weights from torchvision (cached)."
    return (
        f"VGG19 weights: the pretrained ImageNet weights ({IMAGENET_FILE}, 548 MB) download on the first run. "
        f"Offline? Put that file in `{cached.parent}` or set `NST_VGG19_WEIGHTS=/path/to/{IMAGENET_FILE}`; "
        "'random' runs without them (for the study's comparison only)."
    )


# ----------------------------------------------------------------------------- CycleGAN handlers


def model_choices() -> list[tuple[str, str]]:
    return [(entry.name, entry.source) for entry in available_models()]


def _entry(source: str) -> CatalogEntry | None:
    return next((entry for entry in available_models() if entry.source == source), None)


def direction_choices(source: str):
    """The direction radio for a model: labelled from the catalog, both directions otherwise."""
    entry = _entry(source)
    labels = entry.directions if entry else {"AtoB": "A → B", "BtoA": "B → A"}
    description = f"{entry.description} Licence: {entry.license or 'see the model card'}." if entry and entry.description else ""
    choices = [(f"{direction}: {label}", direction) for direction, label in labels.items()]
    return gr.Radio(choices=choices, value=choices[0][1]), description


@functools.lru_cache(maxsize=4)
def cached_generator(source: str, direction: str):
    """Loaded generators stay in memory (four at most), so a second image does not reload weights."""
    return prepare_generator(load_generator(source, direction).generator)


def _cyclegan_gpu_seconds(*args, **kwargs) -> int:
    return 30  # one image through one generator: well under a second on a GPU, plus loading


@spaces.GPU(duration=_cyclegan_gpu_seconds)
def cyclegan(image, source, direction, max_side):
    """(input, output) for the before/after slider."""
    image = _checked(image, "input")
    if image is None:
        raise gr.Error("Please upload an image to translate.")
    if not source:
        raise gr.Error("Please pick a model or type a Hub repo id or local path.")
    try:
        output = translate(cached_generator(str(source).strip(), direction or "AtoB"), image, max_side=int(max_side))
    except (ModelLoadError, ImageError) as error:
        raise gr.Error(str(error)) from error
    return image.resize(output.size, Image.Resampling.LANCZOS), output


# ----------------------------------------------------------------------------- layout

STYLE_LAYER_CHOICES = [name for name in VGG19_LAYER_NAMES if not name.startswith("pool")]

with gr.Blocks(title="Neural style transfer studio") as demo:
    gr.Markdown("# Neural style transfer studio\nGatys et al. (2015) optimisation and CycleGAN (Zhu et al., 2017) translation.")
    with gr.Tab("Gatys"):
        with gr.Row():
            content_in = gr.Image(type="pil", label="Content", sources=["upload", "webcam", "clipboard"], height=300,
                                  elem_id="content")  # fmt: skip
            style_in = gr.Image(type="pil", label="Style", sources=["upload", "webcam", "clipboard"], height=300,
                                elem_id="style")  # fmt: skip
            result = gr.Image(type="pil", label="Result", format="png", interactive=False, height=300, elem_id="result")
        with gr.Row():
            run_btn = gr.Button("Run", variant="primary", elem_id="run")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
        with gr.Row():
            loss_plot = gr.LinePlot(x="step", y="log10 loss", color="term", label="Losses (log10)", height=240,
                                    elem_id="loss-plot", scale=2)  # fmt: skip
            with gr.Column(scale=1):
                status = gr.Markdown("", elem_id="status")
                download = gr.File(label="Download (PNG)", elem_id="download")
                gr.Markdown(vgg_note())
        with gr.Row():
            preset_in = gr.Dropdown(list(PRESETS), value="study", label="Preset", scale=1)
            steps_in = gr.Slider(1, 1000, value=DEFAULTS.steps, step=1, label="Steps", elem_id="steps")
            size_in = gr.Slider(64, 1024, value=DEFAULTS.size, step=32, label="Output size (long side, px)", elem_id="size")
        with gr.Row():
            alpha_in = gr.Number(value=DEFAULTS.alpha, label="α (content weight)", minimum=0)
            ratio_in = gr.Slider(-9, -1, value=-5, step=0.5, label="log10(α/β): lower means more style")
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                style_layers_in = gr.CheckboxGroup(STYLE_LAYER_CHOICES, value=list(DEFAULTS.style_layers), label="Style layers")
                content_layers_in = gr.CheckboxGroup(STYLE_LAYER_CHOICES, value=list(DEFAULTS.content_layers), label="Content layers")
            with gr.Row():
                pooling_in = gr.Radio(["max", "avg"], value=DEFAULTS.pooling, label="Pooling")
                init_in = gr.Radio(["content", "noise", "noisy-content", "style"], value=DEFAULTS.init, label="Initial image")
                noise_in = gr.Slider(0, 1, value=DEFAULTS.noise_ratio, step=0.05, label="Noise ratio (noisy-content)")
            with gr.Row():
                optimizer_in = gr.Radio(["lbfgs", "adam"], value=DEFAULTS.optimizer, label="Optimiser")
                lr_in = gr.Number(value=0, label="Learning rate (0: the optimiser's default)", minimum=0)
                scheduler_in = gr.Radio(["none", "plateau", "step"], value=DEFAULTS.scheduler, label="LR scheduler")
            with gr.Row():
                tv_in = gr.Number(value=DEFAULTS.tv_weight, label="Total-variation weight", minimum=0)
                color_in = gr.Radio(["none", "luminance", "histogram"], value=DEFAULTS.preserve_color, label="Preserve colour")
                style_scale_in = gr.Slider(0.25, 2, value=DEFAULTS.style_scale, step=0.05, label="Style scale")
            with gr.Row():
                style2_in = gr.Image(type="pil", label="Second style (optional)", height=160)
                style2_weight_in = gr.Slider(0, 1, value=0.5, step=0.05, label="Second style's share")
                levels_in = gr.Slider(1, 3, value=DEFAULTS.levels, step=1, label="Coarse-to-fine levels")
                seed_in = gr.Number(value=DEFAULTS.seed, label="Seed", precision=0)
            vgg_in = gr.Radio([("pretrained VGG19 (ImageNet)", "pretrained"), ("random VGG19 (study comparison)", "random")],
                              value="pretrained", label="Network")  # fmt: skip
        examples = example_files()
        gr.Examples([[str(examples[c]), str(examples[s])] for c, s in GATYS_PAIRS], [content_in, style_in],
                    label="Examples (photos shipped with scikit-image; styles drawn by nst.examples)")  # fmt: skip
        gatys_inputs = [content_in, style_in, style2_in, style2_weight_in, steps_in, size_in, alpha_in, ratio_in,
                        style_layers_in, content_layers_in, pooling_in, init_in, noise_in, optimizer_in, lr_in,
                        scheduler_in, tv_in, color_in, style_scale_in, levels_in, seed_in, vgg_in]  # fmt: skip
        run_event = run_btn.click(stylize, gatys_inputs, [result, loss_plot, download, status], api_name="gatys",
                                  concurrency_id="gpu", concurrency_limit=1)  # fmt: skip
        stop_btn.click(None, None, None, cancels=[run_event], api_name=False)
        preset_outputs = [alpha_in, ratio_in, style_layers_in, content_layers_in, pooling_in, init_in, optimizer_in,
                          scheduler_in, vgg_in]  # fmt: skip
        preset_in.change(preset_controls, preset_in, preset_outputs, api_name=False)

    with gr.Tab("CycleGAN"):
        choices = model_choices()
        with gr.Row():
            model_in = gr.Dropdown(choices, value=choices[0][1] if choices else None, allow_custom_value=True,
                                   label="Model: pick one, or type a Hub repo id (owner/name) or a local path",
                                   elem_id="cg-model")  # fmt: skip
            direction_in = gr.Radio([("AtoB", "AtoB"), ("BtoA", "BtoA")], value="AtoB", label="Direction")
        model_note = gr.Markdown("")
        with gr.Row():
            image_in = gr.Image(type="pil", label="Input", sources=["upload", "webcam", "clipboard"], height=320,
                                elem_id="cg-input")  # fmt: skip
            comparison = gr.ImageSlider(type="pil", label="Before / after", height=320, elem_id="cg-output")
        with gr.Row():
            max_side_in = gr.Slider(64, 2048, value=512, step=32, label="Maximum side (larger images are scaled down)")
            translate_btn = gr.Button("Translate", variant="primary", elem_id="cg-translate")
        translate_btn.click(cyclegan, [image_in, model_in, direction_in, max_side_in], comparison, api_name="cyclegan",
                            concurrency_id="gpu", concurrency_limit=1)  # fmt: skip
        model_in.change(direction_choices, model_in, [direction_in, model_note], api_name=False)
        demo.load(direction_choices, model_in, [direction_in, model_note], api_name=False)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the style transfer studio (port: GRADIO_SERVER_PORT or 7860).")
    parser.add_argument("--share", action="store_true", default=os.environ.get("GRADIO_SHARE") == "1",
                        help="also make a public share link (or set GRADIO_SHARE=1)")  # fmt: skip
    args = parser.parse_args()
    # show_error: a failure gradio itself raises (say, an upload that is not an image) reaches
    # the user as its one-line message instead of a bare "Error"; tracebacks stay in the log.
    demo.queue(max_size=20).launch(share=args.share, show_error=True)


if __name__ == "__main__":
    main()
