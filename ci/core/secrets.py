"""Credentials from the environment, read in one place: that place knows every value to mask.

A setting ending in ``_env`` names an environment variable (``ci.push.password_env:
DSCI_REGISTRY_PASSWORD``); ``read`` gets its value and remembers a secret's, and
``mask`` hides every secret read so far in text about to be shown.
"""

from __future__ import annotations

import os

MASK = "***"
_read: set[str] = set()


def read(variable: str, *, secret: bool) -> str:
    """The variable's value ("" when it is unset or no variable is named); a secret's is remembered."""
    value = os.environ.get(variable, "") if variable else ""
    if secret and len(value) >= 4:  # shorter values would mask ordinary words
        _read.add(value)
    return value


def mask(text: str) -> str:
    """``text`` with every credential read so far replaced by ***."""
    for value in sorted(_read, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
