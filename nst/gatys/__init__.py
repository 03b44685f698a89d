"""Gatys et al. (2015): optimise an image so that its VGG19 features match a content image's and
its Gram matrices match a style image's.

config (GatysConfig, presets) -> engine (run_gatys: levels, optimiser, streamed steps), built on
vgg (the networks), losses (eq. 1-5), lbfgs (the optimiser) and sweep (grids of runs).
"""

from nst.gatys.config import PRESETS, GatysConfig, preset
from nst.gatys.engine import RunStopped, StepRecord, run_gatys

__all__ = ["PRESETS", "GatysConfig", "RunStopped", "StepRecord", "preset", "run_gatys"]
