"""Image loading: big files decoded no larger than needed, Pillow's bomb limit, errors in one line."""

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_image
from icc import display_p3_profile
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


def adobe_rgb_profile() -> bytes:
    """Adobe RGB (1998), as a camera embeds it: scikit-image's rocket.jpg carries it."""
    import importlib.resources

    return Image.open(str(importlib.resources.files("skimage") / "data" / "rocket.jpg")).info["icc_profile"]


@pytest.mark.parametrize(("make_profile", "name"), [(adobe_rgb_profile, "Adobe RGB (1998)"), (display_p3_profile, "Display P3 (test)")])
def test_a_photo_with_a_colour_profile_is_read_in_srgb(tmp_path, make_profile, name):
    """A photo as a camera (Adobe RGB) or a phone (Display P3) writes it: its numbers are in its
    profile's colours, which are wider than sRGB's; read, it is converted to sRGB, once."""
    import io

    from PIL import ImageCms

    profile = make_profile()
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip() == name
    picture = synthetic_image(64, 48, seed=4)
    picture.save(tmp_path / "tagged.png", icc_profile=profile)
    picture.save(tmp_path / "untagged.png")
    tagged, untagged = tmp_path / "tagged.png", tmp_path / "untagged.png"

    def in_srgb(image):
        return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"),
                                         outputMode="RGB")  # fmt: skip

    read = load_image(tagged)
    assert np.array_equal(np.asarray(read), np.asarray(in_srgb(Image.open(untagged)))) and "icc_profile" not in read.info
    # a wider gamut: the same numbers are more saturated colours, so they differ in sRGB
    assert np.abs(np.asarray(read, float) - np.asarray(load_image(untagged), float)).max() > 10
    assert np.array_equal(np.asarray(load_image(read)), np.asarray(read))  # converted once, never twice
    small = in_srgb(Image.open(untagged).reduce(2))
    assert np.array_equal(np.asarray(load_image(tagged, max_side=16)), np.asarray(small))  # the decode-small path too


def test_a_heic_photo_opens(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    picture = synthetic_image(64, 48, seed=5)
    pillow_heif.from_pillow(picture).save(tmp_path / "photo.heic", quality=-1)  # lossless
    read = load_image(tmp_path / "photo.heic")
    difference = np.abs(np.asarray(read, float) - np.asarray(picture, float)).mean()
    assert read.size == (64, 48) and difference < 8, difference  # HEVC's colour subsampling: a few levels
