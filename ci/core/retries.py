"""Bounded retries with backoff, for services that fail now and then: registries, Jenkins, SMTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ci.core.errors import EnvError

T = TypeVar("T")


class Transient(Exception):
    """A failure worth another try: a 5xx answer or a dropped connection."""


def with_retries(action: Callable[[], T], *, tries: int, what: str, pause: float = 1.0) -> T:
    """``action()``, again after a Transient failure, at most ``tries`` times in all, with backoff."""
    for attempt in range(1, tries + 1):
        try:
            return action()
        except Transient as error:
            if attempt == tries:
                raise EnvError(f"{what} failed {tries} times, last: {error}") from None
            time.sleep(pause * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
