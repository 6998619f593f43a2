"""What a stage is, and the pipeline's order. Light: every task module imports it at load."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

# Every stage of DESIGN.md, in pipeline order: it sorts the report. Which
# stages exist is ci.tasks.pipeline.STAGES; a name here is only a position.
ORDER = (
    "git", "lint", "test", "notebooks", "tenants", "isolation", "data", "pii", "model", "onnx",
    "package", "sign", "image", "push", "parity", "deploy", "notify",
)  # fmt: skip


class Stage(NamedTuple):
    """A stage: a function of the Settings (and the command line's flags) that returns a StageResult."""

    name: str
    run: Callable[..., Any]  # run(settings, **flags)
    quiet: bool = True  # hides its tools' output, so a terminal shows a progress line
    after_failure: bool = True  # runs after a failed stage under --keep-going (a deploy never does)
    # What its result depends on (ci/core/cache.py's Declared), from the Settings; None: never cached (a
    # stage that talks to the outside, or one as quick as the check would be).
    inputs: Callable[[Any], Any] | None = None
    # The stages it waits for when stages run side by side (ci.all --jobs); None: every stage before it.
    needs: tuple[str, ...] | None = None

    def given(self, **flags: Any) -> Stage:
        """The same stage with the command line's flags: ``LINT.given(paths="src")``."""
        return self._replace(run=functools.partial(self.run, **flags))
