"""A CycleGAN (Zhu et al. 2017) training run with Accelerate: the epoch loop, its bookkeeping and
its command line. `train/cyclegan.py` and the `nst-train-cyclegan` command run `cli()`.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from nst.cyclegan.data import DataError, UnpairedDataset, folder_domains, load_domains
from nst.cyclegan.export import export_generators, plot_losses, push, save_samples
from nst.cyclegan.hub import HubOptions, create_repo
from nst.cyclegan.training import (
    CycleGANTrainConfig, Discriminators, Generators, ImagePool, make_lr_scheduler, training_step,
)  # fmt: skip
from nst.cyclegan.training_state import resume, save_checkpoint
from nst.device import cpu_has_fast_bf16
from nst.options import add_dataclass_flags, check_choices, flag_names, given_fields
from nst.schedules import step_scheduler

if TYPE_CHECKING:  # imported when a run starts: --help and the app's environment need no training extras
    from accelerate import Accelerator

logger = logging.getLogger("nst.cyclegan.trainer")

TRAINING_EXTRAS = ("accelerate", "datasets")  # requirements-train.txt

MixedPrecision = Literal["no", "fp16", "bf16"]


def default_workers() -> int:
    """4 data loader workers, or the CPU count if smaller (torch warns about more workers than CPUs)."""
    return min(4, os.cpu_count() or 1)


@dataclass
class TrainOptions:
    """What a run reads, where it writes and how it is launched; the recipe is CycleGANTrainConfig."""

    dataset: str  # folder with trainA/ and trainB/, or a Hub dataset id
    column_a: str = "imageA"  # image column of domain A in a Hub dataset
    column_b: str = "imageB"  # image column of domain B in a Hub dataset
    split: str = "train"  # dataset split
    domain_a_name: str = "A"  # name of domain A for labels and the model card
    domain_b_name: str = "B"  # name of domain B for labels and the model card
    num_workers: int = field(default_factory=default_workers)  # data loader workers: 4, or the CPU count if smaller
    output_dir: str = "outputs/cyclegan"  # where everything is written
    mixed_precision: MixedPrecision = "no"  # Accelerate's mixed precision
    cpu: bool = False  # train on the CPU even if a GPU is present
    max_train_steps: int | None = None  # stop after this many steps (resume continues)
    checkpointing_steps: int = 500  # save the training state every N steps
    checkpoints_total_limit: int = 3  # keep this many checkpoints
    resume: str | None = None  # 'latest' or a checkpoint folder to continue from
    sample_steps: int = 200  # save a sample grid every N steps
    push_every_epochs: int | None = None  # with push_to_hub: also upload every N epochs

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("checkpointing_steps", "sample_steps", "checkpoints_total_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.num_workers < 0:
            raise ValueError("num_workers must not be negative")
        if self.push_every_epochs is not None and self.push_every_epochs < 1:
            raise ValueError("push_every_epochs must be at least 1")


@dataclass
class TrainingJob:
    """Everything a training run was asked to do: the CLI builds it, `main` runs it."""

    options: TrainOptions
    config: CycleGANTrainConfig = field(default_factory=CycleGANTrainConfig)
    hub: HubOptions = field(default_factory=HubOptions)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = {  # the job's parts, each a group of flags in --help
    "options": ("data and running", TrainOptions),
    "config": ("recipe (defaults of the reference implementation)", CycleGANTrainConfig),
    "hub": ("Hugging Face Hub", HubOptions),
}


def parse_args(argv: list[str] | None = None) -> TrainingJob:
    """Every field of the job's dataclasses as a flag; a bad value is one line of usage error."""
    parser = argparse.ArgumentParser(description="Train a CycleGAN (Zhu et al. 2017) "
                                     "and push its generators to the Hugging Face Hub.")  # fmt: skip
    for title, cls in SECTIONS.values():
        add_dataclass_flags(parser.add_argument_group(title), cls)
    args = parser.parse_args(argv)
    try:
        return TrainingJob(**{part: cls(**given_fields(cls, args)) for part, (_, cls) in SECTIONS.items()})
    except ValueError as error:
        parser.error(flag_names(str(error), *(cls for _, cls in SECTIONS.values())))


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

    job: TrainingJob
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
        return self.job.config

    @property
    def options(self) -> TrainOptions:
        return self.job.options

    @property
    def batches_per_epoch(self) -> int:
        return min(len(self.loader), self.config.max_batches_per_epoch or len(self.loader))


def mixed_precision_for(requested: MixedPrecision, on_cpu: bool) -> MixedPrecision:
    """The mixed precision to train in: as requested, except bf16 on a CPU that only emulates it
    (no AMX or AVX512-BF16), where it is several times slower than fp32: there, fp32, and a warning."""
    if requested == "bf16" and on_cpu and not cpu_has_fast_bf16():
        logger.warning("--mixed-precision bf16: this CPU emulates bf16 (slower than fp32), so training runs in fp32")
        return "no"
    return requested


