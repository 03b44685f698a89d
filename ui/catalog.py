"""The CycleGAN models the app offers: the catalog in weights/catalog.json plus local checkpoints."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nst.hub import CHECKPOINT_SUFFIXES, INDEX_FILE, direction_labels

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


@dataclass
class CatalogEntry:
    name: str  # what the app shows
    source: str  # a model source for nst.hub.load_generator
    directions: dict[str, str] = field(default_factory=lambda: {"AtoB": "A → B"})  # direction -> label
    description: str = ""
    license: str = ""


def weights_dir() -> Path:
    """Where local checkpoints are looked for: NST_WEIGHTS_DIR, else the project's weights/."""
    return Path(os.environ.get("NST_WEIGHTS_DIR") or DEFAULT_WEIGHTS_DIR)


def load_catalog(path: Path = DEFAULT_WEIGHTS_DIR / "catalog.json") -> list[CatalogEntry]:
    if not path.is_file():
        return []
    fields = CatalogEntry.__dataclass_fields__
    return [CatalogEntry(**{k: v for k, v in item.items() if k in fields}) for item in json.loads(path.read_text())["models"]]


def local_checkpoints(directory: Path | None = None) -> list[CatalogEntry]:
    """Checkpoint folders (config.json or cyclegan.json inside) and generator files in `directory`."""
    directory = directory or weights_dir()
    entries = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if path.is_dir() and (path / INDEX_FILE).is_file():
            labels = direction_labels(json.loads((path / INDEX_FILE).read_text()))
            entries.append(CatalogEntry(f"{path.name} (local)", str(path), labels))
        elif path.is_dir() and (path / "config.json").is_file():
            entries.append(CatalogEntry(f"{path.name} (local)", str(path)))
        elif path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
            entries.append(CatalogEntry(f"{path.name} (local)", str(path)))
    return entries


def available_models() -> list[CatalogEntry]:
    return load_catalog() + local_checkpoints()
