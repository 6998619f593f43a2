"""Who the tenants are, and each one's settings laid over the common ones.

A tenant's settings are, from the bottom: the common ``ci:`` settings; its own
places for what it makes (report folder, model, bundle, image, namespace,
release history, golden record), so that no two tenants write one file;
``ci.tenants.settings`` with ``{tenant}`` replaced by its name; and its own
``settings``. Its data files are its rows of the common files (``split``) or
files of its own (``data``); a common file that is neither is refused, since
it would hand the tenant every other tenant's rows.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci.core import config
from ci.core.errors import ConfigError
from ci.core.text import closest, display
from ci.tenants import split

ROWS = "build/tenants"  # ROWS/NAME/: a tenant's rows of the common data files, out of the reports


@dataclass
class Tenant:
    """One tenant: where it is declared, which rows are its, its files and its settings."""

    name: str
    declared: str  # "ci.tenants.list[2] (acme)" or "ci.tenants.column clinic"
    filter: str  # its rows as an SQL condition, as given; "" for the column's value, or files of its own
    column: str  # ci.tenants.column
    own: dict[str, str]  # common data path -> its own file
    tree: dict[str, Any] = field(default_factory=dict)  # its ci settings, laid over the common ones
    files: dict[str, str] = field(default_factory=dict)  # common data path -> the path it reads

    @property
    def condition(self) -> str:
        """Its rows, as the messages show them: "clinic = 'north'"; "" with files of its own only."""
        return self.filter or (f"{self.column} = '{self.name}'" if self.column else "")

    def rows(self) -> Any:
        """Its rows as a polars expression: on the text of its column, or its SQL filter on typed data."""
        import polars as pl

        if not self.filter:
            return pl.col(self.column) == self.name
        try:
            return pl.sql_expr(self.filter)
        except pl.exceptions.PolarsError as error:
            first = str(error).splitlines()[0]
            raise ConfigError(
                f"{self.declared}: filter {self.filter!r} is no SQL condition: {first}"
            ) from None


class Roster:
    """The tenants of a project's settings, by name, in the order they are declared or found."""

    def __init__(self, tree: dict[str, Any], values: Any, root: Path) -> None:
        self.root = root
        self.common = tree
        self.cfg = values.tenants
        self.tenants = {t.name: t for t in _declare(self.cfg, tree, root)}
        self._sources: dict[Path, split.Source] = {}
        project = _project_name(root)
        for tenant in self.tenants.values():
            tenant.files = _files(tenant, tree)
            tenant.tree = layered(tree, tenant, project)
            _refuse_common(tenant, tree)

    @property
    def names(self) -> list[str]:
        return list(self.tenants)

    def get(self, name: str, flag: str = "--tenant") -> Tenant:
        if not self.tenants:
            raise ConfigError(f"{flag} {name}: this project has no tenants; declare them in ci.tenants")
        if name not in self.tenants:
            close = closest(name, self.tenants)
            hint = f"did you mean {close!r}? " if close else ""
            raise ConfigError(f"{flag}: unknown tenant {name!r}; {hint}tenants: {', '.join(self.tenants)}")
        return self.tenants[name]

    def choose(self, text: str, flag: str = "--tenants") -> list[str]:
        """The tenants ``all`` or ``north,south`` names, each one checked."""
        if text.strip() == "all":
            if not self.tenants:
                raise ConfigError(f"{flag} all: this project has no tenants; declare them in ci.tenants")
            return self.names
        chosen = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        if not chosen:
            raise ConfigError(f"{flag} takes all or tenant names, comma-separated; got {text!r}")
        return [self.get(name, flag).name for name in chosen]

    def prepare(self, names: list[str], *, tolerant: bool = False) -> dict[str, dict[str, int]]:
        """Write these tenants' rows of the common files; rows kept, by tenant and common path.

        ``tolerant`` leaves out a tenant whose rows cannot be taken (its own run says why)."""
        kept: dict[str, dict[str, int]] = {}
        for name in names:
            try:
                kept[name] = {
                    _shown(self.root, path): self._write(name, common, path, rows)
                    for common, path, rows in self._cut(self.tenants[name])
                }
            except ConfigError:
                if not tolerant:
                    raise
        return kept

    def ids(self, name: str, columns: list[str]) -> list[tuple[str, Any]]:
        """(how the messages name the file, its ``columns`` as text) of each data file the tenant reads,
        its rows of the common files taken in memory: nothing of another tenant is written."""
        found = []
        for common, path, rows in self._cut(self.tenants[name]):
            found.append((f"rows of {common}", self._source(path).text[rows].select(_present(columns, path))))
        for common, mine in self.tenants[name].files.items():
            if common in self.tenants[name].own:
                for path in split.expand(self.root, mine):
                    found.append((_shown(self.root, path), split.read(path, columns)))
        return found

    def _cut(self, tenant: Tenant) -> Iterator[tuple[str, Path, list[int]]]:
        """(common path, file, the indexes of the tenant's rows) of each common file it takes rows of."""
        if not tenant.condition:
            return
        condition, shown = tenant.rows(), f"{tenant.declared}: {tenant.condition}"
        for common in tenant.files:
            if common not in tenant.own:
                for path in split.expand(self.root, common):
                    yield (
                        common,
                        path,
                        self._source(path).rows(condition, typed=bool(tenant.filter), shown=shown),
                    )

    def _source(self, path: Path) -> split.Source:
        if path not in self._sources:
            self._sources[path] = split.Source(path)
        return self._sources[path]

    def _write(self, name: str, common: str, path: Path, rows: list[int]) -> int:
        self._source(path).write(_target(self.root, self.tenants[name].files[common], common, path), rows)
        return len(rows)

    def check_rows(self, name: str, kept: dict[str, dict[str, int]]) -> None:
        """ConfigError when the tenant's condition keeps no row of a file it reads."""
        tenant = self.tenants[name]
        for source, rows in kept.get(name, {}).items():
            if rows == 0:
                raise ConfigError(
                    f"tenant {name}: {tenant.condition} matches no row of {source} ({tenant.declared}); "
                    "fix its filter, or give it files of its own (data)"
                )


