"""A tiny unpaired dataset whose mapping is learnable: the same kinds of shapes on a grey
background, red in domain A and blue in domain B."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

RED, BLUE = (220, 40, 40), (40, 40, 220)


def shapes_image(colour, seed: int, size: int = 40) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = rng.integers(0, size - 12, 2)
        w, h = rng.integers(6, 14, 2)
        box = (int(x), int(y), int(x + w), int(y + h))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


def make_dataset(root: Path, n: int = 8, test: int = 2) -> Path:
    """root/trainA, trainB (different shapes in each: unpaired), testA, testB."""
    for split, count, offset in (("train", n, 0), ("test", test, 1000)):
        for domain, colour, shift in (("A", RED, 0), ("B", BLUE, 500)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                shapes_image(colour, seed=offset + shift + i).save(folder / f"{i:03d}.png")
    return root
