"""Feed-forward arbitrary style transfer (Ghiasi et al. 2017, Magenta's networks): one network
pass, the app's instant preview and the Gatys engine's "fast" start."""

from nst.feedforward.magenta import FastConfig, fast_stylize

__all__ = ["FastConfig", "fast_stylize"]
