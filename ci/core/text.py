"""Words for messages: a value as written, a path as seen, the likely typo, the gist of an error."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, when one is close enough to be a likely typo."""
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


def show(value: Any) -> str:
    """A value as the user wrote it, JSON-style: ``5``, ``"high"``, ``[1, 2]``."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def plain(text: str) -> str:
    """``text`` without terminal colours (the escapes tools such as IPython write)."""
    return _ANSI.sub("", text)


def display(path: str | os.PathLike[str]) -> str:
    """A path relative to the current folder when it is below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def age(seconds: float) -> str:
    """A span of time as a person says it: ``40 s``, ``12 min``, ``3 h``, ``2 days``."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size if unit == "days" else seconds >= size:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def first_line(error: BaseException) -> str:
    """An exception's first line, or its type's name when it says nothing."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
