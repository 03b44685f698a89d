"""Benchmark: CycleGAN inference and training against the reference-style baseline, in one run.

    python -m bench.cyclegan            # CPU inference always; GPU throughput when CUDA is present
    python -m bench.cyclegan --quick    # small sizes, a smoke test of the script

The baseline is the textbook way: the 9-block generator with nn.InstanceNorm2d, fp32, contiguous
tensors, `model(x)` under no_grad; for training, the reference recipe in fp32 at batch 1.
Weights are random (speed does not depend on them); the bf16 output is compared with fp32 in
8-bit grey levels. Prints tables and writes bench/results/cyclegan-<cpu|gpu>.json.
"""

from __future__ import annotations

import copy
import functools
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

from bench.common import interleaved, machine, parse_bench_args, print_table, result_path, timed, write_json
from nst.cyclegan.networks import ResnetGenerator, init_weights
from nst.cyclegan.training import (
    CycleGANTrainConfig, Discriminators, Generators, ImagePool, training_step,
)  # fmt: skip
from nst.cyclegan.translate import WEBCAM_SIDE, prepare_generator, translate
from nst.device import resolve_device


def with_instance_norm(module: nn.Module) -> nn.Module:
    """A copy using nn.InstanceNorm2d, as the reference implementation writes it."""
    module = copy.deepcopy(module)
    for parent in module.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.GroupNorm):
                setattr(parent, name, nn.InstanceNorm2d(child.num_channels))
    return module


def webcam_fps(frames: int, device: str = "cpu") -> dict:
    """Frames per second of the CycleGAN tab's live webcam path (ui.cyclegan_handlers): a 640x480
    frame, translated at 256 px by a 9-block generator, shown back at 640x480."""
    torch.manual_seed(0)
    fast = prepare_generator(init_weights(ResnetGenerator()).eval(), device, "auto")
    frame = Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    translate(fast, frame, max_side=WEBCAM_SIDE)  # warm-up
    start = time.perf_counter()
    for _ in range(frames):
        translate(fast, frame, max_side=WEBCAM_SIDE).resize(frame.size, Image.Resampling.BILINEAR)
    seconds = (time.perf_counter() - start) / frames
    return {"device": device, "frame": "640x480", "translated at": WEBCAM_SIDE, "s/frame": seconds,
            "frames per second": 1 / seconds, "target": ">= 4"}  # fmt: skip


