"""Errors that more than one technique raises, so that none imports another to raise them."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """A model source that cannot be served; the message says what to do about it."""
