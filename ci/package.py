"""Packaging: a wheel and sdist of the project, and a deterministic model bundle with its manifest.

The bundle is a plain tar of the model files and ``manifest.json`` (each
file's sha256 and size, the git commit and a dirty flag, the build time,
the Python version, the lock of installed distributions, the metrics of the
model stage, a digest of the effective config). Entries are sorted, times
fixed, owners blank: the same inputs give the same bytes, so the same hash.

With age recipients (ci.security.recipients) the bundle leaves the stage
encrypted to them (``.bundle.tar.age``), streamed through ``pyrage``: the
plain tar exists only in a private temporary folder while it is encrypted.
Beside the bundle: its manifest (``.manifest.json``, the same bytes as in
the tar) and the plain tar's ``.sha256`` (``sha256sum``'s format; of the plain
tar even when only its ciphertext is kept). The sign stage signs them, and the
ciphertext as it finds it.
"""

from __future__ import annotations

import glob
import io
import json
import os
import platform
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ci.core import settings
from ci.core.errors import CheckFailed, ConfigError
from ci.core.files import atomic, sha256_file, write_bytes, write_text
from ci.core.git import git_state
from ci.core.process import Runner, python_module
from ci.core.results import Check, StageResult, Status
from ci.core.text import display

MANIFEST = "manifest.json"
SUFFIXES = (".bundle.tar", ".bundle.tar.age")


def latest_bundle(dist: Path) -> Path | None:
    """The bundle the package stage wrote last in ``dist``, plain or encrypted."""
    found = [p for suffix in SUFFIXES for p in dist.glob(f"*{suffix}")] if dist.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def stem(bundle: Path) -> str:
    """``clinic-abc1234`` of ``clinic-abc1234.bundle.tar.age``: its manifest and provenance go by it."""
    return next(bundle.name.removesuffix(s) for s in reversed(SUFFIXES) if bundle.name.endswith(s))


def plain_digest(bundle: Path) -> tuple[str, str]:
    """(name, sha256) of the bundle's plain tar, from its .sha256 file (for an encrypted bundle too)."""
    name = f"{stem(bundle)}.bundle.tar"
    record = bundle.with_name(f"{name}.sha256")
    if not record.is_file():
        raise ConfigError(f"{display(record)}: missing; `invoke ci.package` writes it beside the bundle")
    digest, _, recorded = record.read_text(encoding="utf-8").strip().partition("  ")
    if recorded != name:
        raise ConfigError(f"{display(record)}: names {recorded!r}, not {name}; run `invoke ci.package` again")
    return name, digest


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


def manifest_bytes(content: Mapping[str, Any]) -> bytes:
    return (json.dumps(content, indent=2, sort_keys=True) + "\n").encode()


def write_bundle(
    target: Path, files: Sequence[tuple[str, Path]], content: Mapping[str, Any], mtime: int
) -> Path:
    """The tar of the manifest and the files, written atomically: a crash leaves no partial bundle."""
    listing = manifest_bytes(content)
    with atomic(target) as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_entry(MANIFEST, len(listing), mtime), io.BytesIO(listing))
        for arcname, path in files:
            with open(path, "rb") as f:
                tar.addfile(_entry(arcname, path.stat().st_size, mtime), f)
    return target


def encrypt(plain: Path, target: Path, recipients: Sequence[Any]) -> None:
    """``plain`` encrypted to the age ``recipients`` at ``target``, streamed by pyrage (in Rust, at the
    age command's speed), written atomically."""
    import pyrage

    partial = target.with_name(f".{target.name}.partial")
    try:
        pyrage.encrypt_file(str(plain), str(partial), list(recipients))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


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


def wants_distributions(cfg: settings.Package, root: Path) -> bool:
    return cfg.wheel == "true" or (cfg.wheel == "auto" and is_package(root))


