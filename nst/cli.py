"""Command line: `python -m nst gatys|...`. Parses flags into the library's config dataclasses.

Every flag's default is the dataclass default (shown in --help); a flag left out keeps the
preset's value. Errors a user can fix print one line and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import get_args

from nst.cyclegan.hub import DIRECTIONS, HubOptions
from nst.device import Device, InferencePrecision, resolve_device
from nst.errors import ModelLoadError
from nst.feedforward.magenta import FastConfig
from nst.gatys.config import DEFAULT_SIZE, PRESETS, VGG_WEIGHTS_ENV, GatysConfig, default_size, preset
from nst.gatys.vgg import VGGWeightsError
from nst.options import add_dataclass_flags, flag_names, given_fields
from nst.regions import MaskNote, RegionError

def _add_gatys(subparsers) -> None:
    p = subparsers.add_parser("gatys", help="Gatys et al. (2015) style transfer by optimisation")
    p.add_argument("--content", required=True, help="content image")
    p.add_argument("--style", required=True, action="append",
                   help="style image; repeat to blend several, or, with --mask, one per region in order")
    p.add_argument("--out", required=True, help="output image (.png keeps it lossless)")
    _add_config_flags(p)
    p.add_argument("--save-every", type=int, default=0, metavar="K", help="also save every K-th frame (default: 0, off)")
    p.add_argument("--log-json", metavar="FILE", help="write the config and per-step losses as JSON")
    p.set_defaults(run=_run_gatys)


def _add_config_flags(parser) -> None:
    parser.add_argument("--preset", default="study", choices=list(PRESETS),
                        help="start from these settings; study = the defaults below (default: study)")  # fmt: skip
    options = parser.add_argument_group("options (every GatysConfig field; a flag given overrides the preset)")
    add_dataclass_flags(options, GatysConfig, overrides_only=True,
                        shown_defaults={"vgg_weights": f"env {VGG_WEIGHTS_ENV} or original",
                                        "size": ", ".join(f"{px} on {device}" for device, px in DEFAULT_SIZE.items())})  # fmt: skip


def gatys_config_from_args(args: argparse.Namespace, **defaults) -> GatysConfig:
    """The preset, then `defaults`, then the flags given; a bad value is named by its flag. A size
    that none of them sets is the device's (DEFAULT_SIZE: 1024 px on a CUDA GPU)."""
    given = given_fields(GatysConfig, args)
    if "size" not in {**PRESETS[args.preset], **defaults, **given}:
        defaults["size"] = _with_flag_names(lambda: default_size(resolve_device(given.get("device", "auto"))), GatysConfig)
    return _with_flag_names(lambda: preset(args.preset, **{**defaults, **given}), GatysConfig)


def _with_flag_names(build, *classes):
    try:
        return build()
    except ValueError as error:
        raise ValueError(flag_names(str(error), *classes)) from None


