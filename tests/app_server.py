"""Launch the real app (`python app.py`) on a free local port for client and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_app_with_tiny_generator(tmp_path_factory, **env):
    """Yield an AppServer whose weights folder holds `tiny`, a random 2-block generator, and
    `tiny-cycle`, both directions of one; `env` sets (or, with None, removes) environment
    variables of the app."""
    import torch

    from nst.cyclegan import ResnetGenerator, init_weights
    from nst.hub import model_card, save_cyclegan, save_generator

    weights = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_generator(init_weights(ResnetGenerator(ngf=8, n_blocks=2)), weights / "tiny", model_card("tiny", "random"))
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    save_cyclegan(g_ab, g_ba, weights / "tiny-cycle", "photo", "painting", model_card("tiny cycle", "random"))
    server = AppServer(weights, tmp_path_factory.mktemp("logs") / "app.log", env)
    yield server
    server.stop()


class AppServer:
    """`python app.py` with random VGG19 weights and a weights folder made by the test."""

    def __init__(self, weights_dir: Path, log_path: Path, extra_env: dict | None = None):
        self.port, self.weights_dir = free_port(), Path(weights_dir)
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "NST_VGG19_WEIGHTS": "random",
               "NST_WEIGHTS_DIR": str(weights_dir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}  # fmt: skip
        for name, value in (extra_env or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self.log_path, self.log = Path(log_path), open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited: {Path(log_path).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("app.py did not start within 180 s")

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
