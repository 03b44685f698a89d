"""A cache for loaded networks that loads each one once, even when two threads ask at once."""

from __future__ import annotations

import functools
import threading


def load_once(maxsize: int):
    """functools.lru_cache with one load at a time: a second caller waits for the first's load
    instead of starting the same one (the app loads its networks in the background at start,
    ui.warm_up, while a person may already press Run). cache_info, cache_clear and __wrapped__
    (the uncached loader) are those of lru_cache."""

    def decorate(load):
        cached = functools.lru_cache(maxsize=maxsize)(load)
        lock = threading.Lock()

        @functools.wraps(load)
        def load_cached(*args, **kwargs):
            with lock:
                return cached(*args, **kwargs)

        load_cached.cache_info, load_cached.cache_clear = cached.cache_info, cached.cache_clear
        return load_cached

    return decorate
