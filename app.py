"""Neural style transfer studio: the Gradio app, locally (`python app.py`) or as a Hugging Face Space.

Only the layout lives here: each tab's handlers are in ui/ (ui.gatys_handlers, ui.experiments,
ui.cyclegan_handlers), and read nothing of it. The Gatys controls are kept by GatysConfig field
name (`gatys_controls`), so a new engine option is one config field plus one control. The networks
load in the background at start (ui.warm_up) and stay cached.
"""

from __future__ import annotations

import argparse
import math
import os

import gradio as gr
from PIL import Image

from nst.cyclegan.hub import DIRECTIONS
from nst.gatys.config import CHOICES, DEFAULT_LR, PRESETS
from nst.gatys.vgg import VGG19_LAYER_NAMES
from ui.catalog import example_inputs, model_choices, model_info
from ui.cyclegan_handlers import cyclegan, example_input, fetch_model, translate_frame
from ui.loss_plot import PLOT_MAX_WIDTH_PX
from ui.examples import GATYS_PAIRS, REGIONS_EXAMPLE, example_files
from ui.experiments import STUDY_SWEEPS, run_experiment, study_sweep
from ui.gatys_handlers import CONFIG_TYPES, DEFAULTS, EDITED, LARGEST_SIZE, RUN_OUTPUTS, RUN_SIZE, preset_values, run_gatys_tab, run_state, stopped_status, vgg_notice
from ui.preview import LABEL as PREVIEW_LABEL, NOTE as PREVIEW_NOTE, preview
from ui.regions import BRUSHES as REGION_BRUSHES, NOTE as REGIONS_NOTE, OPACITY as REGION_OPACITY, paint_over
from ui.warm_up import start_warm_up
from ui.widgets import PictureUpload, empty_unusable_upload, network_choices, status_html

GRADIO_CACHE_CLEANUP = (3600, 24 * 3600)  # hourly, remove uploads and streamed frames older than a day

# ----------------------------------------------------------------------------- layout

