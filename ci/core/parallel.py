"""Stages side by side: each starts once the stages it needs are done, at most ``jobs`` at once, and the
output of each is kept apart and shown in pipeline order, as if they had run one after another.

A stage's output is everything its thread prints and every command it runs prints: ``sys.stdout`` and
``sys.stderr`` send a thread's writes to that thread's buffer while ``kept()`` runs, and the commands'
runner (ci/core/process.py) hands its output to ``buffer()``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TextIO

_local = threading.local()


def buffer() -> io.StringIO | None:
    """The buffer that keeps this thread's output, or None when it goes straight out."""
    return getattr(_local, "buffer", None)


class _ByThread:
    """A stream that writes each thread's text to that thread's buffer, and others' to the stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return (buffer() or self._stream).write(text)

    def flush(self) -> None:
        if buffer() is None:
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """sys.stdout and sys.stderr keep each stage's output apart while the block runs."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ByThread(out), _ByThread(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def cores(given: int) -> int:
    """``given``, or for 0 the cores this process may use."""
    if given:
        return given
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(
    names: Sequence[str],
    needs: dict[str, set[str]],
    start: Callable[[str], Any],
    *,
    jobs: int,
    finished: Callable[[str, Any, str], bool],
    shown: Callable[[str, Any, str], None],
) -> None:
    """Run ``start(name)`` for each name once its ``needs`` are done, ``jobs`` at once. ``finished(name,
    outcome, output)`` says whether the others may still start (False after a failure that stops the run);
    ``shown(name, outcome, output)`` is called in the order of ``names`` as soon as the ones before are
    shown. A name that never starts is neither finished nor shown."""

    def keep(name: str) -> tuple[Any, str]:
        _local.buffer = io.StringIO()
        try:
            return start(name), _local.buffer.getvalue()
        finally:
            _local.buffer = None

    pending, running, done = list(names), {}, {}
    going, next_shown = True, 0
    with kept(), ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dsci-stage") as pool:
        while running or (going and pending):
            for name in list(pending) if going else []:
                if len(running) >= jobs:
                    break
                if needs[name] <= done.keys():
                    pending.remove(name)
                    future: Future = pool.submit(keep, name)
                    running[future] = name
            if not running:
                break
            for future in wait(running, return_when=FIRST_COMPLETED)[0]:
                name = running.pop(future)
                outcome, output = future.result()
                done[name] = (outcome, output)
                going = finished(name, outcome, output) and going
            while next_shown < len(names) and names[next_shown] in done:
                shown(names[next_shown], *done[names[next_shown]])
                next_shown += 1
            if not going:
                pending.clear()
    # a name after one that never started: shown now, in order
    for name in names[next_shown:]:
        if name in done:
            shown(name, *done[name])
