"""Train a CycleGAN (Zhu et al. 2017) and push its generators to the Hugging Face Hub.

    python train/cyclegan.py --dataset path/to/monet2photo --output-dir outputs/monet2photo
    accelerate launch train/cyclegan.py --dataset huggan/monet2photo --push-to-hub --hub-repo-id you/monet2photo

Runs on one GPU, several GPUs or machines (through `accelerate launch`), or the CPU (slow; the
tests use it with tiny images). A killed run continues with `--resume latest`.
Outputs in --output-dir: config.json (resolved options), train_log.jsonl (every loss term of every
step), samples/step-*.png, checkpoint-*/ (full training state), loss_plot.png and export/ (both
generators in the Hub format that `python -m nst cyclegan` and the app load).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import typing
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

try:
    from accelerate import Accelerator
except ImportError as error:  # the app's requirements.txt has no training extras: say so, not a traceback
    sys.exit(f"error: CycleGAN training needs the {error.name} package: pip install -r requirements-train.txt")

from nst.cyclegan_data import DataError, UnpairedDataset, folder_domains, load_domains
from nst.cyclegan_training import (
    LR_POLICIES, CycleGANTrainConfig, Discriminators, Generators, ImagePool, make_lr_scheduler,
    training_step,
)  # fmt: skip
from nst.cli import add_hub_flags, check_hub_flags
from nst.config import field_help
from nst.hub import create_repo
from nst.schedules import step_scheduler
from train.checkpoints import resume, save_checkpoint
from train.export import export_generators, plot_losses, push, save_samples

logger = logging.getLogger("train.cyclegan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", required=True, help="folder with trainA/ and trainB/, or a Hub dataset id")
    data.add_argument("--column-a", default="imageA", help="image column of domain A in a Hub dataset (default: imageA)")
    data.add_argument("--column-b", default="imageB", help="image column of domain B in a Hub dataset (default: imageB)")
    data.add_argument("--split", default="train", help="dataset split (default: train)")
    data.add_argument("--domain-a-name", default="A", help="name of domain A for labels and the model card")
    data.add_argument("--domain-b-name", default="B", help="name of domain B for labels and the model card")
    data.add_argument("--num-workers", type=int, default=min(4, os.cpu_count() or 1),
                      help="data loader workers (default: 4, or the CPU count if smaller)")  # fmt: skip
    recipe = parser.add_argument_group("recipe (defaults of the reference implementation)")
    defaults, hints = CycleGANTrainConfig(), typing.get_type_hints(CycleGANTrainConfig)
    helps = field_help(CycleGANTrainConfig)  # the config's field comments
    for field in dataclasses.fields(CycleGANTrainConfig):
        default = getattr(defaults, field.name)
        kind = next(t for t in typing.get_args(hints[field.name]) or (hints[field.name],) if t is not type(None))
        choices = LR_POLICIES if field.name == "lr_policy" else None
        recipe.add_argument(f"--{field.name.replace('_', '-')}", type=str if choices else kind, default=default,
                            choices=choices, help=f"{helps[field.name]} (default: {default})")  # fmt: skip
    run = parser.add_argument_group("running")
    run.add_argument("--output-dir", default="outputs/cyclegan", help="where everything is written (default: outputs/cyclegan)")
    run.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16"), help="(default: no)")
    run.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    run.add_argument("--max-train-steps", type=int, default=None, help="stop after this many steps (resume continues)")
    run.add_argument("--checkpointing-steps", type=int, default=500, help="save the training state every N steps (default: 500)")
    run.add_argument("--checkpoints-total-limit", type=int, default=3, help="keep this many checkpoints (default: 3)")
    run.add_argument("--resume", default=None, help="'latest' or a checkpoint folder to continue from")
    run.add_argument("--sample-steps", type=int, default=200, help="save a sample grid every N steps (default: 200)")
    add_hub_flags(parser)
    parser.add_argument("--push-every-epochs", type=int, default=None, help="with --push-to-hub: also upload every N epochs")
    args = parser.parse_args(argv)
    check_hub_flags(parser, args)
    for name in ("checkpointing_steps", "sample_steps", "checkpoints_total_limit"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        args.config = CycleGANTrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(CycleGANTrainConfig)})
    except ValueError as error:
        parser.error(str(error))
    return args


class Progress:
    """Where the run is; saved in every checkpoint so that --resume continues at the same batch."""

    def __init__(self):
        self.epoch, self.step, self.batch_in_epoch, self.epoch_g_loss = 0, 0, 0, 0.0

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


@dataclasses.dataclass
class Run:
    """Everything a training step and its bookkeeping need."""

    args: argparse.Namespace
    accelerator: Accelerator
    out: Path
    dataset: UnpairedDataset
    loader: DataLoader
    generators: torch.nn.Module
    discriminators: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    schedulers: list
    pools: tuple[ImagePool, ImagePool]
    progress: Progress
    sample_batch: dict[str, torch.Tensor]

    @property
    def config(self) -> CycleGANTrainConfig:
        return self.args.config

    @property
    def batches_per_epoch(self) -> int:
        return min(len(self.loader), self.config.max_batches_per_epoch or len(self.loader))


def main(args: argparse.Namespace) -> int:
    # Without an accelerator, cpu=True is what lets Accelerate join CPU processes (gloo).
    no_gpu = not (torch.cuda.is_available() or torch.backends.mps.is_available())
    accelerator = Accelerator(mixed_precision=args.mixed_precision, cpu=args.cpu or no_gpu)
    out = setup_run(args, accelerator)
    run = build_run(args, accelerator, out)
    if args.resume:
        resume(run, args.resume)
    finished = train(run)
    accelerator.wait_for_everyone()
    status = 0
    if accelerator.is_main_process:
        export = export_generators(run)
        plot_losses(out / "train_log.jsonl", out / "loss_plot.png")
        if args.push_to_hub:
            status = push(export, args)
        summary = {"steps": run.progress.step, "epochs": run.progress.epoch, "finished": finished, "export": str(export)}
        logger.info("run summary: %s", json.dumps(summary))
    accelerator.end_training()
    return status


def setup_run(args, accelerator: Accelerator) -> Path:
    """Logging, the output folder with the resolved options, the Hub repo (early, so a missing
    token fails before hours of training) and a warning when no GPU is in use."""
    logging.basicConfig(level=logging.INFO if accelerator.is_main_process else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")  # fmt: skip
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per saved file otherwise
    out = Path(args.output_dir)
    if accelerator.device.type == "cpu":
        logger.warning("no GPU in use: training on the CPU, which is only practical for tiny tests")
    torch.backends.cudnn.benchmark = True  # crops have one size: let cuDNN pick its fastest kernels
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        options = {k: v for k, v in vars(args).items() if k != "config"}
        (out / "config.json").write_text(json.dumps({"options": options, "config": args.config.to_dict()}, indent=2))
        if args.push_to_hub:
            create_repo(args.hub_repo_id, private=args.hub_private)
    accelerator.wait_for_everyone()
    return out


def build_run(args, accelerator: Accelerator, out: Path) -> Run:
    """Data, networks (N(0, 0.02) init), Adam optimisers and schedulers, prepared by Accelerate."""
    config = args.config
    dataset, sample_batch = load_data(args)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, drop_last=True,
                        num_workers=args.num_workers, pin_memory=accelerator.device.type == "cuda")  # fmt: skip
    torch.manual_seed(config.seed)
    generators, discriminators = Generators(config), Discriminators(config)
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(generators.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminators.parameters(), lr=config.lr, betas=betas)
    prepared = accelerator.prepare(generators, discriminators, opt_g, opt_d, loader)
    generators, discriminators, opt_g, opt_d, loader = prepared
    schedulers = [make_lr_scheduler(opt, config) for opt in (opt_g, opt_d)]
    pools = (ImagePool(config.pool_size, config.seed), ImagePool(config.pool_size, config.seed + 1))
    progress = Progress()
    accelerator.register_for_checkpointing(*schedulers, *pools, progress)
    return Run(args, accelerator, out, dataset, loader, generators, discriminators, opt_g, opt_d,
               schedulers, pools, progress, sample_batch)  # fmt: skip


def load_data(args) -> tuple[UnpairedDataset, dict[str, torch.Tensor]]:
    """The training set, and a fixed batch of up to 4 test images per domain for sample grids."""
    config = args.config
    domain_a, domain_b, skipped = load_domains(args.dataset, args.column_a, args.column_b, args.split)
    if skipped:
        logger.warning("skipped %d unreadable images", skipped)
    root = Path(args.dataset)
    has_test = (root / "testA").is_dir() and (root / "testB").is_dir()
    test_a, test_b = folder_domains(root, "test")[:2] if has_test else (domain_a, domain_b)
    dataset = UnpairedDataset(domain_a, domain_b, config.load_size, config.crop_size, config.seed)
    samples = UnpairedDataset(test_a, test_b, config.crop_size, config.crop_size, config.seed, flip=False)
    batch = [samples[i] for i in range(min(4, len(samples)))]
    return dataset, {key: torch.stack([item[key] for item in batch]) for key in ("A", "B")}


def train(run: Run) -> bool:
    """The epoch loop; returns False if --max-train-steps stopped it early."""
    log = open(run.out / "train_log.jsonl", "a") if run.accelerator.is_main_process else None
    try:
        return _train_epochs(run, log)
    finally:
        if log is not None:
            log.close()


def _train_epochs(run: Run, log) -> bool:
    args, config, progress, batches_per_epoch = run.args, run.config, run.progress, run.batches_per_epoch
    while progress.epoch < config.total_epochs:
        run.dataset.start_epoch(progress.epoch)
        skip = progress.batch_in_epoch
        batches = run.accelerator.skip_first_batches(run.loader, skip) if skip else run.loader
        bar = tqdm(total=batches_per_epoch, initial=skip, desc=f"epoch {progress.epoch + 1}/{config.total_epochs}",
                   disable=not run.accelerator.is_main_process)  # fmt: skip
        for batch in batches:
            if progress.batch_in_epoch >= batches_per_epoch:
                break
            losses = train_step(run, batch)
            progress.step, progress.batch_in_epoch = progress.step + 1, progress.batch_in_epoch + 1
            progress.epoch_g_loss += losses["G"]
            after_step(run, log, losses)
            bar.update(1)
            bar.set_postfix(G=f"{losses['G']:.3f}", D=f"{losses['D']:.3f}")
            if args.max_train_steps and progress.step >= args.max_train_steps:
                save_checkpoint(run)
                bar.close()
                return False
        bar.close()
        end_epoch(run)
    return True


def train_step(run: Run, batch) -> dict[str, float]:
    accelerator = run.accelerator
    return training_step(run.generators, run.discriminators, run.opt_g, run.opt_d, run.pools, batch["A"], batch["B"],
                         run.config, backward=accelerator.backward, autocast=accelerator.autocast,
                         judge=accelerator.unwrap_model(run.discriminators))  # fmt: skip


def after_step(run: Run, log, losses: dict[str, float]) -> None:
    step = run.progress.step
    if log is not None:
        lr = run.opt_g.param_groups[0]["lr"]
        log.write(json.dumps({"step": step, "epoch": run.progress.epoch, **losses, "lr": lr}) + "\n")
        log.flush()
    if run.accelerator.is_main_process and step % run.args.sample_steps == 0:
        save_samples(run, run.out / "samples" / f"step-{step:06d}.png")
    if step % run.args.checkpointing_steps == 0 and run.progress.batch_in_epoch < run.batches_per_epoch:
        save_checkpoint(run)  # the last batch of an epoch is saved by end_epoch


def end_epoch(run: Run) -> None:
    progress, args = run.progress, run.args
    mean_g = progress.epoch_g_loss / max(1, run.batches_per_epoch)
    # every process must step its schedulers with the same loss, or their learning rates drift apart
    mean_g = run.accelerator.reduce(torch.tensor(mean_g, device=run.accelerator.device), reduction="mean").item()
    for scheduler in run.schedulers:
        step_scheduler(scheduler, mean_g)
    progress.epoch, progress.batch_in_epoch, progress.epoch_g_loss = progress.epoch + 1, 0, 0.0
    save_checkpoint(run)
    every = args.push_every_epochs
    if args.push_to_hub and every and progress.epoch % every == 0 and progress.epoch < run.config.total_epochs:
        if run.accelerator.is_main_process:
            push(export_generators(run), args)
        run.accelerator.wait_for_everyone()


def cli() -> int:
    """Errors a user can fix (data, options, Hub access) print one line and exit with status 2."""
    args = parse_args()
    try:
        return main(args)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
