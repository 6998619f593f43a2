"""What dsci needs from Invoke's config that Invoke keeps in private attributes, read here only.

Invoke merges its config from layers (runtime file, environment, project file,
user file, system file) and remembers each layer and its file in private
attributes; dsci reads them to say which file and line set a value, and the
folder of the tasks.py that was loaded. tests/unit/test_invoke.py pins this
against the installed Invoke, so an Invoke upgrade that moves them fails there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Highest priority first, as Invoke merges them: (data attribute, attribute holding its file or None).
_LAYERS = (
    ("_runtime", "_runtime_path"),
    ("_env", None),
    ("_project", "_project_path"),
    ("_user", "_user_path"),
    ("_system", "_system_path"),
)


def layers(invoke_config: Any) -> list[tuple[Any, str | None, bool]]:
    """(data, file or None, from the environment) of each config layer, highest priority first."""
    found = []
    for data_attr, path_attr in _LAYERS:
        data = getattr(invoke_config, data_attr, None)
        path = getattr(invoke_config, path_attr, None) if path_attr else None
        found.append((data, str(path) if path else None, path_attr is None))
    return found


def project_root(invoke_config: Any) -> Path:
    """The folder of the tasks.py Invoke loaded; paths in settings are relative to it."""
    prefix = getattr(invoke_config, "_project_prefix", None)
    return Path(prefix) if prefix else Path.cwd()
