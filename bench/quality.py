"""The defaults on a set of content/style pairs, judged by nst.quality (style moved, edges kept),
beside the feed-forward preview: `python -m bench.quality [--sheet docs/quality.png]`.

Each pair's row of the sheet: the photo, the feed-forward preview, Gatys' picture at
EARLY_SECONDS (what a person sees while the run goes on) and at the end. `--presets` also runs
every preset on every network on the Tübingen photo in The Starry Night (`--presets-sheet`).
torchvision's network is included when it is on this machine (it cannot be downloaded here).
"""

from __future__ import annotations

import time

import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bench.common import EXAMPLE_IMAGES, machine, parse_bench_args, print_table, result_path, write_json
from nst.device import resolve_device
from nst.feedforward.magenta import FastConfig, fast_stylize
from nst.gatys.config import PRESETS, GatysConfig, default_size, preset
from nst.gatys.engine import run_gatys
from nst.gatys.sweep import quality_caption
from nst.gatys.vgg import imagenet_cache_path
from nst.images import load_image
from nst.quality import judge
from ui.examples import QUALITY_PAIRS, example_files

CELL_PX = 256
EARLY_SECONDS = 15.0  # "a good picture after 15 s": the first picture streamed from then on is judged


def networks() -> list[str]:
    return ["original", *(["torchvision"] if imagenet_cache_path().is_file() else []), "random"]


