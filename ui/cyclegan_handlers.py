"""The CycleGAN tab's handlers: load a model (on the CPU, outside the shared GPU queue), then
translate the picture with it (the only part that holds a GPU)."""

from __future__ import annotations

import functools
import html
import time

import gradio as gr
import spaces
from PIL import Image

from nst.cyclegan.hub import direction_labels, load_generator
from nst.cyclegan.translate import WEBCAM_SIDE, cycle_l1, prepare_generator, translate
from nst.errors import ModelLoadError
from nst.images import ImageError
from ui.catalog import SINGLE_GENERATOR, example_inputs
from ui.widgets import open_upload, status_html, user_error


@functools.lru_cache(maxsize=4)
def loaded_generator(source: str, direction: str):
    """Read from the Hub cache, a folder or a file, on the CPU (no GPU held while downloading)."""
    return load_generator(source, direction)


@functools.lru_cache(maxsize=4)
def cached_generator(source: str, direction: str):
    """Ready for inference on the GPU if there is one; kept, so a second image does not reload."""
    return prepare_generator(loaded_generator(source, direction).generator)


def fetch_model(image_path: str | None, source: str, direction: str):
    """First half of Translate, outside the shared GPU queue: check the inputs, load the model."""
    if image_path is None:
        raise user_error("Please upload an image to translate.")
    if not source:
        raise user_error("Please pick a model or type a Hub repo id or local path.")
    yield status_html(f"Loading {source}...")
    try:
        loaded_generator(str(source).strip(), direction or "AtoB")
    except ModelLoadError as error:
        yield status_html(f"Not loaded: {error}")
        raise user_error(error, duration=None) from error
    yield status_html("Translating...")


def cyclegan(image_path: str | None, source: str, direction: str, max_side: int):
    """Yields (input, output) for the before/after slider, the status line, and the cycle:
    input, translation and its way back through the other generator with their L1 distance
    (the API's /cyclegan). The models load on the CPU (cached); only the translation holds a GPU."""
    if not source:
        raise user_error("Please pick a model or type a Hub repo id or local path.")
    source, direction = str(source).strip(), direction or "AtoB"
    back = "BtoA" if direction == "AtoB" else "AtoB"
    try:
        image = open_upload(image_path, "input", int(max_side))
        if image is None:
            raise user_error("Please upload an image to translate.")
        label = loaded_generator(source, direction).label
        has_cycle = _loads(source, back)
        start = time.perf_counter()
        output, reconstruction = _translate_on_gpu(source, direction, image, int(max_side), back if has_cycle else None)
    except gr.Error as error:  # a bad upload, already worded for the person
        yield gr.skip(), status_html(f"Not translated: {html.unescape(error.message)}"), gr.skip(), gr.skip()
        raise
    except (ModelLoadError, ImageError) as error:
        yield gr.skip(), status_html(f"Not translated: {error}"), gr.skip(), gr.skip()
        raise user_error(error, duration=None) from error
    done = f"Done: {label or direction}, {output.width}×{output.height} px in {time.perf_counter() - start:.1f} s."
    shown = image.resize(output.size, Image.Resampling.LANCZOS)
    yield (shown, output), status_html(done), *_cycle_view(shown, output, reconstruction, direction, source)


def _loads(source: str, direction: str) -> bool:
    try:
        loaded_generator(source, direction)
    except ModelLoadError:  # a single generator: no way back
        return False
    return True


def _cycle_view(image: Image.Image, output: Image.Image, reconstruction: Image.Image | None, direction: str, source: str):
    """(gallery items, note) of the cycle x -> G(x) -> F(G(x)), labelled with `source`'s domains."""
    generic = direction_labels()
    there = loaded_generator(source, direction).label or generic[direction]
    if reconstruction is None:  # the tab shows this sentence in the cycle's place (ui.catalog.model_info)
        return [], f"{SINGLE_GENERATOR} ({there})."
    back_direction = "BtoA" if direction == "AtoB" else "AtoB"
    back = loaded_generator(source, back_direction).label or generic[back_direction]
    distance = cycle_l1(image, reconstruction)
    note = (f"Cycle L1 distance |F(G(x)) − x| = {distance:.4f} (mean over pixels and channels, 0–1 scale): "
            "how far the way back misses the input, the quantity the cycle-consistency loss makes small.")  # fmt: skip
    return [(image, "input"), (output, f"translation ({there})"), (reconstruction, f"back again ({back})")], note


def _cyclegan_gpu_seconds(*args, **kwargs) -> int:
    return 30  # one image through two generators: well under a second on a GPU, plus moving them there


@spaces.GPU(duration=_cyclegan_gpu_seconds)
def _translate_on_gpu(source: str, direction: str, image: Image.Image, max_side: int, back: str | None):
    """The translation, and with `back` (the other direction) its reconstruction; one GPU slot."""
    output = translate(cached_generator(source, direction), image, max_side=max_side)
    return output, (translate(cached_generator(source, back), output) if back else None)




def example_input(index: int | None, source: str) -> str | None:
    """The example picked in the tab's examples, which are the chosen model's (ui.catalog)."""
    examples, _ = example_inputs(source)
    return str(examples[index]) if index is not None and 0 <= index < len(examples) else None


def translate_frame(frame: Image.Image | None, source: str, direction: str, rate: dict | None):
    """One webcam frame through the generator: (translated frame at the frame's size, frames per
    second, the rate's state: an exponential average of the handler's own time)."""
    if frame is None:
        return gr.skip(), gr.skip(), rate
    if not source:
        raise user_error("Please pick a model first.")
    start = time.perf_counter()
    try:
        loaded_generator(str(source).strip(), direction or "AtoB")
        output, _ = _translate_on_gpu(str(source).strip(), direction or "AtoB", frame.convert("RGB"), WEBCAM_SIDE, None)
    except (ModelLoadError, ImageError) as error:
        raise user_error(error, duration=None) from error
    seconds = time.perf_counter() - start
    average = seconds if not rate else 0.8 * rate["seconds"] + 0.2 * seconds
    shown = output.resize(frame.size, Image.Resampling.BILINEAR)
    return shown, f"{1 / average:.1f} frames per second (translated at {WEBCAM_SIDE} px)", {"seconds": average}
