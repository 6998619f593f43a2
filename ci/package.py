"""Packaging: a wheel and sdist of the project, and a deterministic model bundle with its manifest.

The bundle is a plain tar of the model files and ``manifest.json`` (each
file's sha256 and size, the git commit and a dirty flag, the build time,
the Python version, the lock of installed distributions, the metrics of the
model stage, a digest of the effective config). Entries are sorted, times
fixed, owners blank: the same inputs give the same bytes, so the same hash.
"""

from __future__ import annotations

import glob
import io
import json
import os
import platform
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ci.core import settings
from ci.core.errors import CheckFailed, ConfigError
from ci.core.files import atomic, sha256_file
from ci.core.git import git_state
from ci.core.process import Runner, python_module
from ci.core.results import Check, StageResult, Status
from ci.core.text import display

MANIFEST = "manifest.json"


def build_time(git: Mapping[str, Any]) -> int:
    """SOURCE_DATE_EPOCH when set, else the commit's time: builds of one commit stamp alike."""
    stamp = os.environ.get("SOURCE_DATE_EPOCH", "")
    if stamp.isdigit():
        return int(stamp)
    return git["time"] or 0


def lock() -> list[str]:
    """Every installed distribution as name==version, sorted: what the image must install too."""
    from importlib import metadata

    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower().replace("_", "-")] = f"{name}=={dist.version}"
    return [found[key] for key in sorted(found)]


def bundle_files(patterns: Sequence[str], root: Path) -> list[tuple[str, Path]]:
    """(name in the bundle, file) for every file the patterns match, sorted.

    A pattern that matches no file is a ConfigError: the bundle would silently lack it."""
    chosen: dict[str, Path] = {}
    for pattern in patterns:
        matches = [Path(m) for m in glob.glob(str(root / pattern), recursive=True)]
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise ConfigError(
                f"ci.package.bundle: {pattern} matches no file; train the model first or fix the pattern"
            )
        for match in matches:
            chosen[match.relative_to(root).as_posix()] = match
    return sorted(chosen.items())


def manifest(
    files: Iterable[tuple[str, Path]], *, name: str, git: Mapping[str, Any], built: int,
    metrics: Mapping[str, Any] | None, config_digest: str,
) -> dict[str, Any]:  # fmt: skip
    entries = []
    for arcname, path in files:
        digest, size = sha256_file(path)
        entries.append({"path": arcname, "sha256": digest, "size": size})
    return {
        "name": name,
        "files": entries,
        "git": {"commit": git["commit"], "dirty": git["dirty"]},
        "built": built,
        "python": platform.python_version(),
        "lock": lock(),
        "metrics": metrics,
        "config_sha256": config_digest,
    }


def write_bundle(
    target: Path, files: Sequence[tuple[str, Path]], content: Mapping[str, Any], mtime: int
) -> Path:
    """The tar of the manifest and the files, written atomically: a crash leaves no partial bundle."""
    manifest_bytes = (json.dumps(content, indent=2, sort_keys=True) + "\n").encode()
    with atomic(target) as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_entry(MANIFEST, len(manifest_bytes), mtime), io.BytesIO(manifest_bytes))
        for arcname, path in files:
            with open(path, "rb") as f:
                tar.addfile(_entry(arcname, path.stat().st_size, mtime), f)
    return target


def _entry(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def is_package(root: Path) -> bool:
    """Whether the project builds as a Python package (pyproject with [project], or setup.py / setup.cfg)."""
    if (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        return True
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return False
    import tomllib

    try:
        return "project" in tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{display(pyproject)}: not valid TOML: {error}") from None


def build_distributions(run: Runner, root: Path, out: Path, isolation: bool) -> list[Path]:
    """A wheel and an sdist with `python -m build`; CheckFailed with its last line when it fails."""
    build = python_module("build", "pip install build")
    before = set(out.glob("*")) if out.is_dir() else set()
    argv = [*build, "--outdir", str(out), *([] if isolation else ["--no-isolation"]), str(root)]
    done = run(argv, quiet=False)
    if not done.ok:
        last = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-1:] or ["failed"]
        raise CheckFailed(f"python -m build could not build {display(root)}: {last[0].strip()}")
    return sorted(set(out.glob("*")) - before) or sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))


def package(
    cfg: settings.Package, *, run: Runner, root: Path, out: Path, metrics_file: Path, config_digest: str,
    model_path: str, git: Mapping[str, Any] | None = None,
) -> StageResult:  # fmt: skip
    """The package stage: distributions when the project is a package, then the bundle, stamped with
    ``git`` (the run's build stamp; computed here when not given)."""
    checks, artifacts = [], []
    patterns = cfg.bundle or ([model_path] if model_path else [])
    files = bundle_files(patterns, root)  # before the build: a wrong pattern need not wait for it
    wanted = cfg.wheel
    if wanted == "true" or (wanted == "auto" and is_package(root)):
        built = build_distributions(run, root, out, cfg.isolation)
        artifacts += built
        checks.append(Check("distributions", Status.PASSED, ", ".join(p.name for p in built)))
    if not files:
        if checks:
            return StageResult("package", checks, [str(a) for a in artifacts])
        return StageResult(
            "package", skipped="nothing to package: no Python package, no model (ci.package.bundle)"
        )
    git = git or git_state(run)
    measured = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
    metrics = None if measured is None else {k: measured.get(k) for k in ("metrics", "segments")}
    name = cfg.name or root.resolve().name
    content = manifest(
        files, name=name, git=git, built=build_time(git), metrics=metrics, config_digest=config_digest
    )
    suffix = f"-{git['commit'][:7]}" if git["commit"] else ""
    suffix += "-dirty" if git["dirty"] else ""
    bundle = write_bundle(out / f"{name}{suffix}.bundle.tar", files, content, content["built"])
    digest, size = sha256_file(bundle)
    (out / f"{bundle.name}.sha256").write_text(f"{digest}  {bundle.name}\n")
    message = f"{bundle.name}: {len(files)} files, {size} bytes, sha256 {digest[:12]}…"
    details = {"sha256": digest, "size": size, "files": content["files"], "git": content["git"]}
    checks.append(Check("bundle", Status.PASSED, message, details=details))
    artifacts += [bundle, out / f"{bundle.name}.sha256"]
    return StageResult("package", checks, [str(a) for a in artifacts])
