"""Small pieces of UI the app's handlers share: an image upload that refuses non-images in a
sentence, errors that read whole in the browser, the run status line with its progress bar, and
result files that do not pile up."""

from __future__ import annotations

import html
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
from PIL import UnidentifiedImageError

from nst.images import ImageError, load_image


def user_error(message: str, duration: float | None = 20) -> gr.Error:
    """A gr.Error for something the person can fix: escaped, because the toast renders HTML and
    would swallow text such as <urlopen error>; and no traceback in the server log."""
    return gr.Error(html.escape(str(message)), duration=duration, print_exception=False)


class PictureUpload(gr.Image):
    """gr.Image (type="filepath") whose upload check names the box instead of a server path."""

    is_template = True  # the frontend is gr.Image's

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError) as error:
            raise user_error(f"The {self.label or 'uploaded'} file is not a picture that can be read "
                             "(PNG, JPEG, WebP, ...): please upload an image.") from error  # fmt: skip


def open_upload(path: str | None, role: str):
    """The uploaded file as an RGB PIL image, None if empty; errors name the role, not the path."""
    if path is None:
        return None
    try:
        return load_image(path)
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