def _run_gatys(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from nst.gatys.engine import RunStopped, run_gatys

    config = gatys_config_from_args(args)
    out = Path(args.out)
    if args.save_every < 0:
        raise ValueError("--save-every must be zero or more")
    out.parent.mkdir(parents=True, exist_ok=True)
    log = {"config": config.to_dict(), "content": args.content, "styles": args.style, "steps": []}
    last_image = None
    bar = tqdm(total=config.steps, unit="step", disable=None)  # disabled when stderr is no terminal
    line_every = max(1, config.steps // 10)  # then a plain line every 10 % instead
    try:
        # Frames every 10 steps even without --save-every, so Ctrl-C still leaves a recent image.
        for record in run_gatys(config, args.content, args.style, image_every=args.save_every or 10):
            log["steps"].append(record.losses())
            if record.image is not None:
                last_image = record.image
                if args.save_every and record.step % args.save_every == 0:
                    record.image.save(out.with_name(f"{out.stem}_{record.step:05d}.png"))
            if record.step:
                bar.update(1)
            bar.set_postfix(total=f"{record.total:.4g}")
            if bar.disable and (record.step % line_every == 0 or record.step == config.steps):
                print(f"step {record.step}/{config.steps}  total loss {record.total:.4g}  {record.elapsed_s:.1f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: saving the last image", file=sys.stderr)
    except RunStopped as error:
        if error.last_image is not None:
            error.last_image.save(out)  # kept; the message (exit status 2) says why the run stopped
        raise
    finally:
        bar.close()
    if last_image is not None:
        last_image.save(out)
    if args.log_json:
        Path(args.log_json).write_text(json.dumps(log, indent=1))
    print(f"saved {out}")


def _add_fast(subparsers) -> None:
    p = subparsers.add_parser("fast", help="feed-forward arbitrary style (Ghiasi et al. 2017): one network pass")
    p.add_argument("--content", required=True, help="content image")
    p.add_argument("--style", required=True, action="append", help="style image; with --mask, one per region, in order")
    p.add_argument("--out", required=True, help="output image (.png keeps it lossless)")
    add_dataclass_flags(p.add_argument_group("options (every FastConfig field)"), FastConfig, overrides_only=True)
    p.set_defaults(run=_run_fast)


def _run_fast(args: argparse.Namespace) -> None:
    from nst.feedforward.magenta import fast_stylize

    config = _with_flag_names(lambda: FastConfig(**given_fields(FastConfig, args)), FastConfig)
    image = fast_stylize(args.content, args.style, config)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    print(f"saved {out}")


def _add_cyclegan(subparsers) -> None:
    p = subparsers.add_parser("cyclegan", help="translate an image with a CycleGAN generator")
    p.add_argument("--model", required=True, help="Hub repo id (owner/name[@revision]), local folder, .safetensors or .pth")
    p.add_argument("--input", required=True, help="input image")
    p.add_argument("--out", required=True, help="output image")
    p.add_argument("--direction", default="AtoB", choices=DIRECTIONS, help="which generator (default: AtoB)")
    p.add_argument("--size", type=int, default=None, help="scale down so the long side is at most this (default: keep)")
    p.add_argument("--device", default="auto", choices=get_args(Device), help="device (default: auto)")
    p.add_argument("--precision", default="auto", choices=get_args(InferencePrecision),
                   help="precision (default: auto, bf16 on CUDA and on CPUs with native bf16)")  # fmt: skip
    p.set_defaults(run=_run_cyclegan)


def _run_cyclegan(args: argparse.Namespace) -> None:
    from nst.cyclegan.hub import load_generator
    from nst.cyclegan.translate import prepare_generator, translate
    from nst.images import load_image

    if args.size is not None and args.size < 16:
        raise ValueError(f"--size must be at least 16; got {args.size}")
    image = load_image(args.input, max_side=args.size)
    loaded = load_generator(args.model, args.direction)
    generator = prepare_generator(loaded.generator, args.device, args.precision)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    translate(generator, image, max_side=args.size).save(out)
    print(f"saved {out} ({loaded.layout} generator{', ' + loaded.label if loaded.label else ''})")


def _add_sweep(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="a grid of Gatys runs varying one or two options (the study's figures)")
    p.add_argument("--content", required=True, help="content image")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--vary", required=True, action="append", metavar="NAME=V1,V2",
                   help="an option and its values (rows; a second --vary gives the columns); log10_ratio is "
                        "log10(alpha/beta); lists of layers are separated by ';'")  # fmt: skip
    p.add_argument("--out", required=True, help="the contact sheet (PNG)")
    p.add_argument("--json", metavar="FILE", help="every cell's settings and loss history")
    _add_config_flags(p)
    p.set_defaults(run=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> None:
    from PIL.PngImagePlugin import PngInfo

    from nst.gatys.sweep import Axis, SweepConfig, contact_sheet, quality_caption, run_sweep, save_report

    if len(args.vary) > 2:
        raise ValueError("--vary at most twice: rows and columns")
    axes = [Axis.parse(text) for text in args.vary]
    sweep = SweepConfig(axes[0], axes[1] if len(axes) > 1 else None, gatys_config_from_args(args, size=128, steps=60))
    planned = len(sweep.cells())  # every cell's config is checked before the first run
    cells = []
    for cell in run_sweep(sweep, args.content, args.style):
        cells.append(cell)
        print(f"cell {len(cells)}/{planned}: {sweep.label(cell)}: loss {cell.losses[-1]['total']:.4g}, "
              f"{quality_caption(cell.quality)}", file=sys.stderr, flush=True)  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recipe = PngInfo()  # the sheet says how it was made, so a picture in the docs can be checked against its command
    recipe.add_text("nst sweep", json.dumps({"content": args.content, "style": args.style, "vary": args.vary,
                                              "size": sweep.base.size, "steps": sweep.base.steps}))  # fmt: skip
    contact_sheet(sweep, cells).save(out, pnginfo=recipe)
    if args.json:
        save_report(sweep, cells, Path(args.json))
    print(f"saved {out}" + (f" and {args.json}" if args.json else ""))


def _add_import_official(subparsers) -> None:
    p = subparsers.add_parser("import-official", help="convert a reference-implementation latest_net_G.pth")
    p.add_argument("checkpoint", help="generator checkpoint of junyanz/pytorch-CycleGAN-and-pix2pix")
    p.add_argument("--out", required=True, help="output folder (config.json, model.safetensors, README.md)")
    add_dataclass_flags(p.add_argument_group("Hugging Face Hub"), HubOptions)
    p.set_defaults(run=_run_import_official)


def _run_import_official(args: argparse.Namespace) -> None:
    from nst.cyclegan.hub import create_repo, import_official, push_folder

    hub = _with_flag_names(lambda: HubOptions(**given_fields(HubOptions, args)), HubOptions)
    if hub.push_to_hub:
        create_repo(hub.hub_repo_id, private=hub.hub_private)
    folder = import_official(Path(args.checkpoint), Path(args.out), hub.hub_repo_id or "OWNER/NAME")
    print(f"saved {folder}")
    if hub.push_to_hub:
        print(f"uploaded to {push_folder(folder, hub.hub_repo_id)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nst", description="Neural style transfer studio (also: python -m nst)")
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_gatys(subparsers)
    _add_sweep(subparsers)
    _add_fast(subparsers)
    _add_cyclegan(subparsers)
    _add_import_official(subparsers)
    return parser


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, MaskNote):
        print(f"note: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():  # what the library says once (a resized mask) is a note, not a warning
            warnings.simplefilter("always", MaskNote)
            warnings.showwarning = _note
            args.run(args)
    except VGGWeightsError as error:
        remedy = f" Run with --vgg-weights {error.remedy}." if error.remedy else ""
        print(f"error: {error}{remedy}", file=sys.stderr)
        return 2
    except RegionError as error:  # names the options to change: as flags here
        print(f"error: {flag_names(str(error), GatysConfig, only=('region_colors', 'keep_color'))}", file=sys.stderr)
        return 2
    except (ValueError, OSError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
