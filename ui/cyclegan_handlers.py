"""The CycleGAN tab's handlers: load a model (on the CPU, outside the shared GPU queue), then
translate the picture with it (the only part that holds a GPU)."""

from __future__ import annotations

import functools
import html
import time

import gradio as gr
import spaces
from PIL import Image

from nst.checkpoints import ModelLoadError
from nst.hub import load_generator
from nst.images import ImageError
from nst.translate import prepare_generator, translate
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
    """Yields (input, output) for the before/after slider and the status line (the API's
    /cyclegan). The model loads on the CPU (cached); only the translation holds a GPU."""
    if not source:
        raise user_error("Please pick a model or type a Hub repo id or local path.")
    source, direction = str(source).strip(), direction or "AtoB"
    try:
        image = open_upload(image_path, "input", int(max_side))
        if image is None:
            raise user_error("Please upload an image to translate.")
        label = loaded_generator(source, direction).label or direction
        start = time.perf_counter()
        output = _translate_on_gpu(source, direction, image, int(max_side))
    except gr.Error as error:  # a bad upload, already worded for the person
        yield gr.skip(), status_html(f"Not translated: {html.unescape(error.message)}")
        raise
    except (ModelLoadError, ImageError) as error:
        yield gr.skip(), status_html(f"Not translated: {error}")
        raise user_error(error, duration=None) from error
    done = f"Done: {label}, {output.width}×{output.height} px in {time.perf_counter() - start:.1f} s."
    yield (image.resize(output.size, Image.Resampling.LANCZOS), output), status_html(done)


def _cyclegan_gpu_seconds(*args, **kwargs) -> int:
    return 30  # one image through one generator: well under a second on a GPU, plus moving it there


@spaces.GPU(duration=_cyclegan_gpu_seconds)
def _translate_on_gpu(source: str, direction: str, image: Image.Image, max_side: int) -> Image.Image:
    return translate(cached_generator(source, direction), image, max_side=max_side)