def judge_pair(content, style, config: GatysConfig, quick: bool = False) -> tuple[dict, list[tuple[str, Image.Image]]]:
    """(figures, captioned pictures) of one pair: the preview, and Gatys' picture early and at the end."""
    row, pictures = {}, [("photo", load_image(content))]
    start = time.perf_counter()
    preview = fast_stylize(content, style, FastConfig(size=config.size))
    seconds = time.perf_counter() - start
    verdict = judge(preview, content, style)
    row |= {"preview style": verdict.style, "preview edges": verdict.structure}
    pictures.append((f"preview, {seconds:.1f} s\n{quality_caption(verdict)}", preview))
    early, early_at, frames = None, None, max(1, config.steps // 20)  # every 3 steps at the defaults: about as often as the app streams (every second)
    for record in run_gatys(config, content, style, image_every=frames):
        if record.image is not None and early is None and (record.elapsed_s >= EARLY_SECONDS or quick):
            early, early_at = record.image, record.elapsed_s
    final = record.image
    for name, picture, seconds in (("early", early, early_at), ("gatys", final, record.elapsed_s)):
        verdict = judge(picture, content, style)
        row |= {f"{name} s": seconds, f"{name} style": verdict.style, f"{name} edges": verdict.structure}
        pictures.append((f"Gatys, {seconds:.1f} s, {picture.width}x{picture.height}\n{quality_caption(verdict)}", picture))
    return row, pictures


def run_pairs(size: int, steps: int | None, device: str, quick: bool) -> tuple[list[dict], list[list]]:
    files = example_files()
    rows, sheet_rows = [], []
    for content_name, style_name in QUALITY_PAIRS[:2] if quick else QUALITY_PAIRS:
        config = GatysConfig(size=size, device=device, **({"steps": steps} if steps else {}))
        row, pictures = judge_pair(files[content_name], files[style_name], config, quick)
        rows.append({"pair": f"{content_name} in {style_name}", **row})
        print_table("", rows[-1:])
        pictures[0] = (f"{content_name} in {style_name}", pictures[0][1])
        sheet_rows.append(pictures)
    return rows, sheet_rows


def layer_shares(side: int = 256) -> list[dict]:
    """Each default style layer's share of the style loss at step 0 (the photo against the
    painting), in paper and in relative units, for every pair: what each unit weights."""
    from nst.gatys.losses import gram_matrix, paper_style_scale, style_layer_loss, style_target_gram
    from nst.gatys.vgg import VGGFeatures, load_vgg19
    from nst.images import fit_long_side, image_to_tensor

    layers, files, rows = GatysConfig().style_layers, example_files(), []
    vgg = VGGFeatures(load_vgg19("original"), layers, GatysConfig().pooling)
    for content_name, style_name in QUALITY_PAIRS:
        photo, painting = load_image(files[content_name]), load_image(files[style_name])
        with torch.no_grad():
            f_photo, f_painting = (vgg(image_to_tensor(image, fit_long_side(image.width, image.height, side)))
                                   for image in (photo, painting))  # fmt: skip
        paper, relative = {}, {}
        for layer in layers:  # E_l of eq. 4 with each unit's denominator, as the engine weighs it
            positions = f_photo[layer].shape[2] * f_photo[layer].shape[3]
            painted = f_painting[layer].shape[2] * f_painting[layer].shape[3]
            gram, target = gram_matrix(f_photo[layer]), style_target_gram(gram_matrix(f_painting[layer]), painted, positions)
            paper[layer] = float(style_layer_loss(gram, target, paper_style_scale(target.shape[0], positions)))
            relative[layer] = float(style_layer_loss(gram, target, float(target.pow(2).sum())))
        rows.append({"pair": f"{content_name} in {style_name}",
                     **{f"paper {layer}": value / sum(paper.values()) for layer, value in paper.items()},
                     **{f"relative {layer}": value / sum(relative.values()) for layer, value in relative.items()}})  # fmt: skip
    return rows


def run_presets(size: int, steps: int | None, device: str) -> tuple[list[dict], list[list]]:
    """Every preset on each network, on the Tübingen photo in The Starry Night at `size`."""
    content, style = EXAMPLE_IMAGES / "tubingen.jpg", EXAMPLE_IMAGES / "starry_night.jpg"
    rows, pictures = [], [[]]

    def add(name: str, picture: Image.Image, seconds: float):
        verdict = judge(picture, content, style)
        rows.append({"picture": name, "style": verdict.style, "edges": verdict.structure, "seconds": seconds})
        pictures[-1].append((f"{name}\n{quality_caption(verdict)}", picture))

    start = time.perf_counter()
    add("feed-forward (Ghiasi et al.)", fast_stylize(content, style, FastConfig(size=size)), time.perf_counter() - start)
    for network in networks():
        pictures.append([])
        for name in PRESETS:
            changes = {"size": size, "vgg_weights": network, "device": device, **({"steps": steps} if steps else {})}
            records = list(run_gatys(preset(name, **changes), content, style))
            add(f"{name} · {network}", records[-1].image, records[-1].elapsed_s)
    return rows, pictures


def sheet(pictures: list[list[tuple[str, Image.Image]]]) -> Image.Image:
    """The rows of pictures on a grid, each captioned; each row as tall as its tallest picture."""
    caption, columns = 40, max(len(row) for row in pictures)
    pictures = [[(text, ImageOps.contain(picture, (CELL_PX - 6, CELL_PX - 6))) for text, picture in row] for row in pictures]
    heights = [max(picture.height for _, picture in row) + 6 + caption for row in pictures]
    out = Image.new("RGB", (columns * CELL_PX, sum(heights)), "white")
    draw, font = ImageDraw.Draw(out), ImageFont.load_default(size=14)
    for r, row in enumerate(pictures):
        for c, (text, picture) in enumerate(row):
            x, y = c * CELL_PX, sum(heights[:r])
            out.paste(picture, (x + 3, y + 3))
            draw.multiline_text((x + 4, y + picture.height + 6), text, fill="black", font=font, spacing=3)
    return out


def main() -> None:
    def add_arguments(parser):
        parser.add_argument("--size", type=int, default=0, help="long side of every picture (default: the device's default)")
        parser.add_argument("--sheet", default="", help="save the pairs' pictures, captioned, to this PNG")
        parser.add_argument("--presets", action="store_true", help="also every preset on every network, on one pair")
        parser.add_argument("--presets-size", type=int, default=256, help="long side of the presets' pictures (default: 256)")
        parser.add_argument("--presets-sheet", default="", help="save the presets' pictures, captioned, to this PNG")

    args = parse_bench_args(__doc__.split("\n\n")[0], add_arguments)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    size, steps = (64, 4) if args.quick else (args.size or default_size(device), None)
    report = {"machine": machine(), "size": size, "early_seconds": EARLY_SECONDS}
    report["pairs"], pair_pictures = run_pairs(size, steps, device.type, args.quick)
    print_table(f"The defaults at {size} px on every pair (style: 0 the photo's, 1 the painting's; edges: 1 the photo's)",
                report["pairs"])  # fmt: skip
    report["layer_shares"] = layer_shares(64 if args.quick else 256)
    print_table("Each style layer's share of the style loss at step 0, in paper and relative units", report["layer_shares"])
    if args.sheet:
        sheet(pair_pictures).save(args.sheet)
        print(f"saved {args.sheet}")
    if args.presets:
        presets_size = 64 if args.quick else args.presets_size
        report["presets_size"] = presets_size
        report["presets"], preset_pictures = run_presets(presets_size, steps, device.type)
        print_table(f"Every preset at {presets_size} px", report["presets"])
        if args.presets_sheet:
            sheet(preset_pictures).save(args.presets_sheet)
            print(f"saved {args.presets_sheet}")
    write_json(result_path(args.out, "quality", device.type, args.quick), report)


if __name__ == "__main__":
    main()
