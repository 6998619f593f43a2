"""Stages side by side: each starts once the stages it needs are done, at most ``jobs`` at once, and the
output of each is shown in pipeline order, as if they had run one after another.

A stage's output is everything its thread prints and every command it runs prints: ``sys.stdout`` and
``sys.stderr`` send a thread's writes to that thread's ``Held`` stream while ``kept()`` runs, and the
commands' runner (ci/core/process.py) hands Invoke that stream. The first stage in pipeline order not
yet shown streams live; the others' output is held until every stage before them is shown.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, TextIO

_local = threading.local()


class Held(io.TextIOBase):
    """A stage's output: held while a stage before it is still to be shown, then passed straight on."""

    def __init__(self) -> None:
        self._held: io.StringIO | None = io.StringIO()
        self._out: TextIO | None = None
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            if self._out is None:
                return self._held.write(text)
            written = self._out.write(text)
            self._out.flush()
            return written

    def release(self, out: TextIO) -> None:
        """What was held, written to ``out``; from now on, every write as it comes."""
        with self._lock:
            out.write(self._held.getvalue())
            out.flush()
            self._out, self._held = out, None


def buffer() -> Held | None:
    """The stream that keeps this thread's output apart, or None when it goes straight out."""
    return getattr(_local, "buffer", None)


class _ByThread:
    """A stream that writes each thread's text to that thread's Held stream, and others' to the stream."""

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
    runs: Callable[[str], bool],
    finished: Callable[[str, Any], bool],
    opened: Callable[[str], TextIO],
    closed: Callable[[str, Any], None],
) -> None:
    """Run ``start(name)`` for each name once its ``needs`` are done and ``runs(name)`` says it still
    should, ``jobs`` at once; ``finished(name, outcome)`` says whether the others may still start (False
    after a failure that stops the run). In the order of ``names``: ``opened(name)`` once the stages before
    it are shown (its header; the stream its output goes to from then on), ``closed(name, outcome)`` once
    it is done. A name that never starts is neither finished nor shown."""

    def keep(name: str, held: Held) -> Any:
        _local.buffer = held
        try:
            return start(name)
        finally:
            _local.buffer = None

    pending, running, done, held = list(names), {}, {}, {}
    going, shown, live = True, 0, None

    def show(last: bool = False) -> None:
        nonlocal shown, live
        while shown < len(names):
            name = names[shown]
            if name not in held and (name in done or last):  # never started
                shown += 1
                continue
            if name not in held:
                return
            if live != name:
                live = name
                held[name].release(opened(name))
            if name not in done:
                return
            closed(name, done[name])
            shown += 1

    with kept(), ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dsci-stage") as pool:
        while True:
            for name in list(pending) if going else []:
                if len(running) >= jobs:
                    break
                if needs[name] <= done.keys():
                    pending.remove(name)
                    if not runs(name):
                        done[name] = None
                        continue
                    held[name] = Held()
                    running[pool.submit(keep, name, held[name])] = name
            show()
            if not running:
                break
            for future in wait(running, return_when=FIRST_COMPLETED)[0]:
                name = running.pop(future)
                done[name] = future.result()
                going = finished(name, done[name]) and going
        show(last=True)