def layered(tree: dict[str, Any], tenant: Tenant, project: str) -> dict[str, Any]:
    """The tenant's ci settings: its own places for what it makes, its files, then its settings."""
    name = tenant.name
    mine = copy.deepcopy(tree)
    mine["report_dir"] = f"{tree['report_dir']}/tenants/{name}"
    for keys, common in data_paths(tree):
        _put(mine, keys, tenant.files[common])
    model, package, image = mine["model"], mine["package"], mine["image"]
    if model["train"]:  # the pipeline makes the model: the tenant's goes into a folder of its own
        made = Path(model["path"])
        model["path"] = str(made.parent / "tenants" / name / made.name)
    if model["baseline"]["path"]:
        model["baseline"]["path"] = _tagged(model["baseline"]["path"], name)
    golden = tree["parity"]["golden"]
    if golden and golden not in tenant.own:  # its golden rows are made here; their record is the team's
        from ci.parity.record import RECORD_SUFFIX, record_path

        record = tree["parity"]["record"] or str(record_path(Path(golden)))
        mine["parity"]["record"] = _tagged(record, name, before=RECORD_SUFFIX)
    package["name"] = f"{package['name'] or project}-{name}"
    package["out"] = f"{package['out']}/tenants/{name}"
    image["name"] = f"{image['name'] or project}-{name}"
    for section, key in (("push", "repository"), ("deploy", "name"), ("deploy", "identity_secret")):
        if mine[section][key]:
            mine[section][key] = f"{mine[section][key]}-{name}"
    for env, settings in mine["deploy"]["environments"].items():
        settings["namespace"] = f"{settings.get('namespace') or env}-{name}"
    mine = _laid(mine, _substituted(tree["tenants"]["settings"], name))
    return _laid(mine, copy.deepcopy(_own_settings(tree, name)))


