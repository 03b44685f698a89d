"""Small pieces of UI the app's handlers share: an image upload that refuses non-images in a
sentence, errors that read whole in the browser, the run status line with its progress bar,
result files that do not pile up, and the last result of a handler kept for its next call."""

from __future__ import annotations

import hashlib
import html
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, UnidentifiedImageError

from nst.gatys.config import default_vgg_weights
from nst.gatys.vgg import NETWORKS, network_name
from nst.images import MAX_PIXELS, ImageError, load_image

NETWORK_LABELS = {"original": "original VGG19 (Gatys')", "torchvision": "torchvision's VGG19 (download)",
                  "random": "random VGG19 (no real style)"}  # fmt: skip


def network_choices() -> list[tuple[str, str]]:
    """The Network radio's (label, vgg_weights) pairs: the named networks, and the file that
    NST_VGG19_WEIGHTS names, if it names one."""
    choices = [(NETWORK_LABELS[name], name) for name in NETWORKS]
    default = network_name(default_vgg_weights())
    if default not in NETWORKS:
        choices.append((f"file {default}", default))
    return choices


def user_error(message: str | Exception, duration: float | None = 20) -> gr.Error:
    """A gr.Error for something the person can fix: escaped, because the toast renders HTML and
    would swallow text such as <urlopen error>; and no traceback in the server log."""
    return gr.Error(html.escape(str(message)), duration=duration, print_exception=False)


class PictureUpload(gr.Image):
    """gr.Image handing the handler the uploaded file's path (the handler decodes it no larger
    than needed), whose upload check names the box instead of a server path."""

    is_template = True  # the frontend is gr.Image's

    # No __init__ of its own: gradio reads a component's props off its __init__ signature.
    # Create it with type="filepath", image_mode=None (the file as it came, not re-encoded).

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError as error:
            raise user_error(unusable_upload(self.label, "too large")) from error
        except (UnidentifiedImageError, OSError) as error:
            raise user_error(unusable_upload(self.label, "not a picture")) from error


def unusable_upload(label: str | None, problem: str) -> str:
    """What the person reads when an uploaded file cannot be used (`problem`: "too large" or "not a picture")."""
    if problem == "too large":
        return f"The {label or 'uploaded'} image is too large: images up to {MAX_PIXELS / 1e6:.0f} megapixels are accepted."
    return f"The {label or 'uploaded'} file is not a picture that can be read (PNG, JPEG, WebP, ...): please upload an image."


def empty_unusable_upload(label: str):
    """An upload listener (wired with preprocess=False, so it sees the file itself) that empties a
    box holding a file that is no usable picture, which would otherwise show a broken-image icon
    and look loaded, and says why in the status line. Returns (the box, the status)."""

    def check(payload):
        path = payload.get("path") if isinstance(payload, dict) else getattr(payload, "path", None)
        if not path:
            return gr.skip(), gr.skip()
        try:
            load_image(path, max_side=64)
        except ImageError as error:
            problem = "too large" if "too large" in str(error) else "not a picture"
            return None, status_html(unusable_upload(label, problem))
        return gr.skip(), gr.skip()

    return check


class KeptLast:
    """The last value made, kept with the key it was made from: asked again under that key, it is
    not made again; another key makes a new one that replaces it. Keys name what a value depends
    on (pictures by their bytes, file_digest), not where it came from."""

    def __init__(self):
        self.key, self.value = None, None

    def get(self, key, make: Callable[[], Any]) -> Any:
        if key != self.key:
            self.value = make()  # first: a make that fails keeps nothing
            self.key = key
        return self.value


def file_digest(path: str | None) -> str | None:
    """An uploaded file by its bytes, not its path (the same picture under another name is the same)."""
    return None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()


def open_upload(path: str | None, role: str, max_side: int):
    """The uploaded file as an RGB PIL image decoded no larger than needed for `max_side`, None
    if empty; errors name the role and the file, not the server's path."""
    if path is None:
        return None
    try:
        return load_image(path, max_side)
    except ImageError as error:
        raise user_error(f"The {role} image cannot be used: {str(error).replace(str(path), Path(path).name)}") from error


RESULTS_DIR = Path(tempfile.gettempdir()) / "nst-app"
KEEP_RESULTS_S = 24 * 3600  # a result PNG stays downloadable this long (Gradio's own cache: see app.py)


def new_result_path(directory: Path = RESULTS_DIR, keep_s: float = KEEP_RESULTS_S) -> Path:
    """Where one run writes its PNG: a fresh folder, after removing those of runs older than
    `keep_s`, so that a Space serving for weeks does not fill its disk."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > keep_s:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=directory)) / "stylized.png"


def status_html(text: str, step: int | None = None, total: int | None = None) -> str:
    """The status line under Run: a progress bar of its own (it covers nothing) and one sentence."""
    bar = "" if step is None else f'<progress value="{step}" max="{total}" aria-label="progress"></progress> '
    return f'<div class="run-status">{bar}<span>{html.escape(text)}</span></div>'
