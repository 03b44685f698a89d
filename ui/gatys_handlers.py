"""The Gatys tab's handlers: control values, by GatysConfig field name, into nst calls, and
the run's outputs by name (RUN_OUTPUTS). The layout in app.py wires them; nothing here reads it."""

from __future__ import annotations

import math
from typing import Any, get_origin, get_type_hints

import gradio as gr
import spaces
import spaces.config
import torch
from PIL import Image

from nst.device import resolve_device
from nst.gatys.config import PRESETS, VGG_WEIGHTS_ENV, GatysConfig, default_size, preset
from nst.gatys.memory import available_bytes, largest_size
from nst.gatys.engine import RunStopped, run_gatys
from nst.gatys.vgg import IMAGENET_FILE, VGGWeightsError, imagenet_availability, imagenet_cache_path
from nst.images import ImageError, fit_long_side
from ui import zero_gpu
from ui.loss_plot import LossHistory, loss_svg
from ui.regions import painted_mask, painting_over, region_styles
from ui.widgets import KeptLast, file_digest, new_result_path, open_upload, status_html, user_error

FRAME_SECONDS = 1.0  # a new picture streams about every second, or every step where steps are slower
DEFAULTS = GatysConfig()  # its vgg_weights: NST_VGG19_WEIGHTS, or the original network
# The size a Run starts with: the device's default (nst.gatys.config.DEFAULT_SIZE); a ZeroGPU
# Space has its GPU only inside a run, so it says so through its environment.
RUN_SIZE = default_size("cuda" if spaces.config.Config.zero_gpu or torch.cuda.is_available() else resolve_device(DEFAULTS.device))
CONFIG_TYPES = get_type_hints(GatysConfig)
# The size slider's end: the largest 4:3 picture at the defaults that this machine's memory holds
# (nst.gatys.memory), at most 4096 px; a run checks its own settings before it starts.
LARGEST_SIZE = max(RUN_SIZE, min(4096, largest_size(DEFAULTS, (1024, 768), available_bytes(resolve_device(DEFAULTS.device)))))
RUN_OUTPUTS = ("image", "plot", "download", "status", "state")  # what a run updates, in the order the layout lists them



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
    """ZeroGPU time to reserve for a run (ui.zero_gpu), never more than it grants."""
    return zero_gpu.duration(zero_gpu.gatys_seconds(int(named.get("steps") or 1), int(named.get("size") or RUN_SIZE)))


def _outputs(**values) -> tuple:
    """The run's outputs in RUN_OUTPUTS order, by name; an output not named is left as it is."""
    return tuple(values.get(name, gr.skip()) for name in RUN_OUTPUTS)


def run_gatys_tab(**named):
    """The Run button (api_name /gatys): a run that cannot fit in one ZeroGPU call is refused
    before it asks for the GPU; then _run_on_gpu streams it."""
    refused = zero_gpu.refusal(int(named.get("steps") or 1), int(named.get("size") or RUN_SIZE))
    if refused:
        yield _outputs(status=status_html(f"Not run: {refused}"))
        raise user_error(refused, duration=None)
    yield from _run_on_gpu(**named)


