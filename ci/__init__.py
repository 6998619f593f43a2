"""dsci: DevOps for data scientists, as Invoke tasks under the ``ci`` namespace.

A repository's tasks.py adds the collection beside its own tasks::

    import ci
    ns = Collection(ci.namespace(__file__))
"""

from __future__ import annotations

import os
from pathlib import Path

from invoke import Collection, Exit

from ci.core.errors import ConfigError
from ci.core.precheck import check_environment, check_project_file, check_runtime_file
from ci.tasks import collection

__version__ = "0.1.0"


def namespace(tasks_file: str | None = None) -> Collection:
    """The ``ci`` collection. Given the caller's ``__file__``, first checks the invoke.yaml beside it.

    Invoke reads that file and the ``INVOKE_CI_*`` environment variables
    before any task runs, and would show a traceback for a YAML error or a
    value it cannot cast; checking them here turns that into one line and exit 2.
    """
    if tasks_file is None:
        return collection()
    try:
        project = check_project_file(Path(tasks_file).resolve().parent)
        check_environment(os.environ, project)
        runtime = check_runtime_file(os.environ)
        if (project is None) != (runtime is None) and (runtime or project):
            empty = "invoke.yaml" if project is None else os.environ["INVOKE_RUNTIME_CONFIG"]
            raise ConfigError(
                f"{empty}: `ci:` has nothing under it, while another settings file has ci settings, "
                "which Invoke cannot merge; delete the empty `ci:` line"
            )
    except ConfigError as error:
        raise Exit(f"error: {error}", code=error.exit_code) from None
    # An empty `ci:` (every setting commented out) means no settings; Invoke cannot merge it over
    # declared defaults, so they are left out and the stages read the defaults themselves.
    return collection(declare_defaults=project is not None)
