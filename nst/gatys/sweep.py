"""Experiments: one content and one style image under a sweep of one or two options, as in the
study's figures (a grid of pictures with the varied option along each axis).

The network loads once per process (nst.gatys.vgg caches it) and each distinct set of targets is
computed once for the whole sweep (run_gatys' targets_cache), so a sweep costs less than its
cells run one by one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

from PIL import Image, ImageDraw, ImageFont, ImageOps

from nst.gatys.config import GatysConfig
from nst.gatys.engine import ImageSource, run_gatys
from nst.images import load_image
from nst.quality import Quality, judge

RATIO = "log10_ratio"  # not a config field: alpha / beta = 10 ** value, alpha kept


@dataclass
class Axis:
    """One varied option: a GatysConfig field (or log10_ratio) and the values it takes."""

    name: str
    values: tuple

    def __post_init__(self) -> None:
        fields = {f.name for f in dataclasses.fields(GatysConfig)}
        if self.name != RATIO and self.name not in fields:
            raise ValueError(f"cannot vary {self.name!r}: not a GatysConfig field (nor {RATIO})")
        if not self.values:
            raise ValueError(f"{self.name}: give at least one value")
        self.values = tuple(self.values)

    def apply(self, config: GatysConfig, value) -> GatysConfig:
        if self.name == RATIO:
            return config.replace(beta=config.alpha / 10 ** float(value))
        return config.replace(**{self.name: value})

    def label(self, value) -> str:
        shown = value
        if isinstance(value, tuple):  # layers: relu1_1..relu3_1 (3)
            shown = ",".join(value) if len(value) <= 2 else f"{value[0]}..{value[-1]} ({len(value)})"
        return f"log10(alpha/beta) = {value:g}" if self.name == RATIO else f"{self.name} = {shown}"

    @classmethod
    def parse(cls, text: str) -> "Axis":
        """From the CLI: `name=v1,v2,...`; lists of layers are separated by `;` (`a,b;a,b,c`)."""
        name, _, values = text.partition("=")
        name = name.strip().replace("-", "_")
        if not values:
            raise ValueError(f"an option to vary is written name=value,value,...; got {text!r}")
        hint = float if name == RATIO else get_type_hints(GatysConfig).get(name)
        if hint is None:
            return cls(name, ())  # refused by __post_init__, naming the option
        if get_origin(hint) is tuple or tuple in get_args(hint):
            return cls(name, tuple(tuple(v.split(",")) for v in values.split(";")))
        kind = next((t for t in (hint, *get_args(hint)) if t in (int, float)), str)
        return cls(name, tuple(kind(v) for v in values.split(",")))


@dataclass
class SweepConfig:
    """A sweep: the base settings and the options varied along the rows (and the columns)."""

    rows: Axis
    columns: Axis | None = None
    base: GatysConfig = field(default_factory=lambda: GatysConfig(size=128, steps=60))  # small: many runs

    def cells(self) -> list[tuple[int, int, GatysConfig]]:
        """(row, column, config) of every cell, row by row."""
        columns = self.columns.values if self.columns else (None,)
        return [(r, c, self._config(rv, cv)) for r, rv in enumerate(self.rows.values) for c, cv in enumerate(columns)]

    def label(self, cell: "Cell") -> str:
        """A cell's place in words: its row's value, and its column's."""
        row = self.rows.label(self.rows.values[cell.row])
        return row if self.columns is None else f"{row}, {self.columns.label(self.columns.values[cell.column])}"

    def _config(self, row_value, column_value) -> GatysConfig:
        config = self.rows.apply(self.base, row_value)
        return self.columns.apply(config, column_value) if self.columns else config


@dataclass
class Cell:
    row: int
    column: int
    config: GatysConfig
    image: Image.Image
    losses: list[dict]  # StepRecord.losses() of every step
    quality: Quality  # nst.quality's verdict on the picture: how far its style moved, how much structure it kept


def run_sweep(sweep: SweepConfig, content: ImageSource, style: ImageSource) -> Iterator[Cell]:
    """Run the cells one after another, row by row, yielding each as it finishes."""
    cells = sweep.cells()
    content_image = load_image(content, max_side=max(config.size for _, _, config in cells))
    style_image = load_image(style, max_side=max(config.style_side() for _, _, config in cells))
    targets: dict = {}  # shared: runs with the same layers, network and size compute them once
    for row, column, config in cells:
        records = list(run_gatys(config, content_image, style_image, targets_cache=targets))
        image = records[-1].image
        yield Cell(row, column, config, image, [record.losses() for record in records], judge(image, content_image, style_image))


def contact_sheet(sweep: SweepConfig, cells: list[Cell], cell_px: int = 192) -> Image.Image:
    """The finished cells on a grid, each axis value written beside its row or above its column,
    and under each cell its final total loss and nst.quality's verdict."""
    n_rows, n_columns = len(sweep.rows.values), len(sweep.columns.values) if sweep.columns else 1
    left, top, caption = 270, 30 if sweep.columns else 8, 38
    sheet = Image.new("RGB", (left + n_columns * cell_px, top + n_rows * (cell_px + caption)), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=14)
    for c, value in enumerate(sweep.columns.values if sweep.columns else ()):
        draw.text((left + c * cell_px + 4, 8), sweep.columns.label(value)[:26], fill="black", font=font)
    for r, value in enumerate(sweep.rows.values):
        draw.text((6, top + r * (cell_px + caption) + cell_px // 2), sweep.rows.label(value)[:38], fill="black", font=font)
    for cell in cells:
        x, y = left + cell.column * cell_px, top + cell.row * (cell_px + caption)
        picture = ImageOps.contain(cell.image, (cell_px - 4, cell_px - 4))
        sheet.paste(picture, (x + 2, y + 2))
        draw.text((x + 4, y + picture.height + 4), f"loss {cell.losses[-1]['total']:.4g}", fill="black", font=font)
        draw.text((x + 4, y + picture.height + 21), quality_caption(cell.quality), fill="black", font=font)
    return sheet


def quality_caption(quality: Quality) -> str:
    return f"style {quality.style:.2f} · edges {quality.structure:.2f}"


def save_report(sweep: SweepConfig, cells: list[Cell], path: Path) -> Path:
    """Every cell's settings and loss history as JSON."""
    report = {
        "rows": {"name": sweep.rows.name, "values": list(sweep.rows.values)},
        "columns": {"name": sweep.columns.name, "values": list(sweep.columns.values)} if sweep.columns else None,
        "cells": [{"row": c.row, "column": c.column, "config": c.config.to_dict(), "losses": c.losses,
                   "quality": dataclasses.asdict(c.quality)} for c in cells],  # fmt: skip
    }
    Path(path).write_text(json.dumps(report, indent=1))
    return Path(path)
