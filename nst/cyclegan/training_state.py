"""Checkpoints of a training run: written atomically, the newest few kept, resumed exactly
(with the log cut back to the checkpoint's step)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nst.cyclegan.trainer import Run

logger = logging.getLogger("nst.cyclegan.trainer")
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def save_checkpoint(run: Run) -> None:
    """Write checkpoint-{step}.tmp, then rename it: a kill mid-write leaves only a .tmp folder,
    which --resume ignores, never a half-written checkpoint-{step}."""
    accelerator, out = run.accelerator, run.out
    final, tmp = out / f"checkpoint-{run.progress.step}", out / f"checkpoint-{run.progress.step}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for _, old in sorted(list_checkpoints(out))[: -run.options.checkpoints_total_limit]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    return [(int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := CHECKPOINT.match(p.name))]


def resume(run: Run, which: str) -> None:
    if which == "latest":
        found = sorted(list_checkpoints(run.out)) if run.out.is_dir() else []
        if not found:
            logger.warning("--resume latest: no checkpoint in %s, starting from scratch", run.out)
            return
        path = found[-1][1]
    else:
        path = Path(which)
        if not path.is_dir():
            raise SystemExit(f"error: checkpoint {path} not found")
    run.accelerator.load_state(str(path))
    p = run.progress
    logger.info("resumed from %s at step %d (epoch %d, batch %d)", path, p.step, p.epoch + 1, p.batch_in_epoch)
    if run.accelerator.is_main_process:
        truncate_log(run.out / "train_log.jsonl", p.step)


def truncate_log(path: Path, step: int) -> None:
    """Drop log lines of steps after the checkpoint: the resumed run redoes them."""
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in lines))
