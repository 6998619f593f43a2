"""What the declared settings (``ci/core/settings.py``) give: defaults, validation, messages, schema.

Validation is msgspec's; the messages are dsci's, one line each, worded from
the JSON Schema of the declarations: ``invoke.yaml:3: ci.test.min_coverage must
be a number between 0 and 100, got "high"``. The schema is generated from the
Structs and shipped in the package (``invoke schema`` writes it, a test keeps
it current); ``invoke --list`` reads the defaults and the shapes of the tree
from the shipped file, so loading the collection does not import msgspec.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ci.core.errors import ConfigError
from ci.core.text import closest, display, show

SCHEMA_RESOURCE = "config.schema.json"
Where = Callable[[tuple[str, ...]], str]  # names the origin of a key: "invoke.yaml:4"


# The schema -------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """A JSON Schema for invoke.yaml whose ``ci`` property is the whole ``ci:`` tree, with every default."""
    import msgspec

    from ci.core.settings import Settings

    generated = msgspec.json.schema(Settings)
    definitions = generated["$defs"]
    _add_defaults(definitions["Settings"], msgspec.to_builtins(Settings()), definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dsci settings in invoke.yaml",
        "description": "Generated from ci/core/settings.py; run `invoke schema` to refresh.",
        "type": "object",
        "properties": {"ci": {"$ref": "#/$defs/Settings"}},
        "$defs": definitions,
    }


def _add_defaults(section: dict[str, Any], values: Mapping[str, Any], definitions: dict[str, Any]) -> None:
    """msgspec leaves out defaults made by a factory: every setting gets its default, every section none."""
    for key, node in section["properties"].items():
        target = definitions.get(node.get("$ref", "").rpartition("/")[2])
        if target is not None and "properties" in target:
            _add_defaults(target, values[key], definitions)
        else:
            node["default"] = values[key]


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


@functools.cache
def shipped_schema() -> dict[str, Any]:
    """The schema as the package ships it: what `invoke --list` reads instead of importing msgspec.

    Read beside this module, not through importlib.resources, whose import alone would cost
    `invoke --list` a few milliseconds; dsci is installed as files, never zipped."""
    return json.loads((Path(__file__).parents[1] / "resources" / SCHEMA_RESOURCE).read_text(encoding="utf-8"))


def resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema node with its ``$ref`` followed (the node's own keys, such as x-expected, kept)."""
    node = dict(node)
    while "$ref" in node:
        target = schema["$defs"][node.pop("$ref").rpartition("/")[2]]
        node = {**target, **node}
    return node


def is_section(node: Mapping[str, Any]) -> bool:
    """A mapping of named settings (a Struct), as opposed to one setting's value."""
    return node.get("type") == "object" and "properties" in node and "discriminator" not in node


def sections(schema: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, node) of every setting of the ``ci:`` tree, in declaration order."""

    def walk(
        node: Mapping[str, Any], prefix: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
        for key, child in resolve(node, schema)["properties"].items():
            resolved = resolve(child, schema)
            if is_section(resolved):
                yield from walk(resolved, (*prefix, key))
            else:
                yield (*prefix, key), resolved

    return walk(schema["properties"]["ci"], ())


def defaults(schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``ci:`` tree with every default: what the collection hands to ``ns.configure``."""
    tree: dict[str, Any] = {}
    for path, node in sections(schema or shipped_schema()):
        parent = tree
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        parent[path[-1]] = copy.deepcopy(node["default"])
    return tree


def secret_settings(schema: Mapping[str, Any] | None = None) -> list[str]:
    """The settings (``"push.password_env"``) that name a variable holding a secret (``x-secret``)."""
    return [".".join(path) for path, node in sections(schema or shipped_schema()) if node.get("x-secret")]


