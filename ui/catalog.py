"""The CycleGAN models the app offers: the catalog in weights/catalog.json plus local checkpoints,
and what the CycleGAN tab says about the one picked."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from nst.cyclegan.hub import CHECKPOINT_SUFFIXES, INDEX_FILE, direction_labels, is_cached_or_reachable, looks_like_path
from ui.examples import example_files

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS_DIR = PROJECT / "weights"
# train/cyclegan.py writes each run's generators to OUTPUT_DIR/export (--output-dir, default outputs/cyclegan)
TRAINING_OUTPUTS = (Path("outputs"), PROJECT / "outputs")

# What the CycleGAN tab suggests when a model is out of reach offline: what can be done without the internet
OFFLINE_WAYS = (
    "Without the internet you can train one from two folders of pictures (`DATA/trainA`, `DATA/trainB`) after "
    "`pip install -r requirements-train.txt`:\n\n"
    "`python train/cyclegan.py --dataset DATA --output-dir outputs/NAME --epochs 5 --decay-epochs 0 --load-size 143 "
    "--crop-size 128 --n-blocks 6`\n\n"
    "When it ends, `outputs/NAME/export` appears in this list. A reference-implementation checkpoint you already have "
    "converts with `python -m nst import-official latest_net_G.pth --out weights/NAME`."
)


DEFAULT_EXAMPLES = ("tubingen", "cat", "starry_night", "shipwreck")  # a model whose domains are unknown: photos and paintings


@dataclass
class CatalogEntry:
    name: str  # what the app shows
    source: str  # a model source for nst.cyclegan.hub.load_generator
    directions: dict[str, str] = field(default_factory=lambda: {"AtoB": "A → B"})  # direction -> label
    description: str = ""  # what goes in and what comes out
    license: str = ""
    examples: list[str] = field(default_factory=lambda: list(DEFAULT_EXAMPLES))  # ui.examples names of inputs it is for
    examples_label: str = "Examples"


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
            try:
                labels = direction_labels(json.loads((path / INDEX_FILE).read_text()))
            except (ValueError, AttributeError):  # a broken index: offered anyway, loading says what is wrong
                labels = direction_labels()
            entries.append(CatalogEntry(f"{path.name} (local)", str(path), labels))
        elif path.is_dir() and (path / "config.json").is_file():
            entries.append(CatalogEntry(f"{path.name} (local)", str(path)))
        elif path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
            entries.append(CatalogEntry(f"{path.name} (local)", str(path)))
    return entries


def trained_exports() -> list[CatalogEntry]:
    """The exports of training runs on this machine (outputs/RUN/export), labelled as trained here."""
    folders = {folder.resolve() for outputs in TRAINING_OUTPUTS if outputs.is_dir()
               for folder in outputs.glob("*/export") if (folder / INDEX_FILE).is_file()}  # fmt: skip
    entries = []
    for folder in sorted(folders):
        try:
            labels = direction_labels(json.loads((folder / INDEX_FILE).read_text()))
        except (ValueError, AttributeError):
            labels = direction_labels()
        entries.append(CatalogEntry(f"{folder.parent.name} (trained here)", str(folder), labels))
    return entries


def available_models() -> list[CatalogEntry]:
    return load_catalog() + local_checkpoints() + trained_exports()


# ----------------------------------------------------------------------------- the CycleGAN tab's model picker


def model_choices() -> list[tuple[str, str]]:
    return [(entry.name, entry.source) for entry in available_models()]


def _entry(source: str) -> CatalogEntry | None:
    return next((entry for entry in available_models() if entry.source == source), None)


def model_info(source: str):
    """What the tab shows for the model picked: the direction radio with only the directions it
    has (labelled from the catalog), a note on what goes in and comes out (and how to get it when it
    is neither on this machine nor reachable), the examples of its input domain, and the cycle's
    place: the gallery for a model with both directions, a sentence in its place otherwise."""
    entry = _entry(source)
    labels = entry.directions if entry else direction_labels()
    choices = [(f"{direction}: {label}", direction) for direction, label in labels.items()]
    note = f"{entry.description} Licence: {entry.license or 'see the model card'}." if entry and entry.description else ""
    source = str(source or "").strip()
    if source and looks_like_path(source) and not Path(source).expanduser().exists():
        note += f"\n\n**No file or folder `{source}` on this machine.** Pick a model from the list, or give an existing path."
    elif source and not is_cached_or_reachable(source):
        note += f"\n\n**`{source}` is not on this machine and the Hub cannot be reached.** {OFFLINE_WAYS}"
    two_way = set(labels) == {"AtoB", "BtoA"}
    cycle_note = "" if two_way else f"{SINGLE_GENERATOR} ({next(iter(labels.values()))})."
    examples, label = example_inputs(source)
    return (gr.Radio(choices=choices, value=choices[0][1]), note, gr.Dataset(samples=[[str(path)] for path in examples], label=label),
            gr.update(visible=two_way), cycle_note)  # fmt: skip


SINGLE_GENERATOR = "No cycle to show: this model has one generator, so nothing brings the translation back"


def example_inputs(source: str | None) -> tuple[list[Path], str]:
    """(the example pictures for a model's input domain, their label): the catalog's, or photos
    and paintings for a model it does not describe."""
    entry = _entry(str(source or "").strip())
    names, label = (entry.examples, entry.examples_label) if entry else (list(DEFAULT_EXAMPLES), "Examples")
    files = example_files()
    return [files[name] for name in names], label
