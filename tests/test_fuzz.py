"""Malformed image files through every entry point: the Python API, the CLI and the served app.

A seeded corpus: valid PNG / JPEG / GIF / WebP files, each truncated and with bytes flipped,
headers that claim gigantic sizes, an empty file and a text file. Each file is either read as a
picture or refused with one line; never a traceback, and the app keeps serving.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app_server import serve_app_with_tiny_generator
from conftest import synthetic_image
from nst.cli import main as cli_main
from nst.images import ImageError, load_image


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) claims width x height, followed by no real data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 64


def _jpeg_with_size(valid: bytes, width: int, height: int) -> bytes:
    """A valid JPEG whose frame header (SOF0) is rewritten to claim width x height."""
    at = valid.index(b"\xff\xc0") + 5
    return valid[:at] + struct.pack(">HH", height, width) + valid[at + 4 :]


def make_corpus(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    files: dict[str, bytes] = {}
    picture = synthetic_image(64, 48)
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("WEBP", "webp")):
        path = folder / f"valid.{suffix}"
        picture.save(path, fmt)
        data = path.read_bytes()
        files[f"valid.{suffix}"] = data
        files[f"truncated.{suffix}"] = data[: len(data) // 2]
        flipped = bytearray(data)
        for index in rng.integers(16, len(data), 12):
            flipped[index] ^= 0xFF
        files[f"flipped.{suffix}"] = bytes(flipped)
    files["giant-header.png"] = _png_with_size(100_000, 100_000)
    files["giant-header.jpg"] = _jpeg_with_size(files["valid.jpg"], 60_000, 60_000)
    files["empty.png"] = b""
    files["text-as.jpg"] = b"<html><body>not a picture</body></html>"
    for mode in ("P", "1"):  # large enough to be decoded smaller, in modes Image.reduce refuses
        path = folder / "mode.png"
        synthetic_image(1600, 1200).convert(mode).save(path)
        files[f"large-{mode}.png"] = path.read_bytes()
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


READ = {"valid.png", "valid.jpg", "valid.gif", "valid.webp", "large-P.png", "large-1.png"}
REFUSED = {"truncated.png", "truncated.jpg", "truncated.gif", "truncated.webp", "giant-header.png", "giant-header.jpg",
           "empty.png", "text-as.jpg"}  # the flipped files may decode to noise or be refused: either is fine  # fmt: skip


def test_python_api_reads_or_refuses_in_one_line(corpus):
    outcomes = {}
    for path in corpus:
        try:
            outcomes[path.name] = load_image(path, max_side=64).mode
        except ImageError as error:  # anything else fails the test
            assert "\n" not in str(error) and path.name in str(error)
            outcomes[path.name] = "refused"
    assert {name for name, outcome in outcomes.items() if outcome == "RGB"} >= READ
    assert {name for name, outcome in outcomes.items() if outcome == "refused"} >= REFUSED


def test_cli_reads_or_refuses_in_one_line(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_VGG19_WEIGHTS", "random")
    style = tmp_path / "style.png"
    synthetic_image(40, 40).save(style)
    for path in corpus:
        status = cli_main(["gatys", "--content", str(path), "--style", str(style), "--out", str(tmp_path / "o.png"),
                           "--size", "32", "--steps", "1", "--levels", "1"])  # fmt: skip
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert status == 0 and not errors or status == 2 and len(errors) == 1 and path.name in errors[0], (path, err)
        assert "Traceback" not in err
        assert status == (2 if path.name in REFUSED else 0 if path.name in READ else status), path.name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app_with_tiny_generator(tmp_path_factory)


@pytest.mark.slow
def test_served_app_refuses_each_bad_file_and_keeps_serving(server, corpus, tmp_path):
    client = Client(server.url, verbose=False)
    style = tmp_path / "style.png"
    synthetic_image(40, 40).save(style)
    for path in corpus:
        try:
            client.predict(content=handle_file(str(path)), style=handle_file(str(style)), style2=None, steps=1, size=64,
                           levels=1, network="random", api_name="/gatys")  # fmt: skip
            assert path.name not in REFUSED, f"{path.name} should have been refused"
        except AppError as error:  # what the person reads
            assert path.name not in READ, (path.name, error)
            assert "\n" not in str(error).strip() and "Traceback" not in str(error) and "/tmp" not in str(error)
    assert "Traceback" not in server.log_text()
    job = client.submit(content=handle_file(str(style)), style=handle_file(str(style)), style2=None, steps=2, size=64,
                        levels=1, network="random", api_name="/gatys")  # fmt: skip
    job.result()
    image = [o for o in job.outputs() if isinstance(o[0], str)][-1][0]  # the last frame (not a gr.skip())
    assert Image.open(image).size == (64, 64)  # a normal request after the whole corpus


@pytest.mark.slow
def test_served_app_takes_a_photo_of_90_megapixels(server, tmp_path):
    """Over Pillow's warning limit (89.5 MP), under its refusal limit (179 MP): accepted, and
    decoded no larger than the run needs."""
    width, height = 10_000, 9_000
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.broadcast_to(ramp[None, :, None], (height, width, 3))
    big = tmp_path / "big.png"
    Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(big, compress_level=1)
    style = tmp_path / "style.png"
    synthetic_image(40, 40).save(style)
    job = Client(server.url, verbose=False).submit(content=handle_file(str(big)), style=handle_file(str(style)), style2=None,
                                                   steps=1, size=64, levels=1, network="random", api_name="/gatys")  # fmt: skip
    job.result()
    image = [o for o in job.outputs() if isinstance(o[0], str)][-1][0]
    result = Image.open(image).size
    assert result[0] == 64 and abs(result[1] - 64 * 0.9) <= 1  # the photo's shape, to a pixel
