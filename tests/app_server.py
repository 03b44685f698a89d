"""Launch the real app (`python app.py`) on a free local port for client and browser tests."""

from __future__ import annotations

from pathlib import Path

from bench.app_process import AppProcess


def serve_app_with_tiny_generator(tmp_path_factory, **env):
    """Yield an AppServer whose weights folder holds `tiny`, a random 2-block generator, and
    `tiny-cycle`, both directions of one; `env` sets (or, with None, removes) environment
    variables of the app."""
    import torch

    from nst.cyclegan.hub import model_card, save_cyclegan, save_generator
    from nst.cyclegan.networks import ResnetGenerator, init_weights

    weights = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_generator(init_weights(ResnetGenerator(ngf=8, n_blocks=2)), weights / "tiny", model_card("tiny", "random"))
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    save_cyclegan(g_ab, g_ba, weights / "tiny-cycle", "photo", "painting", model_card("tiny cycle", "random"))
    server = AppServer(weights, tmp_path_factory.mktemp("logs") / "app.log", env)
    yield server
    server.stop()


class AppServer(AppProcess):
    """`python app.py` with random VGG19 weights, offline, and a weights folder made by the test."""

    def __init__(self, weights_dir: Path, log_path: Path, extra_env: dict | None = None):
        self.weights_dir = Path(weights_dir)
        env = {"NST_VGG19_WEIGHTS": "random", "NST_WEIGHTS_DIR": str(weights_dir), "HF_HUB_OFFLINE": "1"}
        super().__init__(log_path, {**env, **(extra_env or {})})
