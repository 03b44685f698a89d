"""Unpaired training data for CycleGAN: a folder in the reference layout (trainA/, trainB/, ...)
or a Hugging Face dataset with one image column per domain.

Augmentation follows the reference recipe (resize to 286, random 256 crop, random horizontal flip,
normalise to [-1, 1]). Every random choice is drawn from (seed, epoch, index), so an epoch's data is
the same however many workers or processes load it, and a resumed run sees exactly what the killed
run would have seen.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from nst.images import load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


class DataError(ValueError):
    """A dataset that cannot be trained on; the message names the folder or column."""


def scan_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(readable images, skipped corrupt files) in `folder`, sorted by name."""
    if not folder.is_dir():
        raise DataError(f"{folder} not found: a CycleGAN data folder needs trainA/ and trainB/ inside")
    good, skipped = [], []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            with Image.open(path) as image:
                image.verify()
            good.append(path)
        except Exception:  # noqa: BLE001 - whatever PIL raises, the file is unusable
            skipped.append(path)
            warnings.warn(f"skipping unreadable image {path}", stacklevel=2)
    if not good:
        raise DataError(f"{folder} holds no readable images ({len(skipped)} corrupt files skipped)")
    return good, skipped


def folder_domains(root: Path, split: str = "train") -> tuple[list[Path], list[Path], int]:
    """Images of domains A and B from root/{split}A and root/{split}B, and how many were skipped."""
    domain_a, skipped_a = scan_images(Path(root) / f"{split}A")
    domain_b, skipped_b = scan_images(Path(root) / f"{split}B")
    return domain_a, domain_b, len(skipped_a) + len(skipped_b)


_SAVED_DATASET_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")  # datasets.save_to_disk


def is_hf_dataset_folder(path: Path) -> bool:
    """A folder written by `datasets` (save_to_disk) or laid out like a Hub dataset repo."""
    saved = any((path / name).is_file() for name in _SAVED_DATASET_FILES)
    return saved or any(path.glob("*.parquet")) or any(path.glob("data/*.parquet"))


def load_domains(name: str, column_a: str, column_b: str, split: str = "train") -> tuple[Sequence, Sequence, int]:
    """Domains A and B from an image folder (reference layout) or a Hugging Face dataset, and the
    number of unreadable images skipped."""
    path = Path(name)
    if path.is_dir() and not is_hf_dataset_folder(path):
        return folder_domains(path, split)
    return (*hub_domains(name, column_a, column_b, split), 0)


class _Column(Sequence):
    """One image column of a `datasets.Dataset`, read lazily."""

    def __init__(self, dataset, column: str):
        self.dataset, self.column = dataset, column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.dataset[int(index)][self.column]


def hub_domains(name: str, column_a: str, column_b: str, split: str = "train") -> tuple[Sequence, Sequence]:
    """Domains from a Hub dataset id (or a local dataset folder) with an image column per domain."""
    import datasets

    path = Path(name)
    if any((path / name).is_file() for name in _SAVED_DATASET_FILES):
        dataset = datasets.load_from_disk(str(path))
        dataset = dataset[split] if isinstance(dataset, datasets.DatasetDict) else dataset
    else:
        dataset = datasets.load_dataset(name, split=split)
    for column in (column_a, column_b):
        if column not in dataset.column_names:
            raise DataError(f"dataset {name} has no column {column!r}; its columns are {dataset.column_names}")
    return _Column(dataset, column_a), _Column(dataset, column_b)


def _open(item) -> Image.Image:
    """A training picture as the app reads any picture: RGB in sRGB (its colour profile applied), turned."""
    return load_image(item)


def augment(image: Image.Image, load_size: int, crop_size: int, rng: random.Random, flip: bool = True) -> torch.Tensor:
    """Resize to load_size x load_size, random crop_size crop, random flip -> (3, H, W) in [-1, 1]."""
    image = image.resize((load_size, load_size), Image.Resampling.BICUBIC)
    x, y = rng.randint(0, load_size - crop_size), rng.randint(0, load_size - crop_size)
    image = image.crop((x, y, x + crop_size, y + crop_size))
    if flip and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class UnpairedDataset(Dataset):
    """An epoch is max(|A|, |B|) pairs: A in a shuffled order, B drawn at random."""

    def __init__(self, domain_a: Sequence, domain_b: Sequence, load_size: int = 286, crop_size: int = 256,
                 seed: int = 0, flip: bool = True):  # fmt: skip
        if crop_size > load_size:
            raise DataError(f"crop size {crop_size} is larger than the load size {load_size}")
        self.domain_a, self.domain_b = domain_a, domain_b
        self.load_size, self.crop_size, self.seed, self.flip = load_size, crop_size, seed, flip
        self.start_epoch(0)

    def start_epoch(self, epoch: int) -> None:
        """Reshuffle for `epoch`; call before building the epoch's data loader iterator.

        (Not named set_epoch: Accelerate calls a dataset's set_epoch with its own loader's
        iteration count, which restarts at 0 in a resumed run.)"""
        self.epoch = epoch
        self.order = list(range(len(self)))
        random.Random(f"{self.seed}-{epoch}").shuffle(self.order)

    def __len__(self) -> int:
        return max(len(self.domain_a), len(self.domain_b))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = random.Random(f"{self.seed}-{self.epoch}-{index}")
        a = self.domain_a[self.order[index] % len(self.domain_a)]
        b = self.domain_b[rng.randrange(len(self.domain_b))]
        return {
            "A": augment(_open(a), self.load_size, self.crop_size, rng, self.flip),
            "B": augment(_open(b), self.load_size, self.crop_size, rng, self.flip),
        }
