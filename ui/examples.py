"""Example images the app offers, all from the project itself so a deployed Space has them:
the paintings that style-transfer papers use and the Tübingen photo (copies in ui/images, see
SOURCES.md there), and photos that scikit-image ships in its wheel (CC0 or public domain)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"

# scikit-image's bundled photos: chelsea (CC0, Stefan van der Walt), astronaut (public domain,
# NASA), coffee (CC0, Rachel Michetti), rocket (public domain, SpaceX), motorcycle (the
# Middlebury 2014 stereo benchmark's, as scikit-image ships it).
SKIMAGE_PHOTOS = {"cat": "chelsea.png", "astronaut": "astronaut.png", "coffee": "coffee.png", "rocket": "rocket.jpg",
                  "motorcycle": "motorcycle_left.png"}  # fmt: skip
PAINTINGS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat_matisse")

# The regions example: the Tübingen photo's sky painted red, its town blue, its river left unpainted
REGIONS_EXAMPLE = IMAGES / "tubingen_regions.png"

# (content, style) pairs the Gatys tab shows as clickable examples
GATYS_PAIRS = [
    ("tubingen", "starry_night"),
    ("cat", "the_scream"),
    ("astronaut", "shipwreck"),
    ("coffee", "woman_with_hat_matisse"),
]

# The pairs the defaults are judged on (python -m bench.quality): night and day, faces, close-ups
# and a townscape, in busy and flat paintings.
QUALITY_PAIRS = [
    ("tubingen", "starry_night"),  # day, a townscape
    ("rocket", "shipwreck"),  # night, a dark sea
    ("rocket", "starry_night"),  # night, a night sky
    ("motorcycle", "the_scream"),  # indoor close-up, many small edges
    ("cat", "woman_with_hat_matisse"),  # an animal's face, a flat painting
    ("astronaut", "shipwreck"),  # a portrait
    ("astronaut", "the_scream"),  # a portrait in a face painting
    ("coffee", "starry_night"),  # a close-up, flat background
    ("tubingen", "woman_with_hat_matisse"),  # a townscape, a flat painting
]


def example_files() -> dict[str, Path]:
    """{name: path} of every example image."""
    skimage_data = Path(str(importlib.resources.files("skimage") / "data"))
    files = {name: skimage_data / file for name, file in SKIMAGE_PHOTOS.items()}
    files["tubingen"] = IMAGES / "tubingen.jpg"
    files.update({name: IMAGES / f"{name}.jpg" for name in PAINTINGS})
    return files