FEATURE_LAYERS = [name for name in VGG19_LAYER_NAMES if not name.startswith("pool")]
CSS = """
.run-status { display: flex; align-items: center; gap: 0.6em; min-height: 1.6em; }
.run-status progress { width: 9em; flex: none; }
#sweep-plot svg { width: 100%; max-width: 760px; height: auto; }
#loss-plot { min-width: min(320px, 100%) !important; }  /* gr.HTML drops min_width: on a phone the plot takes its own row */
#preview [data-testid=block-label] { max-width: calc(100% - 44px); }  /* wraps before the download button */
/* examples as compact pairs of thumbnails in a row (not a tall table); on a phone, first on the page */
#gatys-examples thead, #sweep-examples thead, #cg-examples thead { display: none; }
#gatys-examples tbody, #sweep-examples tbody, #cg-examples tbody { display: flex; flex-wrap: wrap; gap: 4px 16px; }
#gatys-examples tbody tr, #sweep-examples tbody tr, #cg-examples tbody tr { display: flex; gap: 2px; padding: 0 !important; border: none; background: none !important; }
#gatys-examples tbody td, #sweep-examples tbody td, #cg-examples tbody td { padding: 2px !important; border: none !important; }
#gatys-examples table, #sweep-examples table, #cg-examples table { width: auto !important; }
@media (max-width: 640px) {
  #gatys-examples { order: -1; }
  #gatys-examples .container { width: 56px !important; height: 56px !important; }
}
#cg-model input { text-overflow: ellipsis; padding-right: 2.2em; }  /* a long model name stops before the arrow */
/* the Experiments cells at their own size or smaller (never blown up), as many a row as fit, each caption whole under its picture */
#sweep-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(min(100%, 240px), 1fr)) !important;
  grid-template-rows: none !important; grid-auto-rows: auto !important; }
#sweep-gallery .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex; flex-direction: column;
  align-items: center; justify-content: flex-end; }
#sweep-gallery .thumbnail-item img { object-fit: scale-down !important; width: auto !important; height: auto !important; max-width: 100%; }
#sweep-gallery .caption-label { position: static !important; max-width: 100% !important; white-space: pre-line; text-overflow: clip;
  opacity: 1 !important; border: none; }
"""
CSS += f"#loss-plot svg {{ width: 100%; max-width: {PLOT_MAX_WIDTH_PX}px; height: auto; }}\n"  # ui.loss_plot: text of about 15 px at most
# On a phone Run is below the four pictures: a click on it brings the result (and, under it, the status) into view.
PAGE_JS = """() => document.addEventListener("click", (event) => {
    if (event.target.closest("#run") && window.innerWidth < 640) document.querySelector("#result")?.scrollIntoView({block: "start"});
})"""
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
        # Run, then the run's progress, right under the pictures: the result, Stop and the status are seen together
        with gr.Row():
            run_btn = gr.Button("Run", variant="primary", elem_id="run", scale=1)
            stop_btn = gr.Button("Stop", variant="secondary", elem_id="stop", scale=1)  # not a second call to action
            network_in = gr.Radio(network_choices(), value=DEFAULTS.vgg_weights, label="Network", elem_id="network", scale=2)
            with gr.Column(scale=3):
                vgg_note = gr.Markdown(vgg_notice(DEFAULTS.vgg_weights)[0], elem_id="vgg-note")
                use_original_btn = gr.Button("Use the original network", size="sm", visible=False, elem_id="use-original")
        status = gr.HTML(status_html("Upload a content and a style image, or click an example below, then Run."),
                         elem_id="status")  # fmt: skip
        with gr.Row():
            # both appear with the run's first picture (an empty box would only take room)
            loss_plot = gr.HTML("", elem_id="loss-plot", min_height=80, scale=3, visible=False)
            download = gr.File(label="Download (PNG)", elem_id="download", scale=1, min_width=260, height=110, visible=False)
        # the examples under the pictures they fill (and the status), so a click shows its effect (and a phone reaches them)
        examples = example_files()
        gr.Examples([[str(examples[c]), str(examples[s])] for c, s in GATYS_PAIRS], [gatys_images["content"], gatys_images["style"]],
                    label="Examples: photos (Tübingen; scikit-image's) and the paintings style-transfer papers use",
                    elem_id="gatys-examples", examples_per_page=4)  # fmt: skip
        with gr.Row(equal_height=True):
            with gr.Column(scale=2):
                gr.Markdown(PREVIEW_NOTE, elem_id="preview-note")
            preview_strength = gr.Slider(0, 1, value=1, step=0.05, label="Preview strength", elem_id="preview-strength",
                                         scale=1, min_width=200)  # fmt: skip
            gr.Column(scale=1, min_width=0)  # keeps the slider under the preview
        progress_state = gr.State(run_state(0, DEFAULTS.steps, running=False))
        gatys_controls: dict[str, gr.components.Component] = {"network": network_in}
        with gr.Row():
            preset_in = gr.Dropdown([*PRESETS, EDITED], value="study", label="Preset", scale=1, elem_id="preset")
            gatys_controls["steps"] = gr.Slider(1, 1000, value=DEFAULTS.steps, step=1, label="Steps", elem_id="steps")
            gatys_controls["size"] = gr.Slider(64, LARGEST_SIZE, value=RUN_SIZE, step=32, elem_id="size",
                                               label=f"Output size (long side, px; up to {LARGEST_SIZE} fits this machine)")  # fmt: skip
        with gr.Row():
            gatys_controls["alpha"] = gr.Number(value=DEFAULTS.alpha, label="α (content weight)", minimum=0)
            gatys_controls["log10_ratio"] = gr.Slider(-9, 2, value=round(math.log10(DEFAULTS.alpha / DEFAULTS.beta), 2), step=0.5,
                                                      label="log10(α/β): lower means more style (relative units: about -1)")  # fmt: skip
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                gatys_controls["style_layers"] = gr.CheckboxGroup(FEATURE_LAYERS, value=list(DEFAULTS.style_layers), label="Style layers")
                gatys_controls["content_layers"] = gr.CheckboxGroup(FEATURE_LAYERS, value=list(DEFAULTS.content_layers), label="Content layers")
            with gr.Row():
                gatys_controls["loss_units"] = gr.Radio(CHOICES["loss_units"], value=DEFAULTS.loss_units, elem_id="loss-units",
                                                        label="Loss units (relative: α/β holds on any pair; paper: eqs. 1 and 4)")  # fmt: skip
                gatys_controls["style_statistic"] = gr.Radio(CHOICES["style_statistic"], value=DEFAULTS.style_statistic,
                                                             label="Style loss: Gram matrices, or mean and covariance (W2)",
                                                             elem_id="style-statistic")  # fmt: skip
            with gr.Row():
                gatys_controls["pooling"] = gr.Radio(CHOICES["pooling"], value=DEFAULTS.pooling, label="Pooling")
                gatys_controls["init"] = gr.Radio(CHOICES["init"], value=DEFAULTS.init, label="Initial image")
                gatys_controls["noise_ratio"] = gr.Slider(0, 1, value=DEFAULTS.noise_ratio, step=0.05, label="Noise ratio (noisy-content)")
            with gr.Row():
                gatys_controls["optimizer"] = gr.Radio(CHOICES["optimizer"], value=DEFAULTS.optimizer, label="Optimiser")
                gatys_controls["lr"] = gr.Number(value=0, minimum=0, label="Learning rate (0: the optimiser's own, "
                                                 + ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items()) + ")")
                gatys_controls["scheduler"] = gr.Radio(CHOICES["scheduler"], value=DEFAULTS.scheduler, label="LR scheduler")
            with gr.Row():
                gatys_controls["tv_weight"] = gr.Number(value=DEFAULTS.tv_weight, label="Total-variation weight", minimum=0)
                gatys_controls["preserve_color"] = gr.Radio(CHOICES["preserve_color"], value=DEFAULTS.preserve_color, label="Preserve colour")
                gatys_controls["style_scale"] = gr.Slider(0.25, 2, value=DEFAULTS.style_scale, step=0.05, label="Style scale")
            with gr.Row():
                gatys_images["style2"] = upload("Second style (optional)", "style2", height=160)
                gatys_controls["style2_share"] = gr.Slider(0, 1, value=0.5, step=0.05, label="Second style's share")
                gatys_controls["seed"] = gr.Number(value=DEFAULTS.seed, label="Seed", precision=0)
            with gr.Row():
                gatys_controls["levels"] = gr.Slider(0, 9, value=DEFAULTS.levels, step=1, label="Coarse-to-fine levels (0: from 256 px up)")
                gatys_controls["level_ratio"] = gr.Slider(1.1, 2, value=DEFAULTS.level_ratio, step=0.001,
                                                          label="Size ratio between levels (√2 ≈ 1.41)")  # fmt: skip
                gatys_controls["coarse_steps"] = gr.Slider(0, 100, value=DEFAULTS.coarse_steps, step=1,
                                                           label="Steps at each coarser level (0: by the ratio beside)")  # fmt: skip
                gatys_controls["step_decay"] = gr.Slider(0.3, 1, value=DEFAULTS.step_decay, step=0.05,
                                                         label="Steps of a level / the coarser one's (when 0 beside)")  # fmt: skip
        with gr.Accordion("Where the style goes: paint regions (optional)", open=False, elem_id="regions-box") as regions_box:
            gr.Markdown(REGIONS_NOTE, elem_id="regions-note")
            regions_in = gr.ImageEditor(value={"background": None, "layers": [], "composite": None}, type="pil", image_mode="RGBA",
                                        label="Paint over the content", sources=(),
                                        brush=gr.Brush(colors=[(c, REGION_OPACITY) for c in REGION_BRUSHES],
                                                       default_color=(next(iter(REGION_BRUSHES)), REGION_OPACITY),
                                                       color_mode="fixed", default_size=24),
                                        eraser=gr.Eraser(), layers=False, transforms=(), height=420, interactive=True,
                                        canvas_size=Image.open(REGIONS_EXAMPLE).size, format="png", elem_id="regions")  # fmt: skip
            # blue paints in the second style, whose box is under Advanced: shown here, where it is used
            style2_shown = gr.Image(label="Blue paints in the second style (set under Advanced)", interactive=False,
                                    height=140, elem_id="regions-style2", buttons=[])  # fmt: skip
            gr.Examples([[str(examples["tubingen"]), str(examples["starry_night"]), str(examples["the_scream"]),
                          {"background": str(examples["tubingen"]), "layers": [str(REGIONS_EXAMPLE)], "composite": None}]],
                        [gatys_images["content"], gatys_images["style"], gatys_images["style2"], regions_in],
                        label="Example: the sky in The Starry Night (red), the town in The Scream (blue), the river kept",
                        elem_id="regions-examples")  # fmt: skip
        run_outputs = {"image": result, "plot": loss_plot, "download": download, "status": status, "state": progress_state}
        run_event = run_btn.click(run_gatys_tab, inputs_kwargs={**gatys_images, **gatys_controls, "regions": regions_in},
                                  outputs=[run_outputs[name] for name in RUN_OUTPUTS], api_name="gatys",
                                  concurrency_id="gpu", concurrency_limit=1, **NO_PROGRESS_OVERLAY)  # fmt: skip
        # the plot and the download appear with the run's first picture (the API's outputs stay plain values)
        gr.on([loss_plot.change, download.change], lambda: (gr.update(visible=True), gr.update(visible=True)), None,
              [loss_plot, download], api_name=False, **NO_PROGRESS_OVERLAY)  # fmt: skip
        # the status is written after the cancel has gone through, so nothing from the run overwrites it
        # the instant preview: when either image or the strength changes (an example sets both images)
        gr.on([gatys_images["content"].change, gatys_images["style"].change, gatys_images["style2"].change,
               preview_strength.release, regions_in.change, regions_in.input], preview,
              inputs_kwargs={"content": gatys_images["content"], "style": gatys_images["style"], "strength": preview_strength,
                             "style2": gatys_images["style2"], "regions": regions_in},
              outputs=preview_image, api_name="preview", trigger_mode="always_last", **NO_PROGRESS_OVERLAY)  # fmt: skip
        gatys_images["style2"].change(lambda picture: picture, gatys_images["style2"], style2_shown, api_name=False,
                                      **NO_PROGRESS_OVERLAY)  # fmt: skip
        # the painting canvas holds the content; a new content image starts a new painting
        regions_box.expand(paint_over, [gatys_images["content"], regions_in], regions_in, api_name=False, **NO_PROGRESS_OVERLAY)
        stop_btn.click(None, cancels=[run_event], api_name=False).then(stopped_status, progress_state, status, api_name=False,
                                                                       **NO_PROGRESS_OVERLAY)  # fmt: skip
        preset_fields = tuple(f for f in gatys_controls if f in CONFIG_TYPES or f == "log10_ratio")
        preset_in.change(lambda name: preset_values(name, preset_fields), preset_in, [gatys_controls[f] for f in preset_fields],
                         api_name=False)  # fmt: skip
        for field in preset_fields:  # a setting changed by hand: the settings are no longer the preset's
            gatys_controls[field].input(lambda: EDITED, None, preset_in, api_name=False, **NO_PROGRESS_OVERLAY)
        use_original_btn.click(lambda: "original", None, network_in, api_name=False)
        for name, box in gatys_images.items():  # a file that is no picture is emptied at once, and the status says why
            checked = box.upload(empty_unusable_upload(box.label), box, [box, status], preprocess=False, api_name=False,
                                 **NO_PROGRESS_OVERLAY)  # fmt: skip
            if name == "content":  # then a new photo is a new canvas to paint on (once it is known to be a picture)
                checked.then(paint_over, [box, regions_in], regions_in, api_name=False, **NO_PROGRESS_OVERLAY)
        network_in.change(vgg_notice, network_in, [vgg_note, use_original_btn], api_name=False, **NO_PROGRESS_OVERLAY)

    with gr.Tab("Experiments"):
        gr.Markdown("One content and one style image under a sweep of one or two options, as in the study's figures. "
                    "Pick one of them, or write `name=value,value,...` (a GatysConfig field, or log10_ratio; "
                    "lists of layers separated by `;`).")  # fmt: skip
        with gr.Row():
            sweep_images = [upload("Content", "sweep-content", height=220), upload("Style", "sweep-style", height=220)]
            with gr.Column():
                figure_in = gr.Dropdown(list(STUDY_SWEEPS), value=next(iter(STUDY_SWEEPS)), label="The study's figures", elem_id="sweep-figure")
                rows_in = gr.Textbox(STUDY_SWEEPS[next(iter(STUDY_SWEEPS))][0], label="Rows", elem_id="sweep-rows")
                columns_in = gr.Textbox("", label="Columns (optional)", elem_id="sweep-columns")
        gr.Examples([[str(examples[c]), str(examples[s])] for c, s in GATYS_PAIRS[:2]], sweep_images,
                    label="Examples", elem_id="sweep-examples")  # fmt: skip
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
                                   elem_id="cg-model", min_width=320)  # fmt: skip (a phone's whole row: the name is read)
            refresh_btn = gr.Button("↻ Rescan models", size="sm", scale=0, min_width=140, elem_id="cg-refresh")
            direction_in = gr.Radio(list(DIRECTIONS), value="AtoB", label="Direction")
        model_note = gr.Markdown("", elem_id="cg-note")
        with gr.Row():
            image_in = upload("Input", "cg-input", height=320)
            comparison = gr.ImageSlider(type="pil", label="Before / after", height=320, elem_id="cg-output")
        # the chosen model's kind of input (the catalog's examples): model_info changes them with the model
        first_examples, first_label = example_inputs(choices[0][1] if choices else None)
        cg_examples = gr.Dataset(components=[image_in], samples=[[str(path)] for path in first_examples], type="index",
                                 label=first_label, elem_id="cg-examples")  # fmt: skip
        cg_examples.click(example_input, [cg_examples, model_in], image_in, api_name=False, **NO_PROGRESS_OVERLAY)
        with gr.Row():
            max_side_in = gr.Slider(64, 4096, value=512, step=32, label="Maximum side (larger images are scaled down; over 1024 px, translated in tiles)")
            translate_btn = gr.Button("Translate", variant="primary", elem_id="cg-translate")
        cg_status = gr.HTML("", elem_id="cg-status")
        with gr.Column(visible=False) as cycle_box:  # for models with both directions (model_info)
            gr.Markdown("### The cycle: the translation, and back through the other generator")
            cycle_gallery = gr.Gallery(columns=3, height="auto", label="x, G(x), F(G(x))", elem_id="cg-cycle",
                                       object_fit="contain", allow_preview=False)  # fmt: skip
        cycle_note = gr.Markdown(elem_id="cg-cycle-note")  # the cycle's distance, or why a model has no cycle
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
        # a model trained or copied into weights/ since the page opened: in the list without a restart
        refresh_btn.click(lambda: gr.Dropdown(choices=model_choices()), None, model_in, api_name=False, **NO_PROGRESS_OVERLAY)
        model_outputs = [direction_in, model_note, cg_examples, cycle_box, cycle_note]
        model_in.change(model_info, model_in, model_outputs, api_name=False, **NO_PROGRESS_OVERLAY)
        demo.load(model_info, model_in, model_outputs, api_name=False, **NO_PROGRESS_OVERLAY)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the style transfer studio (port: GRADIO_SERVER_PORT or 7860).")
    parser.add_argument("--share", action="store_true", default=os.environ.get("GRADIO_SHARE") == "1",
                        help="also make a public share link (or set GRADIO_SHARE=1)")  # fmt: skip
    args = parser.parse_args()
    start_warm_up()  # the networks load while the page is served, not when Run is first pressed
    # show_error: a failure gradio itself raises reaches the user as its one-line message.
    demo.queue(max_size=20).launch(share=args.share, show_error=True, css=CSS, js=PAGE_JS)


if __name__ == "__main__":
    main()
