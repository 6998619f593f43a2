"""What each cached stage's result depends on: its inputs for the stage cache (ci/core/cache.py).

One function per stage, from the Settings, read side by side so that a missing input shows. When in
doubt a stage reads more, not less: a needless rerun costs seconds, a stale result costs trust.
Stages that talk to the outside (push, deploy, notify) and the quick checks of the repository (git,
isolation) have none: they always run.
"""

from __future__ import annotations

import os
from typing import Any

# Files of a project that configure its tools: ruff, pytest and the build read them.
CONFIGS = ("pyproject.toml", "setup.cfg", "setup.py", "ruff.toml", ".ruff.toml", "pytest.ini", "tox.ini",
           "conftest.py", "MANIFEST.in", "requirements.txt")  # fmt: skip
EVERYTHING = ("*",)  # every installed distribution's version


def lint(s: Any) -> Any:
    from ci.core.cache import Declared

    return Declared(project=s.get("lint.paths"), exclude=made(s), files=CONFIGS, settings=["lint"],
                    libraries=["ruff"])  # fmt: skip


def test(s: Any) -> Any:
    """The tests may read any file of the project, and import any library."""
    from ci.core.cache import Declared

    return Declared(project=["."], exclude=made(s), settings=["test"], libraries=EVERYTHING)


def notebooks(s: Any) -> Any:
    from ci.core.cache import Declared

    tests = s.get("test.paths")
    return Declared(project=["."], exclude=[*made(s), *tests], settings=["notebooks"], libraries=EVERYTHING)


def data(s: Any) -> Any:
    from ci.core.cache import Declared

    datasets = s.get("data.datasets")
    files = [path for d in datasets for path in (d.path, d.reference) if path]
    return Declared(files=files, settings=["data"], libraries=["polars", "pyarrow", "numpy", "scipy"])


def model(s: Any) -> Any:
    """A model trained by a command depends on the project (its code and data), not on its tests; a
    model given as a file, on that file. Both on the baseline they are judged against."""
    from ci.core.cache import Declared
    from ci.core.environment import detect
    from ci.model import baseline as baselines
    from ci.pullrequest.find import follow_build

    cfg = s.get("model")
    if not cfg.path:
        return None
    b = follow_build(cfg.baseline, detect().environ)  # as the stage reads it: a pull request's target
    base = baselines.read(b.path, b.rev, b.branch, run=s.runner(), root=s.root)
    values = {"baseline": f"{base.source}: {base.metrics} {base.segments}"}
    settings = [f"model.{name}" for name in cfg.__struct_fields__ if name != "onnx"]  # the onnx stage's
    if cfg.train:  # the command is told where each dataset is (DSCI_DATA_<NAME>)
        values["datasets"] = " ".join(f"{d.name}={d.path}" for d in s.get("data.datasets"))
        return Declared(
            project=["."], exclude=[*made(s), *s.get("test.paths"), cfg.path], files=[cfg.holdout],
            settings=settings, libraries=EVERYTHING, values=values, outputs=[cfg.path],
        )  # fmt: skip
    return Declared(files=[cfg.path, cfg.holdout], settings=settings, libraries=EVERYTHING, values=values)


def onnx(s: Any) -> Any:
    from ci.core.cache import Declared

    cfg = s.get("model")
    return Declared(files=[cfg.path, cfg.holdout], settings=["model"], libraries=EVERYTHING)


def package(s: Any) -> Any:
    """The wheel and sdist hold the project's files; the bundle the model and the metrics; the manifest
    the commit and the settings; the encryption the recipients."""
    from ci.core.cache import Declared
    from ci.tasks.security import settings_digest

    values = {**commit(s), "settings": settings_digest(s),
              **outside(s, s.get("security.recipients"))}  # fmt: skip
    metrics = os.path.relpath(s.report_dir / "metrics.json", s.root)
    return Declared(
        project=["."], exclude=made(s), files=[metrics, s.get("model.path")],
        settings=["package", "model", "security"], libraries=EVERYTHING, values=values,
    )  # fmt: skip


def sign(s: Any) -> Any:
    """The provenance signs the bundle and its manifest, with the key, for the commit."""
    from ci.core.cache import Declared
    from ci.tasks.security import settings_digest

    security = s.get("security")
    if security.key_file:
        key = outside(s, [security.key_file])
    else:  # a key from the CI's secret store: by its digest, never its text
        key = {"key": _digest(s.secret("security.key_env"))}
    values = {**commit(s), "settings": settings_digest(s), **key}
    return Declared(
        files=bundle_files(s), settings=["security", "package"], libraries=EVERYTHING, values=values
    )


