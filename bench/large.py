"""Benchmark: print sizes. Peak memory and time against size, for Gatys and CycleGAN.

    python -m bench.large [--quick] [--print] [--device cpu|cuda] [--out bench/results]

Each size runs in a fresh process, so its peak resident memory (or, on a GPU, peak allocated
memory) is its own:
- Gatys: the defaults (one level, the original VGG19, tiles over 512 px) for 3 steps on
  Tübingen and The Starry Night; the seconds the second step takes, the seconds to the first
  record (targets included), the peak, and nst.gatys.memory's estimate of the peak.
- CycleGAN: one translation with a full-size generator (9 blocks, ngf 64, random weights: the
  cost does not depend on them, and no picture of it is shown), tiled over 1024 px.
The largest Gatys size this machine holds, by the estimate, is printed too. With --print, the
"print" preset makes a 2048 px Tübingen in The Starry Night (docs/print-tubingen-starry-night.jpg)
and reports its time, peak and quality measure (nst.quality) beside the app's 256 px default.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import torch

from bench.common import ROOT, machine, parse_bench_args, print_table, result_path, tubingen_and_starry_night, write_json

SIZES = (512, 1024, 2048, 4096)
QUICK_SIZES = (128, 256)
PRINT_PICTURE = ROOT / "docs" / "print-tubingen-starry-night.jpg"


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def one_gatys(size: int, device: str, steps: int = 3, preset_name: str = "study") -> dict:
    """One run in this process: its timings and peak memory."""
    from nst.gatys import preset, run_gatys
    from nst.gatys.memory import estimate_bytes
    from nst.images import load_image
    from nst.quality import judge

    content, style = tubingen_and_starry_night()
    config = preset(preset_name, size=size, device=device, **({"steps": steps} if preset_name == "study" else {}))
    start = time.perf_counter()
    records = list(run_gatys(config, content, style))
    seconds = time.perf_counter() - start
    target = torch.device(config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    report = {"size": size, "pixels": records[-1].size[0] * records[-1].size[1], "seconds": round(seconds, 1),
              "first step s": round(records[0].elapsed_s, 1),
              "s per step": round(records[2].elapsed_s - records[1].elapsed_s, 2),  # an update and an evaluation with its gradient
              "peak GB": round(peak_bytes(target) / 1e9, 2),
              "estimate GB": round(estimate_bytes(config, load_image(content).size) / 1e9, 2)}  # fmt: skip
    if preset_name != "study":
        records[-1].image.save(PRINT_PICTURE, quality=92)
        quality = judge(records[-1].image, load_image(content), load_image(style))
        report |= {"style moved": round(quality.style, 2), "structure kept": round(quality.structure, 2), "steps": config.steps}
    return report


def one_cyclegan(size: int, device: str) -> dict:
    from nst.cyclegan.networks import ResnetGenerator, init_weights
    from nst.cyclegan.translate import prepare_generator, translate
    from nst.images import load_image

    torch.manual_seed(0)
    generator = prepare_generator(init_weights(ResnetGenerator(ngf=64, n_blocks=9)), device)
    photo = load_image(tubingen_and_starry_night()[0])
    picture = photo.resize((size, round(size * photo.height / photo.width)))
    start = time.perf_counter()
    translate(generator, picture)
    return {"size": size, "seconds": round(time.perf_counter() - start, 1),
            "peak GB": round(peak_bytes(next(generator.parameters()).device) / 1e9, 2)}  # fmt: skip


def in_fresh_process(kind: str, size: int, device: str, threads: int) -> dict:
    """One measurement in its own Python, so that the peak is its own."""
    call = {"gatys": f"one_gatys({size}, {device!r})", "print": f"one_gatys({size}, {device!r}, preset_name='print')",
            "cyclegan": f"one_cyclegan({size}, {device!r})"}[kind]  # fmt: skip
    code = f"import json, torch; torch.set_num_threads({threads}); from bench import large; print(json.dumps(large.{call}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        return {"size": size, "failed": (result.stderr.strip().splitlines() or ["?"])[-1][:160]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_bench_args(__doc__.splitlines()[0], lambda p: p.add_argument("--print", action="store_true", help="make the 2048 px print"))
    from nst.device import resolve_device
    from nst.gatys import GatysConfig
    from nst.gatys.memory import available_bytes, largest_size

    sizes = QUICK_SIZES if args.quick else SIZES
    device = resolve_device(args.device)
    about = machine() | {"device": str(device)}
    print(about)
    if device.type != "cuda":
        print("GPU figures: skipped: no CUDA device here (bash bench/gpu.sh runs this benchmark on a GPU)")
    report = {"machine": about, "largest size (estimate, 4:3, defaults)":
              largest_size(GatysConfig(device=device.type), (1024, 768), available_bytes(device))}  # fmt: skip
    print(f"largest Gatys size this machine holds, by the estimate: {report['largest size (estimate, 4:3, defaults)']} px")
    report["gatys"] = [in_fresh_process("gatys", size, device.type, args.threads) for size in sizes]
    print_table("Gatys, 3 steps at the defaults (tiles over 512 px)", report["gatys"])
    report["cyclegan"] = [in_fresh_process("cyclegan", size, device.type, args.threads) for size in sizes]
    print_table("CycleGAN, full-size generator (9 blocks, ngf 64), one translation", report["cyclegan"])
    if args.print and not args.quick:
        report["print"] = [in_fresh_process("print", 2048, device.type, args.threads)]
        print_table(f"The print preset at 2048 px ({PRINT_PICTURE.relative_to(ROOT)})", report["print"])
    write_json(result_path(args.out, "large", device.type, args.quick), report)


if __name__ == "__main__":
    main()
