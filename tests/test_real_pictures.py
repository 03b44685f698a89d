"""Gatys on the original VGG19 makes real pictures: judged by nst.quality, which no run optimises.

At 192 px, so that the suite stays quick (8-17 s a run on 2 cores); the README's figures are at
256 px (bench/quality.py). Measured at 192 px: study 0.72 / 0.48, gatys2015 0.86 / 0.27, classic
0.66 / 0.69 (style / edges); the photo itself is 0 / 1, noise about 1 / 0.
"""

import pytest

from nst.gatys.config import PRESETS, preset
from nst.gatys.engine import run_gatys
from nst.quality import judge

pytestmark = pytest.mark.slow  # full runs on the original network

CONTENT, STYLE = "ui/images/tubingen.jpg", "ui/images/starry_night.jpg"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_paints_the_photo_on_the_original_network(name):
    """The loss falls, and the picture is neither noise nor the photo: its style moved toward the
    painting's and its edges still follow the photo's."""
    records = list(run_gatys(preset(name, size=192, vgg_weights="original"), CONTENT, STYLE))
    finest = [r.total for r in records if r.size == records[-1].size]  # the level whose picture is kept
    assert finest[-1] < 0.5 * finest[0]
    verdict = judge(records[-1].image, CONTENT, STYLE)
    assert verdict.style > 0.5, verdict  # not the photo (0)
    assert verdict.structure > 0.2, verdict  # not noise (0)


def test_the_default_run_is_a_stylisation():
    """GatysConfig's defaults (the study's, the original network), as the CLI and the app run them."""
    config = preset("study", size=192)
    assert config.vgg_weights == "original"
    image = list(run_gatys(config, CONTENT, STYLE))[-1].image
    verdict = judge(image, CONTENT, STYLE)
    assert verdict.style > 0.6 and verdict.structure > 0.35, verdict


@pytest.mark.parametrize("name", list(PRESETS))
def test_no_preset_ends_in_noise_on_the_random_network(name):
    """The random network paints no style (README, Networks), but no preset turns its picture to
    noise: the photo's edges stay (0.89 to 1.0 at 256 px; 0.42 from noise in 40 steps at 96 px)."""
    image = list(run_gatys(preset(name, size=96, steps=40, vgg_weights="random"), CONTENT, STYLE))[-1].image
    assert judge(image, CONTENT, STYLE).structure > 0.3
