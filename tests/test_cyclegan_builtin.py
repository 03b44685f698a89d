"""The built-in CycleGAN generator (vintagify's modern photo -> vintage photo): it installs with the
requirements, loads offline and really translates, judged by nst.quality's edges and the change."""

import numpy as np
import pytest
from PIL import ImageOps

from nst.cyclegan.hub import BUILTIN_MODELS, builtin_path, load_generator
from nst.cyclegan.translate import prepare_generator, translate
from nst.errors import ModelLoadError
from nst.images import load_image
from nst.quality import structure_kept
from ui.examples import example_files


def test_the_built_in_generator_is_read_from_its_package():
    path = builtin_path("vintagify")
    assert path.name == "G_A2B_epoch33.pth" and path.parent.parent.name == "vintagify" and path.stat().st_size > 40e6
    loaded = load_generator("vintagify")
    assert (loaded.layout, loaded.label, loaded.direction) == ("reference", "modern photo → vintage photo", "AtoB")
    assert sum(p.numel() for p in loaded.generator.parameters()) > 11e6  # 9 blocks, ngf 64, affine norms
    with pytest.raises(ModelLoadError, match="only direction AtoB"):
        load_generator("vintagify", "BtoA")


def test_a_missing_package_is_said_in_one_line(monkeypatch):
    from nst.cyclegan import hub

    monkeypatch.setitem(hub.BUILTIN_MODELS, "vintagify", hub.BuiltinModel("no_such_package_here", "x.pth", "a → b"))
    with pytest.raises(ModelLoadError, match="comes with the no_such_package_here package: pip install -r requirements.txt"):
        load_generator("vintagify")
    assert "vintagify" in BUILTIN_MODELS


@pytest.mark.parametrize("name", ["tubingen", "cat"])
def test_it_translates_a_photo_keeping_its_structure(name):
    photo = ImageOps.contain(load_image(example_files()[name]), (256, 256))
    vintage = translate(prepare_generator(load_generator("vintagify").generator), photo)
    assert vintage.size == photo.size
    change = np.abs(np.asarray(vintage, float) - np.asarray(photo, float)).mean() / 255
    saturation = lambda image: np.asarray(image.convert("HSV"), float)[..., 1].mean() / 255  # noqa: E731
    assert structure_kept(vintage, photo) > 0.9  # the photo's layout (0.99 and 0.97 measured)
    assert change > 0.03  # visibly changed: 10 and 29 grey levels a pixel on average measured
    assert saturation(vintage) < saturation(photo) - 0.02  # faded colours (0.34 to 0.31, 0.43 to 0.37 measured)
