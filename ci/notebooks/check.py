"""The notebooks stage: each tracked notebook stripped (by nbstripout's own logic), its outputs free of
personal data, its code clean for ruff, and the chosen ones run."""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core import imports, settings
from ci.core.errors import ConfigError, EnvError
from ci.core.process import Runner, python_module
from ci.core.results import Check, StageResult, Status, group
from ci.core.text import display, first_line
from ci.data import pii
from ci.notebooks import NOTEBOOKS_EXTRA

# What nbstripout strips besides outputs and counts, as its command line does (nbstripout 0.9's defaults);
# ci.notebooks.keep_metadata takes keys out, as its keepmetadatakeys setting does.
STRIPPED_METADATA = (
    "metadata.signature", "metadata.widgets", "cell.metadata.collapsed", "cell.metadata.ExecuteTime",
    "cell.metadata.execution", "cell.metadata.heading_collapsed", "cell.metadata.hidden",
    "cell.metadata.scrolled",
)  # fmt: skip


@dataclass
class Notebook:
    path: Path
    shown: str  # as the report names it: relative to the project
    node: Any  # nbformat's NotebookNode


def check_all(cfg: settings.Notebooks, *, root: Path, run: Runner, report_dir: Path) -> StageResult:
    from ci.notebooks import run as running

    paths = tracked(cfg.paths, root, run)
    if not paths:
        where = ", ".join(cfg.paths)
        return StageResult("notebooks", skipped=f"no notebooks under {where} (ci.notebooks.paths)")
    shown = [_shown(path, root) for path in paths]
    for pattern in cfg.execute:
        if not any(fnmatch.fnmatch(name, pattern) for name in shown):
            raise ConfigError(f"ci.notebooks.execute: {pattern} matches no notebook git tracks")
    filtered = stripped_on_commit(paths, root, run)
    checks, notebooks = [], []
    for path in paths:
        notebook, unreadable = read(path, root)
        if unreadable:
            checks.append(unreadable)
            continue
        notebooks.append(notebook)
        if path in filtered:  # outputs on this disk never reach a commit: judge what git holds instead
            staged = run(["git", "show", f":{os.path.relpath(path, root)}"])
            notebook, unreadable = read(path, root, staged.stdout) if staged.ok else (None, None)
            if unreadable or notebook is None:
                checks.append(unreadable or _unreadable(_shown(path, root), "not in git's index"))
                continue
        checks.append(stripped(notebook, cfg.keep_metadata))
        checks += personal_data(notebook)
    if cfg.lint and notebooks:
        checks += lint([n.path for n in notebooks], run=run, root=root)
    chosen = [n for n in notebooks if any(fnmatch.fnmatch(n.shown, pattern) for pattern in cfg.execute)]
    for notebook in chosen:
        checks.append(running.execute(notebook, cfg, out=report_dir / "notebooks"))
    return StageResult("notebooks", checks)


def tracked(patterns: Sequence[str], root: Path, run: Runner) -> list[Path]:
    """The notebooks git tracks under ``patterns`` (every one found, outside a git repository)."""
    listed = run(["git", "ls-files", "-z", "--", *(_notebooks_under(p) for p in patterns)])
    if listed.ok:
        return sorted(root / name for name in listed.stdout.split("\0") if name)
    found: set[Path] = set()
    for pattern in patterns:
        base = root / pattern
        found.update([base] if base.suffix == ".ipynb" else base.rglob("*.ipynb"))
    return sorted(p for p in found if p.is_file() and ".ipynb_checkpoints" not in p.parts)


def stripped_on_commit(paths: Sequence[Path], root: Path, run: Runner) -> set[Path]:
    """The notebooks git passes through nbstripout when they are committed: the attribute says so and
    this repository has the filter configured (``ci.notebooks.setup``; a CI's fresh clone has not)."""
    if not paths or not run(["git", "config", "--get", "filter.nbstripout.clean"]).stdout.strip():
        return set()
    names = {os.path.relpath(p, root): p for p in paths}  # git runs in the project's root
    said = run(["git", "check-attr", "-z", "filter", "--", *names]).stdout.split("\0")
    triples = (said[i : i + 3] for i in range(0, len(said) - 2, 3))  # path, attribute, value
    return {names[path] for path, _, value in triples if value == "nbstripout" and path in names}


def _shown(path: Path, root: Path) -> str:
    return display(path.relative_to(root) if path.is_relative_to(root) else path)


def _notebooks_under(path: str) -> str:
    """A git pathspec for the notebooks under ``path`` (its ``*`` crosses folders)."""
    if path.endswith(".ipynb"):
        return path
    folder = path.rstrip("/")
    return "*.ipynb" if folder in ("", ".") else f"{folder}/*.ipynb"


def read(path: Path, root: Path, text: str | None = None) -> tuple[Notebook | None, Check | None]:
    """The notebook (from ``text`` when given: what git holds of it), or the check that says why it
    cannot be read (not JSON, not nbformat 4)."""
    imports.jsonschema()
    try:
        import nbformat
    except ImportError:
        raise EnvError(f"nbformat is not installed; install it with `{NOTEBOOKS_EXTRA}`") from None
    shown = _shown(path, root)
    try:
        data = json.loads(path.read_text(encoding="utf-8") if text is None else text)
    except FileNotFoundError:
        return None, _unreadable(shown, "tracked by git but not on disk; restore it or `git rm` it")
    except (ValueError, UnicodeDecodeError) as error:
        return None, _unreadable(shown, f"not valid JSON: {first_line(error)}")
    major = data.get("nbformat") if isinstance(data, dict) else None
    if major != 4:
        fix = f"`jupyter nbconvert --to notebook --nbformat 4 --inplace {shlex.quote(shown)}`"
        return None, _unreadable(shown, f"nbformat {major}, not 4; convert it with {fix}")
    if not isinstance(data.get("cells"), list) or not isinstance(data.get("metadata"), dict):
        return None, _unreadable(shown, "not a notebook: nbformat 4 needs a list of cells and metadata")
    # As nbformat.reads gives it (multi-line strings joined), without its schema validation, which costs
    # more than every check here: a notebook nbformat would call invalid fails the strip check anyway.
    return Notebook(path, shown, nbformat.v4.to_notebook_json(data)), None


