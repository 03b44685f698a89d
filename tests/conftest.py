"""Shared fixtures: synthetic images, the real test images of ../shared/images, random VGG19."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def synthetic_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour gradients plus a few stripes: enough structure for VGG to see."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    channels = [0.5 + 0.5 * np.sin(6 * x * (i + 1) + 4 * y + phase[i]) for i in range(3)]
    return Image.fromarray((np.stack(channels, -1) * 255).astype(np.uint8), "RGB")


@pytest.fixture
def content_image() -> Image.Image:
    return synthetic_image(48, 36, seed=1)


@pytest.fixture
def style_image() -> Image.Image:
    return synthetic_image(30, 40, seed=2)


@pytest.fixture
def image_files(tmp_path, content_image, style_image):
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    content_image.save(content)
    style_image.save(style)
    return content, style


@pytest.fixture
def shared_images() -> Path:
    if not SHARED_IMAGES.is_dir():
        pytest.skip("../shared/images is not present")
    return SHARED_IMAGES


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch):
    """Tests choose VGG weights explicitly; a user's NST_VGG19_WEIGHTS must not leak in."""
    monkeypatch.delenv("NST_VGG19_WEIGHTS", raising=False)