def main(job: TrainingJob) -> int:
    from accelerate import Accelerator

    # Without an accelerator, cpu=True is what lets Accelerate join CPU processes (gloo).
    no_gpu = not (torch.cuda.is_available() or torch.backends.mps.is_available())
    options = job.options
    on_cpu = options.cpu or no_gpu
    accelerator = Accelerator(mixed_precision=mixed_precision_for(options.mixed_precision, on_cpu), cpu=on_cpu)
    out = setup_run(job, accelerator)
    run = build_run(job, accelerator, out)
    if options.resume:
        resume(run, options.resume)
    finished = train(run)
    accelerator.wait_for_everyone()
    status = 0
    if accelerator.is_main_process:
        export = export_generators(run)
        plot_losses(out / "train_log.jsonl", out / "loss_plot.png")
        if job.hub.push_to_hub:
            status = push(export, job.hub.hub_repo_id)
        summary = {"steps": run.progress.step, "epochs": run.progress.epoch, "finished": finished, "export": str(export)}
        logger.info("run summary: %s", json.dumps(summary))
    accelerator.end_training()
    return status


def setup_run(job: TrainingJob, accelerator: Accelerator) -> Path:
    """Logging, the output folder with the resolved options, the Hub repo (early, so a missing
    token fails before hours of training) and a warning when no GPU is in use."""
    logging.basicConfig(level=logging.INFO if accelerator.is_main_process else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")  # fmt: skip
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per saved file otherwise
    out = Path(job.options.output_dir)
    if accelerator.device.type == "cpu":
        logger.warning("no GPU in use: training on the CPU, which is only practical for tiny tests")
    torch.backends.cudnn.benchmark = True  # crops have one size: let cuDNN pick its fastest kernels
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(job.to_dict(), indent=2))
        if job.hub.push_to_hub:
            create_repo(job.hub.hub_repo_id, private=job.hub.hub_private)
    accelerator.wait_for_everyone()
    return out


def build_run(job: TrainingJob, accelerator: Accelerator, out: Path) -> Run:
    """Data, networks (N(0, 0.02) init), Adam optimisers and schedulers, prepared by Accelerate."""
    config = job.config
    dataset, sample_batch = load_data(job.options, config)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, drop_last=True,
                        num_workers=job.options.num_workers, pin_memory=accelerator.device.type == "cuda")  # fmt: skip
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
    return Run(job, accelerator, out, dataset, loader, generators, discriminators, opt_g, opt_d,
               schedulers, pools, progress, sample_batch)  # fmt: skip


def load_data(options: TrainOptions, config: CycleGANTrainConfig) -> tuple[UnpairedDataset, dict[str, torch.Tensor]]:
    """The training set, and a fixed batch of up to 4 test images per domain for sample grids."""
    domain_a, domain_b, skipped = load_domains(options.dataset, options.column_a, options.column_b, options.split)
    if skipped:
        logger.warning("skipped %d unreadable images", skipped)
    root = Path(options.dataset)
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
    options, config, progress, batches_per_epoch = run.options, run.config, run.progress, run.batches_per_epoch
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
            if options.max_train_steps and progress.step >= options.max_train_steps:
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
    if run.accelerator.is_main_process and step % run.options.sample_steps == 0:
        save_samples(run, run.out / "samples" / f"step-{step:06d}.png")
    if step % run.options.checkpointing_steps == 0 and run.progress.batch_in_epoch < run.batches_per_epoch:
        save_checkpoint(run)  # the last batch of an epoch is saved by end_epoch


def end_epoch(run: Run) -> None:
    progress, hub = run.progress, run.job.hub
    mean_g = progress.epoch_g_loss / max(1, run.batches_per_epoch)
    # every process must step its schedulers with the same loss, or their learning rates drift apart
    mean_g = run.accelerator.reduce(torch.tensor(mean_g, device=run.accelerator.device), reduction="mean").item()
    for scheduler in run.schedulers:
        step_scheduler(scheduler, mean_g)
    progress.epoch, progress.batch_in_epoch, progress.epoch_g_loss = progress.epoch + 1, 0, 0.0
    save_checkpoint(run)
    every = run.options.push_every_epochs
    if hub.push_to_hub and every and progress.epoch % every == 0 and progress.epoch < run.config.total_epochs:
        if run.accelerator.is_main_process:
            push(export_generators(run), hub.hub_repo_id)
        run.accelerator.wait_for_everyone()


def cli() -> int:
    """Errors a user can fix (data, options, Hub access) print one line and exit with status 2."""
    job = parse_args()
    try:
        return main(job)
    except ImportError as error:  # the app's requirements.txt has no training extras: say so, not a traceback
        if error.name not in TRAINING_EXTRAS:
            raise
        print(f"error: CycleGAN training needs the {error.name} package: pip install -r requirements-train.txt", file=sys.stderr)
        return 1
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

