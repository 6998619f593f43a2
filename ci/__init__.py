"""dsci: DevOps for data scientists, as Invoke tasks under the ``ci`` namespace.

A repository's tasks.py adds the collection beside its own tasks::

    import ci
    ns = Collection(ci.namespace(__file__))
"""

from __future__ import annotations

import os
from pathlib import Path

from invoke import Collection, Exit

from ci.core.config import check_environment, check_project_file, check_runtime_file
from ci.core.errors import ConfigError
from ci.tasks import collection

__version__ = "0.1.0"


def namespace(tasks_file: str | None = None) -> Collection:
    """The ``ci`` collection. Given the caller's ``__file__``, first checks the invoke.yaml beside it.

    Invoke reads that file and the ``INVOKE_CI_*`` environment variables
    before any task runs, and would show a traceback for a YAML error or a
    value it cannot cast; checking them here turns that into one line and exit 2.
    """
    if tasks_file is not None:
        try:
            check_environment(os.environ, check_project_file(Path(tasks_file).resolve().parent))
            check_runtime_file(os.environ)
        except ConfigError as error:
            raise Exit(f"error: {error}", code=error.exit_code) from None
    return collection()
