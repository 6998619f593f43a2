"""The settings files and variables Invoke reads before any task runs, checked first.

Invoke loads invoke.yaml (and the file ``INVOKE_RUNTIME_CONFIG`` names, and the
``INVOKE_CI_*`` variables) when it loads the collection, and shows a traceback
for a YAML error, a value where the defaults hold a mapping, or a value it
cannot cast. ``ci.namespace()`` runs these checks first, so that a mistake gives
one line and exit 2. They run at every `invoke --list`: they read the shipped
JSON Schema and parse with libyaml, and import no validation library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from ci.core import config
from ci.core.errors import ConfigError
from ci.core.text import display, show

PROJECT_FILES = ("invoke.yaml", "invoke.yml", "invoke.json")


def check_project_file(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Refuse an invoke.yaml that Invoke itself would crash on, with a one-line ConfigError.

    Invoke loads the project file before any task runs and shows a traceback
    for a YAML syntax error, or for a value where its defaults hold a mapping
    (and the reverse); everything else is left to ``validate`` when a stage
    runs. Returns the file's ``ci:`` tree, None for a ``ci:`` key with nothing under
    it (Invoke cannot merge that over the declared defaults). It runs at every `invoke --list`, so
    it parses with libyaml where PyYAML has it (Invoke has loaded PyYAML
    already), six times faster than the pure-Python parser; both read YAML 1.1 alike.
    """
    for name in PROJECT_FILES:
        path = Path(folder, name)
        if path.is_file():
            return check_settings_file(path)
    return {}


def check_runtime_file(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The settings file named by ``INVOKE_RUNTIME_CONFIG`` (a tenant's, in the Azure templates), checked.

    Invoke would silently skip a file that is not there, and crash on an empty name."""
    name = environ.get("INVOKE_RUNTIME_CONFIG")
    if name is None:
        return {}
    path = Path(name)
    if not name.strip() or not path.is_file():
        raise ConfigError(
            f"INVOKE_RUNTIME_CONFIG: {name!r} is no settings file; name one, or unset the variable"
        )
    return check_settings_file(path)


def check_settings_file(path: Path) -> dict[str, Any] | None:
    """A settings file's ``ci:`` tree (None for an empty ``ci:``), or a one-line ConfigError for what
    Invoke would crash on or silently misread."""
    import yaml

    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as f:
            loader = safe_loader(f)  # a safe loader, C or Python
            try:
                node = loader.get_single_node()
                if node is not None:
                    _refuse_duplicate_keys(node, path)
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        message = f"{display(path)}{at}: not valid YAML: {problem}; fix the file and run again"
        raise ConfigError(message) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{display(path)}: cannot be read as YAML: {error}") from None
    if not isinstance(data, (dict, type(None))):
        raise ConfigError(f"{display(path)}: must hold a mapping of settings, got {show(data)}")
    data = data or {}
    if "ci" in data and data["ci"] is None:  # `ci:` with every setting commented out
        return None
    tree = data.get("ci") or {}
    check_shapes(tree, partial(_locate_ci, path))
    return tree


def _refuse_duplicate_keys(node: Any, path: Path, keys: tuple[str, ...] = ()) -> None:
    """YAML takes the last of two equal keys silently: refuse them, naming both lines."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path, (*keys, f"[{index}]"))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key, line = str(key_node.value), key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{display(path)}:{line}: {config.dotted((*keys, key), '')} is set twice, on lines "
                    f"{seen[key]} and {line}; keep one"
                )
            seen[key] = line
            _refuse_duplicate_keys(value_node, path, (*keys, key))


def check_environment(environ: Mapping[str, str], project: Mapping[str, Any] | None) -> None:
    """Refuse ``INVOKE_CI_*`` values that Invoke would crash on or silently misread.

    Invoke casts an environment value to the type of the value it replaces:
    it refuses lists with a traceback, reads every boolean but ``0`` and the
    empty string as true, and fails on ``92.5`` where invoke.yaml holds ``80``.
    """
    schema = config.shipped_schema()
    for path, node in config.sections(schema):
        name = "INVOKE_" + "_".join(("ci", *path)).upper()
        if name not in environ:
            continue
        text, where = environ[name], f"environment variable {name}: {config.dotted(path)}"
        current = config.value_at(project, path, node["default"])
        if isinstance(current, bool):
            if text not in ("0", "1", ""):
                raise ConfigError(
                    f"{where} must be 1 or 0 (Invoke reads anything else as true), got {show(text)}"
                )
        elif isinstance(current, list):
            raise ConfigError(
                f"{where} is a list, which Invoke cannot read from the environment; set it in invoke.yaml"
            )
        elif isinstance(current, (int, float)):
            try:
                accepted = config.within(node, type(current)(text))
            except ValueError:
                accepted = False
            if not accepted:
                whole = isinstance(current, int) and node.get("type") != "integer"
                note = " (a whole number, as invoke.yaml has one)" if whole else ""
                raise ConfigError(f"{where} must be {config.expected(node, schema)}{note}, got {show(text)}")


def check_shapes(tree: Any, where: config.Where) -> None:
    """Only what Invoke would crash on: a value where the declarations hold a mapping, and the reverse.

    Unknown keys and ill-typed values are left to the full validation when a stage runs."""
    schema = config.shipped_schema()

    def walk(node: dict[str, Any], value: Any, path: tuple[str, ...]) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{where(path)}: {config.dotted(path)} must be {config.expected(node, schema)}, "
                f"got {show(value)}"
            )
        for key, item in value.items():
            declared = node["properties"].get(key)
            if declared is None:
                continue
            declared = config.resolve(declared, schema)
            if config.is_section(declared):
                walk(declared, item, (*path, key))
            elif isinstance(item, Mapping) != (declared.get("type") == "object"):
                raise ConfigError(
                    f"{where((*path, key))}: {config.dotted((*path, key))} must be "
                    f"{config.expected(declared, schema)}, got {show(item)}"
                )

    walk(config.resolve(schema["properties"]["ci"], schema), tree, ())


def _locate_ci(path: Path, keys: tuple[str, ...]) -> str:
    return config.locate(path, ("ci", *keys))
