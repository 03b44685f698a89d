"""Is a server reachable? A quick answer, so that offline use fails in seconds, not minutes.

Downloads (torch.hub, huggingface_hub) retry a dead connection for a minute or more; asking
first with a short timeout lets the library fall back to what is cached, or say so at once.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.error
import urllib.request

TIMEOUT_S = 3.0  # the whole check, name lookup included
_REMEMBER_S = 60.0  # an answer is reused this long: a page load should not probe twice
_answers: dict[str, tuple[float, bool]] = {}
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="reachable")


def reachable(url: str, timeout: float = TIMEOUT_S) -> bool:
    """True if the server of `url` answers an HTTP HEAD request (any status) within `timeout`.

    Honours the usual proxy variables (https_proxy, no_proxy), as the real downloads do. Runs in
    a worker thread because a hanging name lookup ignores socket timeouts.
    """
    now = time.monotonic()
    if url in _answers and now - _answers[url][0] < _REMEMBER_S:
        return _answers[url][1]
    try:
        answer = _pool.submit(_head, url, timeout).result(timeout=timeout + 0.5)
    except concurrent.futures.TimeoutError:
        answer = False
    _answers[url] = (now, answer)
    return answer


def forget() -> None:
    """Drop remembered answers (tests change the network between calls)."""
    _answers.clear()


def _head(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # the server answered, if only to say no
    except (urllib.error.URLError, OSError, ValueError):
        return False