@spaces.GPU(duration=_gatys_gpu_seconds)
def _run_on_gpu(**named):
    """Stream the RUN_OUTPUTS (image, loss plot, PNG file, status, run state) about every
    FRAME_SECONDS during the run, whatever its number of steps, and the result at its end.

    Takes every control by name (`gatys_images` and `gatys_controls`): the images as file paths,
    the rest as GatysConfig fields plus the UI's own log10_ratio, network and style2_share, and
    the painted regions (ui.regions), if any."""
    if named["content"] is None or named["style"] is None:
        raise user_error("Please upload a content image and a style image (or click an example).")
    config = gatys_config(named, second_style=named.get("style2") is not None)
    # uploads are decoded no larger than the run needs
    content = open_upload(named["content"], "content", config.size)
    style = open_upload(named["style"], "style", config.style_side())
    style2 = open_upload(named.get("style2"), "second style", config.style_side())
    result = new_result_path()
    final_size = fit_long_side(content.width, content.height, config.size)
    styles = [style] if style2 is None else [style, style2]
    stale = painting_over(named.get("regions"), named["content"]) is False  # painted over an earlier picture
    painted, keep = painted_mask(named.get("regions"), named["content"], final_size, result.with_name("regions.png"))
    if painted:  # each painted colour its own style; unpainted keeps the photo
        styles = region_styles(painted, style, style2)
        config = config.replace(mask=str(result.with_name("regions.png")), region_colors=painted, keep_color=keep,
                                style_blend_weights=None)  # fmt: skip
    history = LossHistory(planned_steps=config.steps, takes_back=config.optimizer == "lbfgs")
    state, shown = run_state(0, config.steps), None
    loading = "Loading VGG19 and computing the targets..."
    yield _outputs(status=status_html(loading, 0, config.steps), state=state)
    try:
        targets = targets_cache([named["content"], named["style"], named.get("style2")], config)
        shown_at_s = -FRAME_SECONDS
        for record in run_gatys(config, content, styles, image_every=1, targets_cache=targets):
            history.add(record)
            if record.image is not None and (record.elapsed_s - shown_at_s >= FRAME_SECONDS or record.step == config.steps):
                shown_at_s = record.elapsed_s
                record.image.save(result)  # lossless, so Stop still leaves a PNG to download
                state = run_state(record.step, config.steps)
                text = f"Step {record.step} of {config.steps} · total loss {record.total:.4g} · {record.elapsed_s:.1f} s"
                shown = shown_at(record.image, final_size)
                yield _outputs(image=shown, download=str(result),
                               status=status_html(text, record.step, config.steps), state=state)  # fmt: skip
                yield _outputs(plot=loss_svg(history))  # after the picture, which then shows 0.1 s sooner
    except RunStopped as error:  # the last image with a finite loss stays on screen and downloadable
        if error.last_image is not None:
            error.last_image.save(result)
        kept = {} if error.last_image is None else {"image": shown_at(error.last_image, final_size), "download": str(result)}
        ended = run_state(state["step"], config.steps, running=False)
        yield _outputs(**kept, status=status_html(f"Stopped: {error}"), state=ended)
        raise user_error(error, duration=None) from error
    except (VGGWeightsError, ImageError, ValueError) as error:
        message = str(error)
        if getattr(error, "remedy", None) == "original":
            message += " Click “Use the original network” beside Network."
        ended = run_state(state["step"], config.steps, running=False)
        yield _outputs(status=status_html(f"Not run: {message}"), state=ended)
        raise user_error(message, duration=None) from error
    except Exception:  # a bug: the status says so, and gradio logs the traceback
        failed = "Failed: an internal error (see the server log)."
        yield _outputs(status=status_html(failed), state=run_state(state["step"], config.steps, running=False))
        raise
    where = ""
    if painted:
        where = f" Painted regions: {len(painted)} styled" + (", the rest kept as the photo." if keep else ".")
        if style2 is not None and len(painted) == 1 and painted[0] != "#0000ff":
            where += " The second style is not used: nothing is painted blue."
    elif stale:
        where = " The painting was made over another picture and is not used: paint over this one under “Where the style goes”."
    done = f"Done: {config.steps} steps in {record.elapsed_s:.1f} s.{where} Download the PNG below the plot."
    ended = run_state(config.steps, config.steps, running=False)
    # the last update carries the whole result: gradio_client's predict() returns only this one
    yield _outputs(image=shown, plot=loss_svg(history), download=str(result), status=status_html(done, config.steps, config.steps),
                   state=ended)  # fmt: skip


def targets_cache(files: list[str | None], config: GatysConfig) -> dict | None:
    """run_gatys's targets_cache for pictures `files` under `config`: the last Run's, if it had
    the same pictures (by their bytes) and target settings, else a new one that replaces it.

    A Run that changes only settings the targets do not depend on (α, β, steps, the start, the
    optimiser: what the study varies most; or none, as when an example is run again) skips the
    style pictures' passes through VGG19, and the photo's at every level but a first that starts
    from it (nst.gatys.engine reads that one from step 0's pass): 0.2 s of the first frame at
    256 px on 2 CPU cores, and at 512 px the coarse level's, then the full size's. A print (a
    picture larger than one tile, nst.gatys.tiles) keeps its targets to itself (None): at 4096 px
    the photo's features alone take 400 MB."""
    if 0 < config.tile_size < config.size:
        return None
    return LAST_TARGETS.get((tuple(file_digest(f) for f in files), config.targets_key(), config.size), dict)


LAST_TARGETS = KeptLast()


def shown_at(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A coarse level's picture enlarged to the final (H, W), so the result keeps its place on the
    page instead of jumping from a thumbnail; the download keeps the picture as it is."""
    if (image.height, image.width) == tuple(size):
        return image
    return image.resize((size[1], size[0]), Image.Resampling.BICUBIC)


def run_state(step: int, steps: int, running: bool = True) -> dict:
    """Where the run is, for Stop's message (gr.State); `running` is False once it has ended."""
    return {"step": step, "steps": steps, "running": running}


def stopped_status(state: dict):
    """The status after Stop: where the run stopped, or nothing new if no run was going on."""
    if not state.get("running"):
        return gr.skip()
    return status_html(f"Stopped at step {state['step']} of {state['steps']}; the image so far is shown above "
                       "and can be downloaded.", state["step"], state["steps"])  # fmt: skip


EDITED = "edited"  # the Preset box once a setting has been changed by hand


def preset_values(name: str, controls: tuple[str, ...]) -> tuple:
    """The values a preset gives the named controls (GatysConfig fields, or log10_ratio), in
    order; EDITED leaves them as they are."""
    if name == EDITED:
        return tuple(gr.skip() for _ in controls)
    config = preset(name, **({} if "size" in PRESETS[name] else {"size": RUN_SIZE}))
    values = {"log10_ratio": round(math.log10(config.alpha / config.beta), 2), "lr": config.lr or 0}
    values = [values[c] if c in values else getattr(config, c) for c in controls]
    return tuple(list(v) if isinstance(v, tuple) else v for v in values)


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
    "random": ("Random VGG19 weights: the study's control. Its pictures take the painting's colours and a noisy texture, "
               "but none of its strokes: they are not style transfer."),
}
