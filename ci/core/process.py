"""Running external commands: argument lists in, a plain result out.

Domain code takes a ``Runner`` (any callable with this signature) so it can
be tested without subprocesses; tasks make one from their Invoke context.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ci.core.errors import EnvError


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    exited: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exited == 0


class Runner(Protocol):
    def __call__(
        self, argv: Sequence[str], *, quiet: bool = True, env: Mapping[str, str] | None = None
    ) -> Completed: ...


def context_runner(c: Any, cwd: Path) -> Runner:
    """A Runner over an Invoke context, in ``cwd``.

    ``quiet`` commands are probes whose output is parsed: hidden. Others
    echo what they run and stream their output, which is still captured.
    The environment dsci runs in comes first on PATH, as in a virtualenv's
    activated shell, so that `invoke train` finds the same invoke. ``env`` adds variables.
    """
    path = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))

    def run(argv: Sequence[str], *, quiet: bool = True, env: Mapping[str, str] | None = None) -> Completed:
        from ci.core.parallel import buffer

        # A stage run beside others keeps its output apart (ci/core/parallel.py). A stream given to
        # Invoke is one it writes to even when hidden: a quiet probe gets none.
        kept = None if quiet else buffer()
        elsewhere = Path.cwd().resolve() != cwd.resolve()
        with c.cd(str(cwd)) if elsewhere else contextlib.nullcontext():
            result = c.run(
                shlex.join(argv),
                hide=quiet,
                echo=not quiet,
                warn=True,
                in_stream=False,
                env={"PATH": path, **(env or {})},
                out_stream=kept,
                err_stream=kept,
            )
        return Completed(tuple(argv), result.exited, result.stdout, result.stderr)

    return run


def python_module(module: str, install: str) -> list[str]:
    """``[python, -m, module]`` for this interpreter, or EnvError naming what to install."""
    if importlib.util.find_spec(module) is None:
        raise EnvError(f"{module} is not installed in {sys.executable}; install it with `{install}`")
    return [sys.executable, "-m", module]
