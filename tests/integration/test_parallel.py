"""Stages side by side, for real: what a stage's commands print is kept with that stage."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
from invoke import Context

from ci.core import parallel
from ci.core.process import context_runner


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_command_s_output_is_kept_with_its_stage():
    """What a stage's commands print goes to its stream: Invoke is handed it as the output stream."""
    run = context_runner(Context(), Path.cwd())
    shown = {}

    def start(name):
        run([sys.executable, "-c", f"print('{name} from a command')"], quiet=False)
        run([sys.executable, "-c", "print('a probe, hidden')"], quiet=True)
        return name

    class Stream:
        def __init__(self, name):
            self.name = name

        def write(self, text):
            shown[self.name] = shown.get(self.name, "") + text

        def flush(self):
            pass

    parallel.run(["x", "y"], {"x": set(), "y": set()}, start, jobs=2, runs=lambda name: True,
                 finished=lambda *a: True, opened=Stream, closed=lambda *a: None)  # fmt: skip
    for name in ("x", "y"):
        assert f"{name} from a command" in shown[name]
        assert "hidden" not in shown[name] and ("y" if name == "x" else "x") + " from" not in shown[name]
    gc.collect()  # Invoke leaves its commands' stdin pipes for the collector: closed under this test's filter
