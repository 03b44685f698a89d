"""nst.quality: the judges of a picture that no run optimises, on pictures with known answers."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from nst import quality


@pytest.fixture(scope="module")
def pair():
    return "ui/images/tubingen.jpg", "ui/images/starry_night.jpg"


def test_the_content_and_the_style_are_the_ends_of_the_scale(pair):
    content, style = pair
    assert quality.judge(content, content, style) == quality.Quality(style=0.0, structure=pytest.approx(1.0))
    assert quality.style_progress(style, content, style) == pytest.approx(1.0)


def test_structure_is_low_for_noise_and_the_style_image_and_lower_when_moved(pair):
    content, style = pair
    photo = Image.open(content).convert("RGB")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (photo.height, photo.width, 3), dtype=np.uint8))
    assert abs(quality.structure_kept(noise, content)) < 0.1
    assert abs(quality.structure_kept(style, content)) < 0.2
    mirrored = quality.structure_kept(ImageOps.mirror(photo), content)
    blurred = quality.structure_kept(photo.resize((photo.width // 8, photo.height // 8)).resize(photo.size), content)
    assert mirrored < 0.5 < blurred < 1.0  # the layout moved, against the same layout softened


def test_style_progress_is_a_projection(pair, monkeypatch):
    """(P(x) - P(c)) . (P(s) - P(c)) / |P(s) - P(c)|^2, checked with made-up vectors."""
    content, style = pair
    vectors = {"c": np.array([1.0, 0.0]), "s": np.array([3.0, 0.0]), "x": np.array([2.0, 5.0])}
    monkeypatch.setattr(quality, "style_vector", lambda image: vectors[image])
    assert quality.style_progress("x", "c", "s") == pytest.approx(0.5)
