"""Get the networks ready in the background while the page is being served.

On a fresh process the first Run otherwise waits for VGG19 to be read and dequantised and for
PyTorch to set up its convolutions (1.5 s of a 2.2 s first frame at 256 px on 2 cores, against
0.7 s for a later Run), and the first preview for onnxruntime to start (README, Performance:
first frame). One tiny Gatys step and one tiny preview do both; the loaders are cached
(nst.cache.load_once), so the handlers find the networks ready, or wait for the load under way.
"""

from __future__ import annotations

import threading

from PIL import Image

from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import GatysConfig
from nst.gatys.engine import stylize
from nst.gatys.vgg import VGGWeightsError

WARM_UP_SIDE = 64  # px: the set-up is what takes the time, not the pixels


def warm_up() -> None:
    """One step of the app's default Gatys run and one preview, on a small noise picture. A network
    that cannot load is left alone: the Run or the preview that needs it says why, in the app."""
    picture = Image.effect_noise((WARM_UP_SIDE, WARM_UP_SIDE), 64).convert("RGB")
    try:  # on the CPU: a Space's GPU may be granted only inside a Run (spaces.GPU); the network is cached either way
        stylize(GatysConfig(size=WARM_UP_SIDE, steps=1, device="cpu"), picture, picture)
    except VGGWeightsError:
        pass
    try:
        fast_stylize(picture, picture, FastConfig(size=WARM_UP_SIDE))
    except ValueError:  # nst.errors.ModelLoadError (a package missing), or a device it cannot serve
        pass


def start_warm_up() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread
