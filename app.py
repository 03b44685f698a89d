"""Neural style transfer studio: the Gradio app, locally (`python app.py`) or as a Hugging Face Space.

Only UI lives here: handlers turn control values into `nst` calls, then the Blocks layout wires
them up. The Gatys controls are kept by GatysConfig field name (`gatys_controls`), so a new engine
option is one config field plus one control. Models load lazily on first use and stay cached.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, get_origin, get_type_hints

import gradio as gr
import spaces

from nst.config import CHOICES, DEFAULT_LR, PRESETS, VGG_WEIGHTS_ENV, GatysConfig, preset
from nst.gatys import RunStopped, run_gatys
from nst.hub import DIRECTIONS
from nst.images import ImageError
from nst.sweep import STUDY_SWEEPS
from nst.vgg import IMAGENET_FILE, VGG19_LAYER_NAMES, VGGWeightsError, imagenet_availability, imagenet_cache_path
from ui.catalog import model_choices, model_info
from ui.cyclegan_handlers import cyclegan, fetch_model, translate_frame
from ui.examples import GATYS_PAIRS, example_files
from ui.experiments import run_experiment, study_sweep
from ui.loss_plot import LossHistory, loss_svg
from ui.preview import LABEL as PREVIEW_LABEL, NOTE as PREVIEW_NOTE, preview
from ui.widgets import PictureUpload, network_choices, new_result_path, open_upload, status_html, user_error

FRAMES = 20  # intermediate images streamed per run
GRADIO_CACHE_CLEANUP = (3600, 24 * 3600)  # hourly, remove uploads and streamed frames older than a day
DEFAULTS = GatysConfig()  # its vgg_weights: NST_VGG19_WEIGHTS, or the original network
CONFIG_TYPES = get_type_hints(GatysConfig)

# ----------------------------------------------------------------------------- Gatys handlers


def gatys_config(values: dict[str, Any], second_style: bool) -> GatysConfig:
    """The engine's config from control values by field name. Three controls are the UI's own:
    log10_ratio (beta = alpha / 10 ** log10_ratio), network (vgg_weights) and the second style's share."""
    fields = {name: _typed(name, value) for name, value in values.items() if name in CONFIG_TYPES and value is not None}
    fields["beta"] = fields.get("alpha", DEFAULTS.alpha) / 10 ** float(values["log10_ratio"])
    fields["lr"] = fields.get("lr") or None  # 0 in the box: the optimiser's default
    fields["vgg_weights"] = values["network"]
    if second_style:
        share = float(values["style2_share"])
        fields["style_blend_weights"] = (1.0 - share, share)
    if int(fields.get("steps", 1)) < 1:
        raise user_error("Steps must be at least 1.")
    try:
        return GatysConfig(**fields)
    except ValueError as error:
        raise user_error(error) from error


def _typed(name: str, value: Any) -> Any:
    """A control's value as the config field's type (sliders give floats, checkboxes lists)."""
    hint = CONFIG_TYPES[name]
    if hint in (int, float):
        return hint(value)
    return tuple(value) if get_origin(hint) is tuple else value


def _gatys_gpu_seconds(**named) -> int:
    """ZeroGPU time to reserve: 30 s plus 50 ms a step at 512 px (scaled by pixels), a wide
    margin over a big GPU; not measured yet on ZeroGPU."""
    return int(30 + int(named.get("steps") or 1) * (int(named.get("size") or 256) / 512) ** 2 * 0.05)


