"""The model-serving image: a Dockerfile rendered from the package's template, built offline.

Dependencies come from a wheelhouse made on the host from the versions
installed in development (the project's dependencies and theirs), so the
image installs exactly the wheels dev used, with the network off during the
build. Layers: dependencies, then the project's wheel, then the bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.config import display
from ci.core.errors import CheckFailed, ConfigError, EnvError
from ci.core.process import Runner
from ci.core.results import Check, StageResult, Status
from ci.package import sha256_file

SERVER = "gunicorn"
CODE_LAYER = """COPY code /tmp/code
RUN /opt/venv/bin/pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check \\
        /tmp/code/*.whl && rm -rf /tmp/code
"""


def client() -> Any:
    """A Docker SDK client, or EnvError saying how to get an engine."""
    try:
        import docker
    except ImportError:
        raise EnvError(
            "the docker SDK is not installed; install it with `pip install 'dsci[docker]'`"
        ) from None
    try:
        engine = docker.from_env()
        engine.ping()
    except Exception:
        raise EnvError(
            "no Docker engine answers at unix:///var/run/docker.sock; start one with `scripts/services up`"
        ) from None
    return engine


def built(work: Path) -> dict[str, Any]:
    """What the last ``ci.image`` built (its image.json in ``work``), or ConfigError saying to build one."""
    record = work / "image.json"
    if not record.is_file():
        raise ConfigError("no image built yet; `invoke ci.image` builds one")
    return json.loads(record.read_text(encoding="utf-8"))


def project_metadata(root: Path) -> dict[str, Any]:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    return tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})


def pins(requirements: Iterable[str]) -> list[str]:
    """name==version for the requirements and all they need, as installed here; EnvError for one missing."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(requirement.name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise EnvError(
                f"{requirement.name} is needed in the image but not installed here: "
                f"install it (`pip install {requirement.name}`) so the image gets the version you tested with"
            ) from None
        found[key] = f"{dist.metadata['Name']}=={dist.version}"
        todo.extend(dist.requires or [])
    return [found[key] for key in sorted(found)]


def wheelhouse(pinned: list[str], folder: Path, run: Runner, index_url: str | None = None) -> None:
    """Fetch the wheels of exactly these versions (pip's cache makes a second time cheap).

    A private index's URL, credentials and all, is used here on the host only:
    nothing of it reaches the build context or a layer."""
    folder.mkdir(parents=True, exist_ok=True)
    index = ["--index-url", index_url] if index_url else []
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", *index, "--dest", str(folder), *pinned]  # fmt: skip
    done = run(argv)
    if not done.ok:
        detail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-1:] or [
            "failed"
        ]
        raise EnvError(f"could not fetch the wheels for the image: {detail[0].strip()}")


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def render(template: str, **values: str) -> str:
    return template.format(**values)


def build_image(
    cfg: Mapping[str, Any], *, run: Runner, root: Path, dist: Path, work: Path, git: Mapping[str, Any],
    stream: Any = None,
) -> StageResult:  # fmt: skip
    bundle = newest(dist, "*.bundle.tar")
    if bundle is None:
        raise ConfigError(f"no model bundle in {display(dist)}; `invoke ci.package` makes one")
    engine = client()
    if not _has_image(engine, cfg["base"]):
        raise EnvError(
            f"base image {cfg['base']} is not available: `docker pull {cfg['base']}`, "
            "or build one offline with `scripts/services up`"
        )
    _same_python(engine, cfg["base"])
    _has_packages(engine, cfg["base"], cfg["system_packages"])
    project = project_metadata(root)
    wheel = newest(dist, "*.whl")
    requirements = [*project.get("dependencies", []), *cfg["requirements"], SERVER]
    pinned = pins(requirements)
    context = work / "context"
    shutil.rmtree(context, ignore_errors=True)
    (context / "code").mkdir(parents=True)
    index_url = os.environ.get(cfg["index_url_env"]) if cfg["index_url_env"] else None
    if cfg["index_url_env"] and not index_url:
        raise ConfigError(
            f"ci.image.index_url_env: the environment variable {cfg['index_url_env']} is not set"
        )
    wheelhouse(pinned, work / "wheelhouse", run, index_url)
    shutil.copytree(work / "wheelhouse", context / "wheelhouse")
    files.write_text(context / "requirements.txt", "\n".join(pinned) + "\n")
    if wheel is not None:
        shutil.copy2(wheel, context / "code" / wheel.name)
    shutil.copy2(bundle, context / "bundle.tar")
    files.write_bytes(
        context / "app.py", resources.files("ci").joinpath("resources/image/app.py").read_bytes()
    )
    files.write_text(context / ".dockerignore", "**/__pycache__\n**/*.pyc\n")
    bundle_sha, _ = sha256_file(bundle)
    name = cfg["name"] or project.get("name") or root.resolve().name
    version = project.get("version", "0.0.0")
    short = (git.get("commit") or "unknown")[:7]
    template = resources.files("ci").joinpath("resources/image/Dockerfile").read_text()
    dockerfile = render(
        template, base=cfg["base"], code=CODE_LAYER if wheel else "", revision=git.get("commit") or "",
        source=cfg["source"], version=version, created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        bundle_sha256=bundle_sha,
    )  # fmt: skip
    files.write_text(context / "Dockerfile", dockerfile)
    tags = [f"{name}:{version}-{short}"] + ([f"{name}:latest"] if cfg["latest"] else [])
    image_id = _build(engine, context, tags[0], stream)
    for tag in tags[1:]:
        engine.images.get(image_id).tag(*tag.split(":", 1))
    size = engine.images.get(image_id).attrs["Size"]
    details = {
        "tags": tags,
        "id": image_id,
        "size": size,
        "bundle_sha256": bundle_sha,
        "requirements": pinned,
    }
    files.write_text(work / "image.json", json.dumps(details, indent=2) + "\n")
    message = f"{', '.join(tags)}: {size / 2**20:.0f} MiB, built with the network off"
    return StageResult(
        "image", [Check("image", Status.PASSED, message, details=details)], [str(work / "image.json")]
    )


def _same_python(engine: Any, base: str) -> None:
    """The wheelhouse holds wheels for this Python: the base image must run the same major.minor."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        output = engine.containers.run(base, ["python3", "-c", probe], network_mode="none", remove=True)
    except Exception as error:
        raise ConfigError(f"ci.image.base: {base} cannot run python3: {str(error).splitlines()[0]}") from None
    theirs, ours = output.decode().strip(), f"{sys.version_info[0]}.{sys.version_info[1]}"
    if theirs != ours:
        raise ConfigError(
            f"ci.image.base: {base} runs Python {theirs}, but dsci runs under {ours}, whose wheels the image "
            f"gets; choose a base with Python {ours}, or run dsci under Python {theirs}"
        )


def _has_packages(engine: Any, base: str, packages: list[str]) -> None:
    """The build runs with the network off: the system packages must come with the base image."""
    if not packages:
        return
    probe = [
        "sh",
        "-c",
        'for p in "$@"; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done',
        "-",
        *packages,
    ]
    missing = engine.containers.run(base, probe, network_mode="none", remove=True).decode().split()
    if missing:
        names = ",".join(missing)
        raise ConfigError(
            f"ci.image.system_packages: {', '.join(missing)} not in the base image {base}, and the build is "
            f"offline; build a base with them (`DSCI_BASE_PACKAGES={names} DSCI_BASE_IMAGE=<tag> "
            "scripts/services up`) and set ci.image.base to it"
        )


def _has_image(engine: Any, reference: str) -> bool:
    import docker

    try:
        engine.images.get(reference)
        return True
    except docker.errors.ImageNotFound:
        try:
            engine.images.pull(reference)
            return True
        except docker.errors.APIError:
            return False


def _build(engine: Any, context: Path, tag: str, stream: Any) -> str:
    """Build with the network off; CheckFailed with the builder's last words when a step fails."""
    image_id, last = None, []
    for chunk in engine.api.build(
        path=str(context), tag=tag, network_mode="none", rm=True, forcerm=True, decode=True
    ):
        if "stream" in chunk:
            last = [*last, chunk["stream"]][-20:]
            if stream is not None:
                stream.write(chunk["stream"])
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        if "error" in chunk:
            raise CheckFailed(f"the image build failed: {chunk['error'].strip()}")
    if image_id is None:
        raise CheckFailed(f"the image build gave no image: {''.join(last)[-300:]}")
    return image_id