def declared(key: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The schema node of the setting at ``key`` (``"test.min_coverage"``)."""
    schema = schema or shipped_schema()
    node = resolve(schema["properties"]["ci"], schema)
    for part in key.split("."):
        node = resolve(node["properties"][part], schema)
    return node


def reference() -> str:
    """The config reference as a Markdown table, for the README."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for path, node in sections(json_schema()):
        rows.append(f"| `{dotted(path)}` | `{show(node['default'])}` | {node.get('description', '')} |")
    return "\n".join(rows) + "\n"


# What a value must be ----------------------------------------------------------


def expected(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """What a value of this schema node must be, in words: "a number between 0 and 100"."""
    node = resolve(node, schema)
    if "x-expected" in node:
        return node["x-expected"]
    if "discriminator" in node:
        tag = node["discriminator"]["propertyName"]
        return f"a mapping with {tag}: one of {', '.join(node['discriminator']['mapping'])}"
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        text = " or ".join(expected(b, schema) for b in branches)
        return f"{text} or null" if len(branches) < len(node["anyOf"]) else text
    if "enum" in node:
        return "one of " + ", ".join(show(v) for v in node["enum"])
    kind = node.get("type")
    if kind in ("number", "integer"):
        noun = "a whole number" if kind == "integer" else "a number"
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"{noun} between {low:g} and {high:g}"
        return f"{noun} of at least {low:g}" if low is not None else noun
    if kind == "array":
        item = expected(node.get("items", {}), schema)
        return f"a list of {item.removeprefix('a ').removeprefix('an ')}s"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        what, item = node.get("x-what", "names"), expected(node["additionalProperties"], schema)
        return f"a mapping from {what} to {item}"
    return {"string": "a string", "boolean": "true or false"}.get(kind, "a mapping of settings")


def choices(node: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Any]:
    """The values a node allows, when it lists them (an enum, or a tagged mapping's tags)."""
    node = resolve(node, schema)
    if "enum" in node:
        return list(node["enum"])
    for branch in node.get("anyOf", []):
        found = choices(branch, schema)
        if found:
            return found
    return []


def variant(node: Mapping[str, Any], value: Any, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A tagged mapping's node resolved to the variant its tag picks (None for an unknown tag)."""
    node = resolve(node, schema)
    if "discriminator" not in node:
        return node
    tag, mapping = node["discriminator"]["propertyName"], node["discriminator"]["mapping"]
    chosen = mapping.get(value.get(tag)) if isinstance(value, Mapping) else None
    return resolve({"$ref": chosen}, schema) if chosen else None


def child(node: Mapping[str, Any], key: str, value: Any, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema node below ``node`` at ``key`` (``[i]`` for an item), given the node's own ``value``."""
    node = resolve(node, schema)
    if "discriminator" in node:
        if key == node["discriminator"]["propertyName"]:
            return {"enum": list(node["discriminator"]["mapping"])}
        chosen = variant(node, value, schema)
        return child(chosen, key, value, schema) if chosen else None
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        return child(branches[0], key, value, schema) if len(branches) == 1 else None
    if key.startswith("["):
        return node.get("items")
    if key in node.get("properties", {}):
        return node["properties"][key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def node_at(schema: Mapping[str, Any], root: Mapping[str, Any], tree: Any, path: Iterable[str]) -> Any:
    node: Any = root
    for key in path:
        node = child(node, key, tree, schema) if node is not None else None
        tree = value_at(tree, (key,), None)
    return node


# Validation --------------------------------------------------------------------


def validate(tree: Mapping[str, Any], where: Where, *, declaration: Any = None, root: str = "ci") -> Any:
    """``tree`` as the Struct it must fit; ConfigError for its first unknown key or ill-typed value.

    ``declaration`` is the Struct the tree must fit (the ``ci:`` settings by default);
    ``where(path)`` names the origin of a key, e.g. ``invoke.yaml:4``."""
    import msgspec

    if declaration is None:
        from ci.core.settings import Settings as declaration
    try:
        return msgspec.convert(tree, declaration)
    except msgspec.ValidationError as error:
        raise complaint(str(error), tree, where, declaration, root) from None


def complaint(said: str, tree: Any, where: Where, declaration: Any, root: str = "ci") -> ConfigError:
    """The one-line error for what msgspec said of ``tree``, keys named from ``root`` (``ci.lint.paths``)."""
    import msgspec

    schema = msgspec.json.schema(declaration)
    top = schema if "$defs" not in schema else {"$ref": schema["$ref"]}
    what, _, at = said.partition(" - at `$")
    path = _dict_keys(_tokens(at.rstrip("`")), tree, declaration)
    field = re.search(r"field `([^`]*)`", what)
    if what.startswith("Object contains unknown field"):
        path = (*path, field[1])
        parent = variant(node_at(schema, top, tree, path[:-1]) or {}, value_at(tree, path[:-1], None), schema)
        keys = list((parent or {}).get("properties", {}))
        close = closest(path[-1], keys)
        hint = f"; did you mean {dotted((*path[:-1], close), root)}?" if close else (
            f"; valid keys here: {', '.join(sorted(keys))}")  # fmt: skip
        return ConfigError(f"{where(path)}: unknown key {dotted(path, root)}{hint}")
    node = node_at(schema, top, tree, path) or {}
    if what.startswith("Object missing required field"):
        needed = child(node, field[1], value_at(tree, path, None), schema) or {}
        return ConfigError(
            f"{where(path)}: {dotted(path, root)} needs {field[1]}: {expected(needed, schema)}"
        )
    value = value_at(tree, path, None)
    close = closest(str(value), [str(c) for c in choices(node, schema)]) if value else None
    hint = f"; did you mean {show(close)}?" if close else ""
    return ConfigError(
        f"{where(path)}: {dotted(path, root)} must be {expected(node, schema)}, got {show(value)}{hint}"
    )


def _tokens(at: str) -> tuple[str, ...]:
    """``.test.checks[0].type`` as ("test", "checks", "[0]", "type")."""
    return tuple(re.findall(r"\[[^\]]*\]|[^.\[]+", at))


def _dict_keys(path: tuple[str, ...], tree: Any, declaration: Any) -> tuple[str, ...]:
    """msgspec names a mapping's key ``[...]``: find the key whose value is the wrong one."""
    import msgspec

    path = list(path)
    for index, key in enumerate(path):
        if key != "[...]":
            continue
        mapping = value_at(tree, path[:index], {})
        for name in mapping:
            trial = _replaced(tree, path[:index], {name: mapping[name]})
            try:
                msgspec.convert(trial, declaration)
            except msgspec.ValidationError:
                path[index] = str(name)
                break
    return tuple(path)


def _replaced(tree: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    key, *rest = path
    if isinstance(tree, list):
        index = int(key[1:-1])
        return [_replaced(item, rest, value) if i == index else item for i, item in enumerate(tree)]
    return {**tree, key: _replaced(tree[key], rest, value)}


# The command line ----------------------------------------------------------------


def from_command_line(key: str, flag: str, text: str) -> Any:
    """Parse an option's text as its setting's kind; ConfigError names the flag."""
    schema = shipped_schema()
    node = declared(key, schema)
    try:
        return _parse(node, text, schema)
    except ValueError:
        raise ConfigError(f"{flag} must be {expected(node, schema)}, got {show(text)}") from None


def _parse(node: Mapping[str, Any], text: str, schema: Mapping[str, Any]) -> Any:
    node = resolve(node, schema)
    if node.get("x-parse") == "shell":  # extra arguments for a tool: one shell-quoted string
        return shlex.split(text)
    if "anyOf" in node:  # a number or null, say: the command line gives the number
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        return _parse(branches[0], text, schema)
    if "enum" in node:
        if text not in node["enum"]:
            raise ValueError(text)
        return text
    kind = node.get("type")
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(text)
    if kind in ("number", "integer"):
        number = int(text) if kind == "integer" else float(text)
        if not within(node, number):
            raise ValueError(text)
        return number
    if kind == "array":  # comma-separated: --paths src,tests
        return [
            _parse(node.get("items", {}), part.strip(), schema) for part in text.split(",") if part.strip()
        ]
    return text


def within(node: Mapping[str, Any], number: float) -> bool:
    """Whether ``number`` keeps the node's bounds."""
    low, high = node.get("minimum"), node.get("maximum")
    return (low is None or number >= low) and (high is None or number <= high)


# Trees -------------------------------------------------------------------------


def dotted(path: tuple[str, ...], root: str = "ci") -> str:
    """``ci.data.datasets[0].path`` from ``("data", "datasets", "[0]", "path")``."""
    return (root + "".join(p if p.startswith("[") else f".{p}" for p in path)).lstrip(".")


def value_at(tree: Any, path: Iterable[str], default: Any) -> Any:
    """The value at ``path`` (keys, and ``[i]`` for list items) in nested data, or ``default``."""
    for key in path:
        if isinstance(tree, list) and key.startswith("["):
            index = int(key[1:-1])
            if index >= len(tree):
                return default
            tree = tree[index]
        elif isinstance(tree, Mapping) and key in tree:
            tree = tree[key]
        else:
            return default
    return tree


def merged(base: Any, over: Any) -> Any:
    """``over`` laid on ``base``, mapping by mapping, as Invoke merges its layers."""
    if not (isinstance(base, Mapping) and isinstance(over, Mapping)):
        return copy.deepcopy(over)
    return {
        **copy.deepcopy(dict(base)),
        **{k: merged(base[k], v) if k in base else v for k, v in over.items()},
    }


def locate(filename: str | os.PathLike[str], keys: tuple[str, ...]) -> str:
    """``file:line`` of ``keys`` in a YAML or JSON file; the file alone when the line is unknown."""
    import yaml

    shown = display(filename)
    try:
        with open(filename, encoding="utf-8") as f:
            node = yaml.compose(f)
    except (OSError, yaml.YAMLError):
        return shown
    line = None
    for key in keys:
        if isinstance(node, yaml.SequenceNode) and key.startswith("[") and int(key[1:-1]) < len(node.value):
            node = node.value[int(key[1:-1])]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == key:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return f"{shown}:{line}" if line else shown