def _unreadable(shown: str, why: str) -> Check:
    return Check(shown, Status.FAILED, why, group=group("notebooks", "read"), file=shown)


def stripped(notebook: Notebook, keep_metadata: Sequence[str]) -> Check:
    """Whether nbstripout would change the notebook; if so, what, cell by cell."""
    try:
        from nbstripout import MetadataError, strip_output
    except ImportError:
        raise EnvError(f"nbstripout is not installed; install it with `{NOTEBOOKS_EXTRA}`") from None
    original = notebook.node
    extra = [key for key in STRIPPED_METADATA if key not in keep_metadata]
    common = {"group": group("notebooks", "strip"), "file": notebook.shown}
    try:  # keep_output None: a notebook's own keep_output metadata holds, as with nbstripout's command
        clean = strip_output(copy.deepcopy(original), None, False, False, extra_keys=extra)
    except MetadataError as error:
        return Check(notebook.shown, Status.FAILED, f"nbstripout cannot strip it: {error}", **common)
    where = {"outputs": [], "execution counts": [], "cell metadata": [], "cell ids": []}
    for number, (cell, after) in enumerate(zip(original.cells, clean.cells, strict=False), start=1):
        if cell.get("outputs") != after.get("outputs"):
            where["outputs"].append(number)
        if cell.get("execution_count") != after.get("execution_count"):
            where["execution counts"].append(number)
        if cell.get("metadata") != after.get("metadata"):
            where["cell metadata"].append(number)
        if cell.get("id") != after.get("id"):
            where["cell ids"].append(number)
    found = [f"{what} in {_cells(numbers)}" for what, numbers in where.items() if numbers]
    if original.metadata != clean.metadata:
        found.append("notebook metadata")
    common["details"] = {"cells": {what: numbers for what, numbers in where.items() if numbers}}
    if not found:
        return Check(notebook.shown, Status.PASSED, "stripped: no outputs, no execution counts", **common)
    fix = (
        f"run `nbstripout {shlex.quote(notebook.shown)}`, and `invoke ci.notebooks.setup` once to strip "
        "every commit"
    )
    message = f"not stripped: {'; '.join(found)}; {fix}"
    return Check(notebook.shown, Status.FAILED, message, **common)


def _cells(numbers: list[int]) -> str:
    """``cells 2, 3, 5`` (or ``cell 4``), in the 1-based numbering ruff uses."""
    return f"cell {numbers[0]}" if len(numbers) == 1 else "cells " + ", ".join(map(str, numbers))


def personal_data(notebook: Notebook) -> list[Check]:
    """Personal data in the cells' outputs, found by the PII scan of ci.data.pii; values masked."""
    checks = []
    for number, cell in enumerate(notebook.node.cells, start=1):
        text = "\n".join(_output_text(output) for output in cell.get("outputs", []))
        for finding in pii.scan_text(text, notebook.shown) if text else []:
            shown = f" (e.g. {', '.join(finding.examples)})" if finding.examples else ""
            checks.append(Check(
                f"{finding.kind} in {notebook.shown} cell {number}", Status.FAILED,
                f"{finding.count} {finding.kind} value(s) in the output of cell {number}{shown}",
                value=finding.count, threshold=0, group=group("notebooks", "pii"), file=notebook.shown,
                details={"cell": number, "kind": finding.kind, "examples": finding.examples},
            ))  # fmt: skip
    return checks


def _output_text(output: Any) -> str:
    parts = [output.get("text", "")]
    for kind, value in (output.get("data") or {}).items():
        if kind.startswith("text/") or kind.endswith("json"):
            parts.append(value if isinstance(value, str) else json.dumps(value))
    parts += output.get("traceback", [])
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def lint(paths: Sequence[Path], *, run: Runner, root: Path) -> list[Check]:
    """ruff over the notebooks, each finding naming its cell and the line in it."""
    from ci.quality import RUFF, refuse_ruff_error, relative

    ruff = python_module("ruff", RUFF)
    found = run([*ruff, "check", "--output-format", "json", *(str(p) for p in paths)])
    refuse_ruff_error(found, "ci.notebooks.paths")
    checks = []
    for item in json.loads(found.stdout or "[]"):
        file = relative(item["filename"], root)
        cell, row = item.get("cell"), (item.get("location") or {}).get("row")
        where = f"cell {cell}, line {row}" if cell else f"line {row}"
        code = item.get("code") or "syntax-error"
        checks.append(Check(
            f"{code} {file} {where}", Status.FAILED, item.get("message", ""),
            group=group("notebooks", "ruff"), file=file, details={"cell": cell, "line": row, "code": code},
        ))  # fmt: skip
    if not checks:
        checks.append(Check("ruff", Status.PASSED, f"no findings in {len(paths)} notebook(s)"))
    return checks
