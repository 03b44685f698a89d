"""Image loading: big files decoded no larger than needed, Pillow's bomb limit, errors in one line."""

import pytest
from PIL import Image

from conftest import synthetic_image
from nst.images import ImageError, load_image


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_large_images_are_decoded_no_larger_than_needed(tmp_path, suffix):
    path = tmp_path / f"big{suffix}"
    synthetic_image(4000, 3000).save(path)
    full = load_image(path)
    small = load_image(path, max_side=256)
    assert full.size == (4000, 3000)
    assert 2 * 256 <= max(small.size) < 4 * 2 * 256 and abs(small.width / small.height - 4 / 3) < 0.01
    assert max(load_image(path, max_side=5000).size) == 4000  # never enlarged


def test_exif_rotation_survives_reduced_decoding(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    synthetic_image(1200, 800).save(path, exif=exif)
    assert load_image(path).size == (800, 1200)
    small = load_image(path, max_side=200)
    assert small.height > small.width and max(small.size) >= 400


def test_pillows_bomb_limit_is_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # Pillow refuses above twice this
    synthetic_image(150, 100).save(tmp_path / "ok.png")  # 15,000 pixels: over the warning, under the limit
    synthetic_image(300, 300).save(tmp_path / "bomb.png")
    assert load_image(tmp_path / "ok.png").size == (150, 100)
    with pytest.raises(ImageError, match="bomb.png is too large: images up to .* megapixels are accepted"):
        load_image(tmp_path / "bomb.png")


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "L", "RGBA", "CMYK"])
def test_every_mode_is_decoded_smaller(tmp_path, mode):
    """Image.reduce refuses palette, 1-bit and 16-bit images: those are converted first."""
    picture = synthetic_image(1200, 900)
    image = picture.convert("I").point(lambda v: v * 200).convert("I;16") if mode == "I;16" else picture.convert(mode)
    path = tmp_path / ("image.tif" if mode == "CMYK" else "image.png")
    image.save(path)
    small = load_image(path, max_side=64)
    assert small.mode == "RGB" and 128 <= max(small.size) < 4 * 128
