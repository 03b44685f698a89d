"""Every preset on every network, judged by nst.quality (style moved, edges kept), with the
feed-forward picture beside them: `python -m bench.quality [--size 256] [--sheet docs/presets.png]`.

torchvision's network is included when it is on this machine (it cannot be downloaded here).
"""

from __future__ import annotations

import time

import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bench.common import EXAMPLE_IMAGES, machine, parse_bench_args, print_table, result_path, write_json
from nst.device import resolve_device
from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import PRESETS, preset
from nst.gatys.engine import run_gatys
from nst.gatys.sweep import quality_caption
from nst.gatys.vgg import imagenet_cache_path
from nst.quality import judge

CELL_PX = 256


def networks() -> list[str]:
    return ["original", *(["torchvision"] if imagenet_cache_path().is_file() else []), "random"]


def run_all(size: int, steps: int | None, device: str) -> tuple[list[dict], list[list[tuple[str, Image.Image]]]]:
    """(a row of figures per picture, rows of (caption, picture)) for the content and the
    feed-forward picture, then every preset on each network."""
    content, style = EXAMPLE_IMAGES / "tubingen.jpg", EXAMPLE_IMAGES / "starry_night.jpg"
    rows, pictures = [], [[]]

    def add(name: str, picture: Image.Image, seconds: float, losses: tuple[float, float] | None = None):
        verdict = judge(picture, content, style)
        rows.append({"picture": name, "style": verdict.style, "edges": verdict.structure, "seconds": seconds,
                     "first loss": losses and losses[0], "last loss": losses and losses[1]})  # fmt: skip
        pictures[-1].append((f"{name}\n{quality_caption(verdict)}", picture))

    add("content (the photo)", Image.open(content).convert("RGB"), 0.0)
    start = time.perf_counter()
    add("feed-forward (Ghiasi et al.)", fast_stylize(content, style, FastConfig(size=size)), time.perf_counter() - start)
    for network in networks():
        pictures.append([])
        for name in PRESETS:
            changes = {"size": size, "vgg_weights": network, "device": device, **({"steps": steps} if steps else {})}
            records = list(run_gatys(preset(name, **changes), content, style))
            add(f"{name} · {network}", records[-1].image, records[-1].elapsed_s, (records[0].total, records[-1].total))
    return rows, pictures


def sheet(pictures: list[list[tuple[str, Image.Image]]]) -> Image.Image:
    """The rows of pictures on a grid, each captioned with its name and its verdict."""
    caption, columns = 40, max(len(row) for row in pictures)
    pictures = [[(text, ImageOps.contain(picture, (CELL_PX - 6, CELL_PX - 6))) for text, picture in row] for row in pictures]
    height = max(picture.height for row in pictures for _, picture in row) + 6 + caption
    out = Image.new("RGB", (columns * CELL_PX, len(pictures) * height), "white")
    draw, font = ImageDraw.Draw(out), ImageFont.load_default(size=14)
    for r, row in enumerate(pictures):
        for c, (text, picture) in enumerate(row):
            x, y = c * CELL_PX, r * height
            out.paste(picture, (x + 3, y + 3))
            draw.multiline_text((x + 4, y + picture.height + 6), text, fill="black", font=font, spacing=3)
    return out


def main() -> None:
    def add_arguments(parser):
        parser.add_argument("--size", type=int, default=256, help="long side of every picture (default: 256)")
        parser.add_argument("--sheet", default="", help="also save the pictures, captioned, to this PNG")

    args = parse_bench_args(__doc__.split("\n\n")[0], add_arguments)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    size, steps = (64, 4) if args.quick else (args.size, None)
    rows, pictures = run_all(size, steps, device.type)
    print_table(f"nst.quality at {size} px (style: 0 the photo's, 1 the painting's; edges: 1 the photo's, 0 none)", rows)
    write_json(result_path(args.out, "quality", device.type, args.quick), {"machine": machine(), "size": size, "rows": rows})
    if args.sheet:
        sheet(pictures).save(args.sheet)
        print(f"saved {args.sheet}")


if __name__ == "__main__":
    main()