def copy_distributions(folder: Path, out: Path) -> list[Path]:
    """The wheel and sdist of ``folder``, copied into ``out``; ConfigError when it has no wheel."""
    import shutil

    found = sorted(folder.glob("*.whl")) + sorted(folder.glob("*.tar.gz"))
    if not any(p.suffix == ".whl" for p in found):
        raise ConfigError(
            f"ci.package.distributions: {display(folder)} holds no wheel; build one, or empty it"
        )
    out.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, out / p.name)) for p in found]


def build_distributions(run: Runner, root: Path, out: Path, isolation: bool, epoch: int = 0) -> list[Path]:
    """A wheel and an sdist with `python -m build`; CheckFailed with its last line when it fails. Stamped
    ``epoch`` (SOURCE_DATE_EPOCH), a commit's wheel is the same bytes each time: the image's code layer
    comes from Docker's cache."""
    build = python_module("build", "pip install build")
    before = set(out.glob("*")) if out.is_dir() else set()
    argv = [*build, "--outdir", str(out), *([] if isolation else ["--no-isolation"]), str(root)]
    done = run(argv, quiet=False, env={"SOURCE_DATE_EPOCH": str(epoch)} if epoch else None)
    if not done.ok:
        last = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-1:] or ["failed"]
        raise CheckFailed(f"python -m build could not build {display(root)}: {last[0].strip()}")
    return sorted(set(out.glob("*")) - before) or sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))


def package(
    cfg: settings.Package, *, run: Runner, root: Path, out: Path, metrics_file: Path, config_digest: str,
    model_path: str, git: Mapping[str, Any] | None = None, recipients: Sequence[Any] = (),
) -> StageResult:  # fmt: skip
    """The package stage: distributions when the project is a package, then the bundle, stamped with
    ``git`` (the run's build stamp; computed here when not given), encrypted to ``recipients``."""
    checks, artifacts = [], []
    patterns = cfg.bundle or ([model_path] if model_path else [])
    paths = bundle_files(patterns, root)  # before the build: a wrong pattern need not wait for it
    if cfg.distributions:
        built = copy_distributions(root / cfg.distributions, out)
        artifacts += built
        message = f"{', '.join(p.name for p in built)}, as built in {display(root / cfg.distributions)}"
        checks.append(Check("distributions", Status.PASSED, message))
    elif wants_distributions(cfg, root):
        git = git or git_state(run)
        built = build_distributions(run, root, out, cfg.isolation, build_time(git))
        artifacts += built
        checks.append(Check("distributions", Status.PASSED, ", ".join(p.name for p in built)))
    if not paths:
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
        paths, name=name, git=git, built=build_time(git), metrics=metrics, config_digest=config_digest
    )
    suffix = f"-{git['commit'][:7]}" if git["commit"] else ""
    suffix += "-dirty" if git["dirty"] else ""
    out.mkdir(parents=True, exist_ok=True)
    for kind in SUFFIXES:  # a bundle of the other kind, left from an earlier run, would look newer
        (out / f"{name}{suffix}{kind}").unlink(missing_ok=True)
    plain_name = f"{name}{suffix}.bundle.tar"
    with tempfile.TemporaryDirectory(prefix="dsci-bundle-") as private:
        plain = write_bundle(
            (Path(private) if recipients else out) / plain_name, paths, content, content["built"]
        )
        digest, size = sha256_file(plain)
        bundle = plain
        if recipients:
            bundle = out / f"{plain_name}.age"
            encrypt(plain, bundle, recipients)
    write_text(out / f"{plain_name}.sha256", f"{digest}  {plain_name}\n")
    write_bytes(out / f"{name}{suffix}.manifest.json", manifest_bytes(content))
    secret = f", encrypted to {len(recipients)} recipients" if recipients else ""
    message = f"{bundle.name}: {len(paths)} files, {size} bytes, sha256 {digest[:12]}…{secret}"
    details = {"sha256": digest, "size": size, "files": content["files"], "git": content["git"],
               "encrypted": bool(recipients)}  # fmt: skip
    checks.append(Check("bundle", Status.PASSED, message, details=details))
    artifacts += [bundle, out / f"{plain_name}.sha256", out / f"{name}{suffix}.manifest.json"]
    return StageResult("package", checks, [str(a) for a in artifacts])