def image(s: Any) -> Any:
    """The image holds the base, the package's files and the pinned libraries; its smoke test predicts the
    golden rows with the identity. An image is restored only while the engine still has it; a tenant's
    is always built, since its isolation check compares it with the other tenants' files as they are."""
    from ci.core.cache import Declared

    if s.tenant:
        return None
    security = s.get("security")
    values = {"base": base_image(s.get("image.base")), "signature": signature(s),
              **outside(s, security.trusted),
              **outside(s, [security.identity_file])}  # fmt: skip
    tables = [s.get("parity.golden"), s.get("model.holdout"), s.get("image.requirements_file")]
    return Declared(
        files=[*bundle_files(s), *CONFIGS, *(t for t in tables if t)],
        settings=["image", "model", "security", "package"], libraries=EVERYTHING, values=values,
        usable=lambda result: engine_has(s),
    )  # fmt: skip


def parity(s: Any) -> Any:
    """The image built (by its id), and the golden set development scores with the model."""
    import json

    from ci.core.cache import Declared
    from ci.parity.record import record_path

    if s.tenant:
        return None
    made_image = s.report_dir / "image" / "image.json"
    try:
        image_id = json.loads(made_image.read_text(encoding="utf-8"))["id"]
    except (OSError, ValueError, KeyError):
        return None  # no image built: the stage says so itself
    security = s.get("security")
    golden = s.get("parity.golden")
    record = s.get("parity.record") or (
        os.path.relpath(record_path(s.root / golden), s.root) if golden else ""
    )
    files = [s.get("model.path"), s.get("model.holdout"), golden, record]
    values = {"image": image_id, **outside(s, [security.identity_file])}
    return Declared(files=[f for f in files if f], settings=["parity", "model"], libraries=EVERYTHING,
                    values=values, usable=lambda result: engine_has(s))  # fmt: skip


# Helpers ----------------------------------------------------------------------


def commit(s: Any) -> dict[str, str]:
    """The commit and whether the tree was dirty: the bundle is named after both."""
    stamp = s.stamp()
    return {"commit": stamp.get("commit") or "", "dirty": str(bool(stamp.get("dirty")))}


def made(s: Any) -> list[str]:
    """What dsci writes inside the project: never an input of a stage."""
    return [s.get("report_dir"), s.get("cache.dir"), s.get("package.out")]


def bundle_files(s: Any) -> list[str]:
    """The package stage's files: wheel, sdist, bundle, manifest (not the provenance: see signature)."""
    out = s.root / s.get("package.out")
    if not out.is_dir():
        return []
    found = [p for p in out.iterdir() if p.is_file() and not p.name.endswith(".intoto.jsonl")]
    return sorted(os.path.relpath(p, s.root) for p in found)


def signature(s: Any) -> str:
    """The sign stage's line of the provenance, by digest ("" when unsigned): the push adds a line of its
    own to the file, which is no input of the image."""
    out = s.root / s.get("package.out")
    found = sorted(out.glob("*.intoto.jsonl")) if out.is_dir() else []
    lines = found[-1].read_bytes().splitlines() if found else []
    return _digest(lines[0]) if lines else ""


def outside(s: Any, paths: list[str]) -> dict[str, str]:
    """Files named in the settings (keys, often outside the project) by content, named as written."""
    from ci.security import keys

    found = {}
    for given in filter(None, paths):  # a setting left empty names no file
        path = keys.expand(given, s.root)
        found[given] = _digest(path.read_bytes()) if path.is_file() else "missing"
    return found


def base_image(name: str) -> str:
    """The base image's id in the Docker engine ("" when none answers): a rebuilt base is a new input."""
    from ci.core import engine

    status, body = engine.call("GET", f"/images/{name}/json")
    return body.get("Id", "") if status == 200 and isinstance(body, dict) else ""


def engine_has(s: Any) -> str:
    """Why the image a restored stage names is not usable here, or "": the engine must still have it,
    with its tags (put back when they were moved)."""
    import json
    from urllib.parse import quote

    from ci.core import engine

    built = json.loads((s.report_dir / "image" / "image.json").read_text(encoding="utf-8"))
    status, shown = engine.call("GET", f"/images/{built['id']}/json")
    if status != 200:
        return f"the Docker engine no longer has the image {built['id'][:19]}"
    for tag in built["tags"]:
        if tag not in (shown.get("RepoTags") or []):
            repository, _, name = tag.rpartition(":")
            engine.call("POST", f"/images/{built['id']}/tag?repo={quote(repository)}&tag={quote(name)}")
    return ""


def _digest(data: str | bytes) -> str:
    import hashlib

    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