@spaces.GPU(duration=_gatys_gpu_seconds)
def stylize(**named):
    """Stream (image, loss plot, PNG file, status, run state) about FRAMES times during the run.

    Takes every control by name (`gatys_images` and `gatys_controls`): the images as file paths,
    the rest as GatysConfig fields plus the UI's own log10_ratio, network and style2_share."""
    if named["content"] is None or named["style"] is None:
        raise user_error("Please upload a content image and a style image (or click an example).")
    config = gatys_config(named, second_style=named.get("style2") is not None)
    # uploads are decoded no larger than the run needs
    content = open_upload(named["content"], "content", config.size)
    style = open_upload(named["style"], "style", config.style_side())
    style2 = open_upload(named.get("style2"), "second style", config.style_side())
    result = new_result_path()
    history, state = LossHistory(), run_state(0, config.steps)
    loading = "Loading VGG19 and computing the targets..."
    yield gr.skip(), gr.skip(), gr.skip(), status_html(loading, 0, config.steps), state
    try:
        styles = [style] if style2 is None else [style, style2]
        for record in run_gatys(config, content, styles, image_every=max(1, config.steps // FRAMES)):
            history.add(record)
            if record.image is not None:
                record.image.save(result)  # lossless, so Stop still leaves a PNG to download
                state = run_state(record.step, config.steps)
                text = f"Step {record.step} of {config.steps} · total loss {record.total:.4g} · {record.elapsed_s:.1f} s"
                yield record.image, loss_svg(history), str(result), status_html(text, record.step, config.steps), state
    except RunStopped as error:  # the last image with a finite loss stays on screen and downloadable
        if error.last_image is not None:
            error.last_image.save(result)
        kept = gr.skip() if error.last_image is None else error.last_image
        ended = run_state(state["step"], config.steps, running=False)
        yield kept, gr.skip(), str(result) if error.last_image else gr.skip(), status_html(f"Stopped: {error}"), ended
        raise user_error(error, duration=None) from error
    except (VGGWeightsError, ImageError, ValueError) as error:
        ended = run_state(state["step"], config.steps, running=False)
        yield gr.skip(), gr.skip(), gr.skip(), status_html(f"Not run: {error}"), ended
        raise user_error(error, duration=None) from error
    except Exception:  # a bug: the status says so, and gradio logs the traceback
        failed = "Failed: an internal error (see the server log)."
        yield gr.skip(), gr.skip(), gr.skip(), status_html(failed), run_state(state["step"], config.steps, running=False)
        raise
    done = f"Done: {config.steps} steps in {record.elapsed_s:.1f} s. Download the PNG below the plot."
    ended = run_state(config.steps, config.steps, running=False)
    yield gr.skip(), gr.skip(), gr.skip(), status_html(done, config.steps, config.steps), ended


def run_state(step: int, steps: int, running: bool = True) -> dict:
    """Where the run is, for Stop's message (gr.State); `running` is False once it has ended."""
    return {"step": step, "steps": steps, "running": running}


def stopped_status(state: dict):
    """The status after Stop: where the run stopped, or nothing new if no run was going on."""
    if not state.get("running"):
        return gr.skip()
    return status_html(f"Stopped at step {state['step']} of {state['steps']}; the image so far is shown above "
                       "and can be downloaded.", state["step"], state["steps"])  # fmt: skip


def preset_values(name: str) -> dict:
    """{control: value} for every control a preset decides, by config field name."""
    config = preset(name)
    values = {control: getattr(config, field) for field, control in gatys_controls.items() if field in CONFIG_TYPES}
    values[gatys_controls["log10_ratio"]] = round(math.log10(config.alpha / config.beta), 2)
    values[gatys_controls["lr"]] = config.lr or 0
    return {control: list(v) if isinstance(v, tuple) else v for control, v in values.items()}


def vgg_notice(network: str):
    """What the tab says next to the Network choice, and whether to offer the original network in
    one click (when torchvision's is chosen but can be neither found nor downloaded)."""
    if network != "torchvision":
        return NETWORK_NOTES.get(network, f"VGG19 weights from the file `{network}` ({VGG_WEIGHTS_ENV})."), gr.update(visible=False)
    availability = imagenet_availability()
    if availability == "cached":
        return "torchvision's VGG19: on this machine.", gr.update(visible=False)
    if availability == "downloadable":
        return f"torchvision's VGG19: downloads once on the first run ({IMAGENET_FILE}, 548 MB).", gr.update(visible=False)
    return (
        "**torchvision's VGG19 is not on this machine and cannot be downloaded (offline).** Use the original network "
        f"(no download), or put `{IMAGENET_FILE}` in `{imagenet_cache_path().parent}` and reload.",
        gr.update(visible=True),
    )


NETWORK_NOTES = {
    "original": "The original VGG19 (Simonyan & Zisserman's weights, which Gatys et al. used): built in, no download.",
    "random": "Random VGG19 weights: the study's control. Its pictures stay near the photo: they are not style transfer.",
}


# ----------------------------------------------------------------------------- layout

FEATURE_LAYERS = [name for name in VGG19_LAYER_NAMES if not name.startswith("pool")]
CSS = """
.run-status { display: flex; align-items: center; gap: 0.6em; min-height: 1.6em; }
.run-status progress { width: 9em; flex: none; }
#loss-plot svg, #sweep-plot svg { width: 100%; max-width: 760px; height: auto; }
#preview [data-testid=block-label] { max-width: calc(100% - 44px); }  /* wraps before the download button */
"""
NO_PROGRESS_OVERLAY = dict(show_progress="hidden")  # our own status line shows progress; outputs stay visible


def upload(label: str, elem_id: str, height: int = 300) -> PictureUpload:
    return PictureUpload(type="filepath", image_mode=None, label=label, sources=["upload", "webcam", "clipboard"],
                         height=height, elem_id=elem_id)  # fmt: skip


with gr.Blocks(title="Neural style transfer studio", delete_cache=GRADIO_CACHE_CLEANUP) as demo:
    gr.Markdown("# Neural style transfer studio\nGatys et al. (2015) optimisation and CycleGAN (Zhu et al., 2017) translation.")
    with gr.Tab("Gatys"):
        with gr.Row():
            gatys_images = {"content": upload("Content", "content"), "style": upload("Style", "style")}
            # the feed-forward picture beside the Gatys result, labelled as such (one button: the label needs the room)
            preview_image = gr.Image(type="pil", label=PREVIEW_LABEL, format="png", interactive=False, height=300,
                                     buttons=["download"], elem_id="preview")  # fmt: skip
            result = gr.Image(type="pil", label="Result: Gatys' optimisation", format="png", interactive=False, height=300,
                              elem_id="result")  # fmt: skip
        with gr.Row(equal_height=True):
            with gr.Column(scale=2):
                gr.Markdown(PREVIEW_NOTE, elem_id="preview-note")
            preview_strength = gr.Slider(0, 1, value=1, step=0.05, label="Preview strength", elem_id="preview-strength",
                                         scale=1, min_width=200)  # fmt: skip
            gr.Column(scale=1, min_width=0)  # keeps the slider under the preview
        with gr.Row():
            run_btn = gr.Button("Run", variant="primary", elem_id="run", scale=1)
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
            network_in = gr.Radio(network_choices(), value=DEFAULTS.vgg_weights, label="Network", elem_id="network", scale=2)
            with gr.Column(scale=3):
                vgg_note = gr.Markdown(vgg_notice(DEFAULTS.vgg_weights)[0], elem_id="vgg-note")
                use_original_btn = gr.Button("Use the original network", size="sm", visible=False, elem_id="use-original")
        status = gr.HTML(status_html("Upload a content and a style image, or click an example below, then Run."),
                         elem_id="status")  # fmt: skip
        with gr.Row():
            loss_plot = gr.HTML("", elem_id="loss-plot", min_height=80, scale=3)
            download = gr.File(label="Download (PNG)", elem_id="download", scale=1, min_width=260, height=110)
        progress_state = gr.State(run_state(0, DEFAULTS.steps, running=False))
        gatys_controls: dict[str, gr.components.Component] = {"network": network_in}
        with gr.Row():
            preset_in = gr.Dropdown(list(PRESETS), value="study", label="Preset", scale=1)
            gatys_controls["steps"] = gr.Slider(1, 1000, value=DEFAULTS.steps, step=1, label="Steps", elem_id="steps")
            gatys_controls["size"] = gr.Slider(64, 1024, value=DEFAULTS.size, step=32, label="Output size (long side, px)", elem_id="size")
        with gr.Row():
            gatys_controls["alpha"] = gr.Number(value=DEFAULTS.alpha, label="α (content weight)", minimum=0)
            gatys_controls["log10_ratio"] = gr.Slider(-9, -1, value=round(math.log10(DEFAULTS.alpha / DEFAULTS.beta), 2),
                                                      step=0.5, label="log10(α/β): lower means more style")  # fmt: skip
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                gatys_controls["style_layers"] = gr.CheckboxGroup(FEATURE_LAYERS, value=list(DEFAULTS.style_layers), label="Style layers")
                gatys_controls["content_layers"] = gr.CheckboxGroup(FEATURE_LAYERS, value=list(DEFAULTS.content_layers), label="Content layers")
            with gr.Row():
                gatys_controls["pooling"] = gr.Radio(CHOICES["pooling"], value=DEFAULTS.pooling, label="Pooling")
                gatys_controls["init"] = gr.Radio(CHOICES["init"], value=DEFAULTS.init, label="Initial image")
                gatys_controls["noise_ratio"] = gr.Slider(0, 1, value=DEFAULTS.noise_ratio, step=0.05, label="Noise ratio (noisy-content)")
            with gr.Row():
                gatys_controls["optimizer"] = gr.Radio(CHOICES["optimizer"], value=DEFAULTS.optimizer, label="Optimiser")
                gatys_controls["lr"] = gr.Number(value=0, minimum=0, label=f"Learning rate (0: the optimiser's default, {DEFAULT_LR})")
                gatys_controls["scheduler"] = gr.Radio(CHOICES["scheduler"], value=DEFAULTS.scheduler, label="LR scheduler")
            with gr.Row():
                gatys_controls["tv_weight"] = gr.Number(value=DEFAULTS.tv_weight, label="Total-variation weight", minimum=0)
                gatys_controls["preserve_color"] = gr.Radio(CHOICES["preserve_color"], value=DEFAULTS.preserve_color, label="Preserve colour")
                gatys_controls["style_scale"] = gr.Slider(0.25, 2, value=DEFAULTS.style_scale, step=0.05, label="Style scale")
            with gr.Row():
                gatys_images["style2"] = upload("Second style (optional)", "style2", height=160)
                gatys_controls["style2_share"] = gr.Slider(0, 1, value=0.5, step=0.05, label="Second style's share")
                gatys_controls["levels"] = gr.Slider(1, 3, value=DEFAULTS.levels, step=1, label="Coarse-to-fine levels")
                gatys_controls["seed"] = gr.Number(value=DEFAULTS.seed, label="Seed", precision=0)
        examples = example_files()
        gr.Examples([[str(examples[c]), str(examples[s])] for c, s in GATYS_PAIRS], [gatys_images["content"], gatys_images["style"]],
                    label="Examples: photos (Tübingen; scikit-image's) and the paintings style-transfer papers use",
                    elem_id="gatys-examples")  # fmt: skip
        run_event = run_btn.click(stylize, inputs_kwargs={**gatys_images, **gatys_controls},
                                  outputs=[result, loss_plot, download, status, progress_state], api_name="gatys",
                                  concurrency_id="gpu", concurrency_limit=1, **NO_PROGRESS_OVERLAY)  # fmt: skip
        # the status is written after the cancel has gone through, so nothing from the run overwrites it
        # the instant preview: when either image or the strength changes (an example sets both images)
        gr.on([gatys_images["content"].change, gatys_images["style"].change, preview_strength.release], preview,
              inputs_kwargs={"content": gatys_images["content"], "style": gatys_images["style"], "strength": preview_strength},
              outputs=preview_image, api_name="preview", trigger_mode="always_last", **NO_PROGRESS_OVERLAY)  # fmt: skip
        stop_btn.click(None, cancels=[run_event], api_name=False).then(stopped_status, progress_state, status, api_name=False,
                                                                       **NO_PROGRESS_OVERLAY)  # fmt: skip
        preset_in.change(preset_values, preset_in, {c for f, c in gatys_controls.items() if f in CONFIG_TYPES or f in ("log10_ratio",)},
                         api_name=False)  # fmt: skip
        use_original_btn.click(lambda: "original", None, network_in, api_name=False)
        network_in.change(vgg_notice, network_in, [vgg_note, use_original_btn], api_name=False, **NO_PROGRESS_OVERLAY)

    with gr.Tab("Experiments"):
        gr.Markdown("One content and one style image under a sweep of one or two options, as in the study's figures. "
                    "Pick one of them, or write `name=value,value,...` (a GatysConfig field, or log10_ratio; "
                    "lists of layers separated by `;`).")  # fmt: skip
        with gr.Row():
            sweep_images = [upload("Content", "sweep-content", height=220), upload("Style", "sweep-style", height=220)]
            with gr.Column():
                figure_in = gr.Dropdown(list(STUDY_SWEEPS), value=None, label="The study's figures", elem_id="sweep-figure")
                rows_in = gr.Textbox(STUDY_SWEEPS[next(iter(STUDY_SWEEPS))][0], label="Rows", elem_id="sweep-rows")
                columns_in = gr.Textbox("", label="Columns (optional)", elem_id="sweep-columns")
        with gr.Row():
            sweep_size = gr.Slider(64, 512, value=128, step=32, label="Size of each cell (px)", elem_id="sweep-size")
            sweep_steps = gr.Slider(1, 300, value=60, step=1, label="Steps of each cell", elem_id="sweep-steps")
            sweep_network = gr.Radio(network_choices(), value=DEFAULTS.vgg_weights, label="Network")
        with gr.Row():
            sweep_run = gr.Button("Run the sweep", variant="primary", elem_id="sweep-run")
            sweep_stop = gr.Button("Stop", variant="stop", elem_id="sweep-stop")
        sweep_status = gr.HTML(status_html("Cells appear below as they finish."), elem_id="sweep-status")
        sweep_gallery = gr.Gallery(columns=4, height="auto", label="Cells, row by row", elem_id="sweep-gallery",
                                   object_fit="contain", allow_preview=False)  # fmt: skip
        with gr.Row():
            sweep_plot = gr.HTML("", elem_id="sweep-plot", scale=3)
            sweep_files = gr.File(label="Contact sheet (PNG) and report (JSON)", file_count="multiple", scale=1)
        sweep_event = sweep_run.click(run_experiment, [*sweep_images, rows_in, columns_in, sweep_size, sweep_steps, sweep_network],
                                      [sweep_gallery, sweep_plot, sweep_files, sweep_status], api_name="sweep",
                                      concurrency_id="gpu", concurrency_limit=1, **NO_PROGRESS_OVERLAY)  # fmt: skip
        sweep_stop.click(None, cancels=[sweep_event], api_name=False)
        figure_in.change(study_sweep, figure_in, [rows_in, columns_in], api_name=False)

    with gr.Tab("CycleGAN"):
        choices = model_choices()
        with gr.Row():
            model_in = gr.Dropdown(choices, value=choices[0][1] if choices else None, allow_custom_value=True,
                                   label="Model: pick one, or type a Hub repo id (owner/name) or a local path",
                                   elem_id="cg-model")  # fmt: skip
            direction_in = gr.Radio(list(DIRECTIONS), value="AtoB", label="Direction")
        model_note = gr.Markdown("", elem_id="cg-note")
        with gr.Row():
            image_in = upload("Input", "cg-input", height=320)
            comparison = gr.ImageSlider(type="pil", label="Before / after", height=320, elem_id="cg-output")
        with gr.Row():
            max_side_in = gr.Slider(64, 2048, value=512, step=32, label="Maximum side (larger images are scaled down)")
            translate_btn = gr.Button("Translate", variant="primary", elem_id="cg-translate")
        cg_status = gr.HTML("", elem_id="cg-status")
        gr.Markdown("### The cycle: the translation, and back through the other generator")
        cycle_gallery = gr.Gallery(columns=3, height="auto", label="x, G(x), F(G(x))", elem_id="cg-cycle",
                                   object_fit="contain", allow_preview=False)  # fmt: skip
        cycle_note = gr.Markdown(elem_id="cg-cycle-note")
        translate_btn.click(fetch_model, [image_in, model_in, direction_in], cg_status, api_name=False,
                            **NO_PROGRESS_OVERLAY).success(
            cyclegan, [image_in, model_in, direction_in, max_side_in], [comparison, cg_status, cycle_gallery, cycle_note],
            api_name="cyclegan", concurrency_id="gpu", concurrency_limit=1, **NO_PROGRESS_OVERLAY)  # fmt: skip
        with gr.Accordion("Live: the webcam, translated frame by frame", open=False):
            with gr.Row():
                webcam_in = gr.Image(sources=["webcam"], streaming=True, type="pil", label="Webcam", elem_id="cg-webcam")
                webcam_out = gr.Image(type="pil", label="Translated", elem_id="cg-webcam-out", interactive=False)
            webcam_rate = gr.Markdown(elem_id="cg-webcam-rate")
            rate_state = gr.State(None)
            webcam_in.stream(translate_frame, [webcam_in, model_in, direction_in, rate_state], [webcam_out, webcam_rate, rate_state],
                             stream_every=0.1, concurrency_limit=1, api_name=False, **NO_PROGRESS_OVERLAY)  # fmt: skip
        model_in.change(model_info, model_in, [direction_in, model_note], api_name=False, **NO_PROGRESS_OVERLAY)
        demo.load(model_info, model_in, [direction_in, model_note], api_name=False, **NO_PROGRESS_OVERLAY)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the style transfer studio (port: GRADIO_SERVER_PORT or 7860).")
    parser.add_argument("--share", action="store_true", default=os.environ.get("GRADIO_SHARE") == "1",
                        help="also make a public share link (or set GRADIO_SHARE=1)")  # fmt: skip
    args = parser.parse_args()
    # show_error: a failure gradio itself raises reaches the user as its one-line message.
    demo.queue(max_size=20).launch(share=args.share, show_error=True, css=CSS)


if __name__ == "__main__":
    main()