def _laid(tree: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``tree``; its datasets laid on the common datasets of the same name."""
    datasets = (over.get("data") or {}).get("datasets")
    if not isinstance(datasets, list):
        return config.merged(tree, over)
    mine = [copy.deepcopy(d) for d in tree["data"]["datasets"]]
    for dataset in datasets:
        named = next(
            (i for i, d in enumerate(mine) if isinstance(dataset, dict) and d["name"] == dataset.get("name")),
            None,
        )
        if named is None:
            mine.append(dataset)
        else:
            mine[named] = config.merged(mine[named], dataset)
    over = {**over, "data": {**over["data"], "datasets": mine}}
    return config.merged(tree, over)


def data_paths(tree: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(keys, path) of every data file the settings name: datasets and their references, the
    holdout, the golden set."""
    for i, dataset in enumerate(tree["data"]["datasets"]):
        for key in ("path", "reference"):
            if dataset.get(key):
                yield ("data", "datasets", f"[{i}]", key), dataset[key]
    if tree["model"]["holdout"]:
        yield ("model", "holdout"), tree["model"]["holdout"]
    if tree["parity"]["golden"]:
        yield ("parity", "golden"), tree["parity"]["golden"]


def _declare(cfg: Any, tree: dict[str, Any], root: Path) -> list[Tenant]:
    """The tenants: the column's values (with the list's overrides), then the list's others."""
    listed = {}
    for i, item in enumerate(cfg.items):
        where = f"ci.tenants.list[{i}] ({item.name})"
        if item.name in listed:
            raise ConfigError(f"{where}: the tenant {item.name} is declared twice")
        if not (item.filter or item.data or cfg.column):
            raise ConfigError(
                f"{where}: say which rows are its (filter), give it files of its own (data), "
                "or set ci.tenants.column"
            )
        listed[item.name] = (where, item)
    found = _column_values(cfg, tree, root) if cfg.column else []
    tenants = []
    for name in [*found, *(n for n in listed if n not in found)]:
        where, item = listed.get(name, (f"ci.tenants.column {cfg.column}", None))
        tenants.append(
            Tenant(name, where, item.filter if item else "", cfg.column, dict(item.data) if item else {})
        )
    return tenants


def _column_values(cfg: Any, tree: dict[str, Any], root: Path) -> list[str]:
    """The distinct values of ci.tenants.column in its dataset, each a valid tenant name."""
    import re

    datasets = tree["data"]["datasets"]
    wanted = cfg.dataset or (datasets[0]["name"] if datasets else "")
    dataset = next((d for d in datasets if d["name"] == wanted), None)
    if dataset is None:
        names = ", ".join(d["name"] for d in datasets) or "none"
        raise ConfigError(
            f"ci.tenants.column: the tenants are read from dataset {wanted or '(none)'}, which "
            f"ci.data.datasets does not declare (datasets: {names}); set ci.tenants.dataset"
        )
    paths = split.expand(root, dataset["path"])
    if not paths:
        raise ConfigError(f"ci.tenants.column: {dataset['path']} (dataset {wanted}) has no file")
    values: dict[str, None] = {}
    for path in paths:
        frame = split.read(path, [cfg.column])
        if cfg.column not in frame.columns:
            raise ConfigError(
                f"ci.tenants.column: {_shown(root, path)} has no column {cfg.column!r}; "
                f"columns: {', '.join(split.header(path))}"
            )
        values.update(dict.fromkeys(v for v in frame[cfg.column].drop_nulls().unique().sort().to_list()))
    for value in values:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?", value):
            raise ConfigError(
                f"ci.tenants.column: {cfg.column} holds {value!r}, which cannot name a tenant (lowercase "
                "letters, digits and '-', at most 30); give such tenants a filter in ci.tenants.list "
                "and leave ci.tenants.column empty"
            )
    return list(values)


def _files(tenant: Tenant, tree: dict[str, Any]) -> dict[str, str]:
    """Common data path -> the path the tenant reads: its own file, or its rows of the common one."""
    files = {}
    for keys, common in data_paths(tree):
        if common in tenant.own:
            files[common] = tenant.own[common]
        elif tenant.condition:
            files[common] = f"{ROWS}/{tenant.name}/{_inside(common)}"
        else:
            raise ConfigError(
                f"{tenant.declared}: {config.dotted(keys)} is {common}, which is neither among its files "
                "(data) nor cut to its rows (filter); it would read every tenant's rows"
            )
    for common in tenant.own:
        if common not in files:
            raise ConfigError(
                f"{tenant.declared}: data names {common}, which no setting reads; name one of: "
                f"{', '.join(files) or 'none'}"
            )
    return files


def _target(root: Path, mine: str, common: str, source: Path) -> Path:
    """Where the tenant's rows of ``source`` go: its split path, for a glob each file by its name."""
    if not split.glob.has_magic(common):
        return root / mine
    base = Path(mine).parent
    while split.glob.has_magic(str(base)):
        base = base.parent
    fixed = Path(common).parent
    while split.glob.has_magic(str(fixed)):
        fixed = fixed.parent
    return root / base / os.path.relpath(source, root / fixed)


def _refuse_common(tenant: Tenant, tree: dict[str, Any]) -> None:
    """ConfigError when the tenant's settings point a data setting back at a common data file, which
    holds every tenant's rows."""
    for keys, path in data_paths(tenant.tree):
        if path in tenant.files:
            raise ConfigError(
                f"{tenant.declared}: its settings set {config.dotted(keys)} to {path}, the common file with "
                "every tenant's rows; give it a file of its own (ci.tenants.list[].data)"
            )


def _present(columns: list[str], path: Path) -> list[str]:
    names = split.header(path)
    return [c for c in columns if c in names]


def _inside(path: str) -> str:
    """A relative path under a tenant's rows folder, apart for a path outside the project."""
    parts = Path(path).parts
    prefix = ["_abs"] if Path(path).is_absolute() else []
    return "/".join([*prefix, *("_up" if p == ".." else p for p in parts if p not in ("/", ""))])


def _shown(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return display(path)


def _put(tree: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node: Any = tree
    for key in keys[:-1]:
        node = node[int(key[1:-1])] if key.startswith("[") else node[key]
    node[keys[-1]] = value


def _tagged(path: str, name: str, before: str | None = None) -> str:
    """``metrics/baseline.json`` -> ``metrics/baseline.north.json``; ``before`` a longer suffix."""
    suffix = before if before and path.endswith(before) else Path(path).suffix
    return f"{path.removesuffix(suffix)}.{name}{suffix}" if suffix else f"{path}.{name}"


def _substituted(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tenant}", name)
    if isinstance(value, dict):
        return {k: _substituted(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, name) for v in value]
    return value


def _own_settings(tree: dict[str, Any], name: str) -> dict[str, Any]:
    for item in tree["tenants"]["list"]:
        if item["name"] == name:
            return item.get("settings") or {}
    return {}


def _project_name(root: Path) -> str:
    from ci.image import project_metadata

    return project_metadata(root).get("name") or root.resolve().name
