"""What a training run leaves besides checkpoints: sample grids, the loss plot, the exported
generators with their model card, and the upload of that export to the Hub."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from nst.cyclegan.hub import model_card, push_folder, save_cyclegan
from nst.cyclegan.training import sample_grid

if TYPE_CHECKING:
    from nst.cyclegan.trainer import Run

logger = logging.getLogger("nst.cyclegan.trainer")


@torch.no_grad()
def save_samples(run: Run, path: Path) -> Path:
    """Columns of six: real A, fake B, reconstructed A, real B, fake A, reconstructed B."""
    nets = run.accelerator.unwrap_model(run.generators)
    real_a, real_b = run.sample_batch["A"].to(run.accelerator.device), run.sample_batch["B"].to(run.accelerator.device)
    out = nets(real_a, real_b, identity=False)
    rows = [list(t) for t in (real_a, out["fake_B"], out["rec_A"], real_b, out["fake_A"], out["rec_B"])]
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_grid(rows).save(path)
    return path


def export_generators(run: Run) -> Path:
    """Both generators in the Hub format, with a card holding the config, losses and samples."""
    options, progress = run.options, run.progress
    nets = run.accelerator.unwrap_model(run.generators)
    export = run.out / "export"
    sample = save_samples(run, export / "samples.png")
    last = _last_losses(run.out / "train_log.jsonl")
    body = "\n".join([
        f"CycleGAN generators between **{options.domain_a_name}** (A) and **{options.domain_b_name}** (B), trained "
        f"with `train/cyclegan.py` on `{options.dataset}` for {progress.step} steps ({progress.epoch} epochs).",
        "", "`AtoB` (folder `G_AB`) maps A to B; `BtoA` (folder `G_BA`) maps B to A.",
        "", "## Samples", "", "Rows: real A, fake B, reconstructed A, real B, fake A, reconstructed B.",
        "", f"![samples]({sample.name})", "", "## Final losses (last step)", "",
        "| term | value |", "| --- | --- |", *[f"| {k} | {v:.4f} |" for k, v in last.items()],
        "", "## Training config", "", "```json", json.dumps(run.config.to_dict(), indent=2), "```",
    ])  # fmt: skip
    card = model_card(f"CycleGAN {options.domain_a_name} ↔ {options.domain_b_name}", body, run.job.hub.hub_repo_id or "OWNER/NAME")
    return save_cyclegan(nets.g_ab, nets.g_ba, export, options.domain_a_name, options.domain_b_name, card)


def _last_losses(log_path: Path) -> dict[str, float]:
    if not log_path.is_file() or not log_path.read_text().strip():
        return {}
    last = json.loads(log_path.read_text().strip().splitlines()[-1])
    return {k: v for k, v in last.items() if k not in ("step", "epoch", "lr")}


def plot_losses(log_path: Path, path: Path) -> None:
    """Every loss term against the step, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line] if log_path.is_file() else []
    if not entries:
        return
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name in [k for k in entries[-1] if k not in ("step", "epoch", "lr")]:
        axis.plot([e["step"] for e in entries], [max(e[name], 1e-8) for e in entries], label=name, linewidth=1)
    axis.set(xlabel="step", ylabel="loss", yscale="log", title="CycleGAN training losses")
    axis.legend(ncol=3, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def push(export: Path, repo_id: str) -> int:
    """Upload the export folder; a failure is reported and the local files are kept."""
    try:
        url = push_folder(export, repo_id, message="Upload CycleGAN generators")
    except Exception as error:  # noqa: BLE001 - network, auth and server errors all end here
        logger.error("upload to %s failed (%s: %s); the export is kept in %s", repo_id,
                     type(error).__name__, str(error).splitlines()[0] if str(error) else "", export)  # fmt: skip
        return 1
    logger.info("uploaded %s to %s", export, url)
    return 0
