"""Example images the app offers, from the project itself: photos that scikit-image ships in its
wheel (public-domain or CC0) and style images drawn here procedurally. Nothing is downloaded,
so a deployed Space has them too."""

from __future__ import annotations

import importlib.resources
import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# scikit-image's bundled photos: chelsea (CC0, Stefan van der Walt), coffee (CC0, Rachel
# Michetti), astronaut (public domain, NASA), hubble_deep_field (public domain, NASA/ESA).
PHOTOS = {"cat": "chelsea.png", "coffee": "coffee.png", "astronaut": "astronaut.png"}
COSMOS = "hubble_deep_field.jpg"


def _skimage_file(name: str) -> Path:
    return Path(str(importlib.resources.files("skimage") / "data" / name))


def swirls(size: int = 384, seed: int = 0) -> Image.Image:
    """Short curved brush strokes along a field of vortices, in night blues and yellows."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (20, 40, 90))
    draw = ImageDraw.Draw(image)
    centres = rng.uniform(0, size, (5, 2))
    palette = [(30, 60, 140), (60, 100, 180), (110, 150, 210), (230, 200, 70), (250, 230, 130), (20, 30, 70)]
    for _ in range(2600):
        x, y = rng.uniform(0, size, 2)
        colour = palette[rng.integers(len(palette))]
        points = [(x, y)]
        for _ in range(8):  # follow the swirl: perpendicular to the nearest centre
            cx, cy = centres[np.argmin(((centres - (x, y)) ** 2).sum(1))]
            angle = math.atan2(y - cy, x - cx) + math.pi / 2
            x, y = x + 3 * math.cos(angle), y + 3 * math.sin(angle)
            points.append((x, y))
        draw.line(points, fill=colour, width=int(rng.integers(2, 5)))
    return image.filter(ImageFilter.SMOOTH)


def mosaic(size: int = 384, seed: int = 1, cells: int = 90) -> Image.Image:
    """Voronoi tiles in saturated colours with dark grout, like stained glass."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (cells, 2))
    colours = rng.integers(40, 255, (cells, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    distances = (xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2
    nearest = np.sort(distances, axis=-1)
    owner = distances.argmin(-1)
    tiles = colours[owner].astype(np.float32)
    grout = (np.sqrt(nearest[..., 1]) - np.sqrt(nearest[..., 0])) < 2.5
    tiles[grout] = 25
    return Image.fromarray(tiles.astype(np.uint8), "RGB")


def waves(size: int = 384) -> Image.Image:
    """Bands of wave crests in indigo and foam, after Japanese woodblock prints."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    crest = np.sin(40 * (yy + 0.05 * np.sin(12 * xx))) + 0.6 * np.sin(90 * (yy + 0.02 * np.sin(30 * xx + 3 * yy)))
    shade = (crest - crest.min()) / (crest.max() - crest.min())
    indigo, foam = np.array([25, 45, 95]), np.array([235, 230, 210])
    image = indigo + (foam - indigo) * (shade[..., None] ** 3)
    return Image.fromarray(image.astype(np.uint8), "RGB")


def example_files(directory: Path | None = None) -> dict[str, Path]:
    """Paths of every example image, drawing the procedural ones once into `directory`."""
    directory = Path(directory or Path(tempfile.gettempdir()) / "nst-examples")
    directory.mkdir(parents=True, exist_ok=True)
    files = {name: _skimage_file(file) for name, file in PHOTOS.items()}
    files["cosmos"] = _skimage_file(COSMOS)
    for name, draw in (("swirls", swirls), ("mosaic", mosaic), ("waves", waves)):
        path = directory / f"{name}.png"
        if not path.is_file():
            draw().save(path)
        files[name] = path
    return files


# (content, style) pairs the Gatys tab shows as clickable examples
GATYS_PAIRS = [("cat", "swirls"), ("coffee", "mosaic"), ("astronaut", "waves"), ("cat", "cosmos")]
