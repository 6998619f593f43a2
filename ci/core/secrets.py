"""Credentials from the environment, read in one place: that place knows every value to mask.

A setting ending in ``_env`` names an environment variable (``ci.push.password_env:
DSCI_REGISTRY_PASSWORD``); ``read`` gets its value and remembers a secret's. Every secret
remembered is hidden (``***``) in all that dsci prints while ``masked_output`` is on (its
own lines and the output of the commands it runs) and in the reports it writes, and is
registered with the CI (``announce``), so the CI masks it in the rest of the log too.
A secret of several lines (a private key) is remembered line by line, as CIs mask them.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

MASK = "***"
_read: set[str] = set()
announce: Callable[[str], None] | None = None  # set by the task boundary: registers a value with the CI


def read(variable: str, *, secret: bool) -> str:
    """The variable's value ("" when it is unset or no variable is named); a secret's is remembered.

    ``$(NAME)`` is unset too: Azure Pipelines passes a step's ``env: {X: $(NAME)}`` through as is
    when no variable NAME exists."""
    value = os.environ.get(variable, "") if variable else ""
    if re.fullmatch(r"\$\([\w.]+\)", value):
        value = ""
    if secret:
        remember(value)
    return value


def remember(value: str) -> None:
    """Mask ``value`` from now on: each of its lines of 4 characters or more (shorter ones would mask
    ordinary words), but for a key file's armour (``-----BEGIN ...``) and comments (``# public key:``)."""
    for line in value.splitlines():
        line = line.strip()
        if len(line) >= 4 and not line.startswith(("-----", "#")) and line not in _read:
            _read.add(line)
            if announce is not None:
                announce(line)


def mask(text: str) -> str:
    """``text`` with every credential read so far replaced by ***, as it is and as JSON or XML escape
    it (a report may have escaped a quote or an ampersand of it)."""
    for value in sorted(_read, key=len, reverse=True):
        for form in {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                     html.escape(value), html.escape(value, quote=False)}:  # fmt: skip
            if form in text:
                text = text.replace(form, MASK)
    return text


class _Masking:
    """A text stream that masks secrets line by line before they reach the stream it wraps.

    Whole lines are held back until their end (or a carriage return), so that a secret split
    across two writes of a command's output is still caught."""

    def __init__(self, stream: TextIO) -> None:
        self.raw, self._pending = stream, ""

    def write(self, text: str) -> int:
        if not _read:
            self.raw.write(text)
            return len(text)
        self._pending += text
        cut = max(self._pending.rfind("\n"), self._pending.rfind("\r"))
        if cut >= 0:
            self.raw.write(mask(self._pending[: cut + 1]))
            self._pending = self._pending[cut + 1 :]
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.raw.write(mask(self._pending))
            self._pending = ""
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ...
        return getattr(self.raw, name)


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """sys.stdout and sys.stderr mask every secret while the block runs (nested blocks are no-ops)."""
    if isinstance(sys.stdout, _Masking):
        yield
        return
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Masking(out), _Masking(err)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = out, err


def unmasked(stream: TextIO) -> TextIO:
    """The stream under a masking wrapper: for the one line that registers a secret with the CI."""
    return stream.raw if isinstance(stream, _Masking) else stream