def cpu_inference(size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    generator = init_weights(ResnetGenerator()).eval()
    baseline = with_instance_norm(generator)
    fast = prepare_generator(generator, "cpu", "auto")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None].contiguous()

    def run_baseline():
        with torch.no_grad():
            return baseline(x)

    cpu = torch.device("cpu")
    medians = interleaved({"baseline": lambda: timed(run_baseline, cpu), "ours": lambda: timed(lambda: translate(fast, image), cpu)},
                          repeats)  # fmt: skip
    reference = ((run_baseline()[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).numpy()
    difference = np.abs(np.asarray(translate(fast, image)).astype(float) - reference)
    return {"size": f"{size}x{size}", "baseline s": medians["baseline"], "ours s": medians["ours"],
            "speed-up": medians["baseline"] / medians["ours"], "ours dtype": str(next(fast.parameters()).dtype),
            "mean |diff| levels": float(difference.mean()), "max |diff| levels": float(difference.max())}  # fmt: skip


def gpu_inference(size: int, batches: list[int], repeats: int) -> list[dict]:
    device = torch.device("cuda")
    torch.manual_seed(0)
    generator = init_weights(ResnetGenerator()).eval()
    baseline = with_instance_norm(generator).to(device)
    fast = prepare_generator(generator, "cuda", "auto")
    rows = []
    for batch in batches:
        x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
        x_fast = x.to(next(fast.parameters()).dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            baseline(x), fast(x_fast)  # warm-up (cuDNN autotuning)
            medians = interleaved({"baseline": lambda: timed(lambda: baseline(x), device),
                                   "ours": lambda: timed(lambda: fast(x_fast), device)}, repeats)  # fmt: skip
        rows.append({"batch": batch, "baseline img/s": batch / medians["baseline"], "ours img/s": batch / medians["ours"],
                     "speed-up": medians["baseline"] / medians["ours"]})  # fmt: skip
    return rows


def train_throughput(size: int, batch: int, bf16: bool, channels_last: bool, reference_norm: bool, steps: int) -> float:
    """Training images per second of the full CycleGAN step (generators, then discriminators)."""
    device = torch.device("cuda")
    config = CycleGANTrainConfig(crop_size=size, load_size=size, batch_size=batch)
    torch.manual_seed(0)
    generators, discriminators = Generators(config), Discriminators(config)
    if reference_norm:
        generators, discriminators = with_instance_norm(generators), with_instance_norm(discriminators)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    generators.to(device, memory_format=memory_format)
    discriminators.to(device, memory_format=memory_format)
    opt_g = torch.optim.Adam(generators.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminators.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_a = (torch.rand(batch, 3, size, size, device=device) * 2 - 1).contiguous(memory_format=memory_format)
    real_b = (torch.rand(batch, 3, size, size, device=device) * 2 - 1).contiguous(memory_format=memory_format)

    pools = (ImagePool(config.pool_size), ImagePool(config.pool_size, seed=1))
    autocast = functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16, enabled=bf16)

    def step():
        training_step(generators, discriminators, opt_g, opt_d, pools, real_a, real_b, config, autocast=autocast)

    for _ in range(3):
        step()
    seconds = timed(lambda: [step() for _ in range(steps)], device)
    return batch * steps / seconds


def gpu_training(size: int, steps: int) -> list[dict]:
    torch.backends.cudnn.benchmark = True
    settings = [
        ("reference: fp32, batch 1, InstanceNorm2d", 1, False, False, True),
        ("ours: bf16, batch 1, channels-last", 1, True, True, False),
        ("ours: bf16, batch 8, channels-last", 8, True, True, False),
        ("ours: bf16, batch 8, contiguous", 8, True, False, False),
    ]
    rows = [{"setting": name, "img/s": train_throughput(size, b, bf, cl, ref, steps)} for name, b, bf, cl, ref in settings]
    for row in rows:
        row["speed-up"] = row["img/s"] / rows[0]["img/s"]
    return rows


def main() -> None:
    args = parse_bench_args(__doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    report = {"machine": machine(), "device": device.type}
    print(report)
    report["cpu_inference"] = cpu_inference(64 if args.quick else 512, repeats=2 if args.quick else 5)
    print_table(f"CPU inference, 9-block generator ({torch.get_num_threads()} threads)", [report["cpu_inference"]])
    report["webcam_cpu"] = webcam_fps(3 if args.quick else 20)
    print_table(f"Live webcam on the CPU ({torch.get_num_threads()} threads)", [report["webcam_cpu"]])
    if device.type == "cuda":
        report["gpu_inference_256"] = gpu_inference(256, [1, 8] if args.quick else [1, 8, 32], repeats=3 if args.quick else 10)
        print_table("GPU inference throughput at 256x256", report["gpu_inference_256"])
        report["gpu_training_256"] = gpu_training(64 if args.quick else 256, steps=3 if args.quick else 20)
        report["webcam_gpu"] = webcam_fps(3 if args.quick else 50, "cuda")
        print_table("Live webcam on the GPU", [report["webcam_gpu"]])
        print_table("GPU training throughput at 256x256 (full CycleGAN step)", report["gpu_training_256"])
    else:
        print("\nGPU sections skipped: no CUDA device here (run this script on a GPU machine)")
    write_json(result_path(args.out, "cyclegan", device.type, args.quick), report)


if __name__ == "__main__":
    main()
