"""The model-serving image: a Dockerfile rendered from the package's template, built offline.

Dependencies come from a wheelhouse made on the host from the versions
installed in development (the project's dependencies and theirs), so the
image installs exactly the wheels dev used, with the network off during the
build. Layers: dependencies, then the project's wheel, then the bundle.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ci.core import files, settings
from ci.core.errors import CheckFailed, ConfigError, EnvError, SecurityError
from ci.core.files import sha256_file
from ci.core.process import Runner
from ci.core.results import Check, StageResult, Status
from ci.core.text import display, first_line
from ci.model import formats
from ci.package import latest_bundle, stem

APP_NEEDS = ("gunicorn", "pandas")  # the server, and the frames the app builds from JSON rows
SKIP_HINT = "ci.all.skip: [image, push, parity]"
IMAGE_PYTHON = "/opt/venv/bin/python"  # where the Dockerfile template puts the venv
IDENTITY_MOUNT = "/run/secrets/dsci-identity"  # where the identity is mounted, as a Secret would be
SMOKE_ROWS = 5  # rows of the golden set (or holdout) the image must predict as development does
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
            "no Docker engine answers at unix:///var/run/docker.sock; start one with `dsci services up`, "
            f"or leave the stages that need one out ({SKIP_HINT})"
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


def pins(requirements: Iterable[str | tuple[str, str]]) -> list[str]:
    """name==version for the requirements and all they need, as installed here.

    A requirement may come with where it was declared (``("pandas", "requirements.txt:2")``);
    one that is not installed here, or pins a version other than the installed one, is a
    ConfigError naming it: the image gets exactly what development runs."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo = [item if isinstance(item, tuple) else (item, "") for item in requirements]
    while todo:
        text, source = todo.pop()
        at = f"{source}: " if source else ""
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise ConfigError(f"{at}{text!r} is not a requirement: {error}") from None
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(requirement.name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise ConfigError(
                f"{at}{requirement.name} is needed in the image but not installed here: install it "
                f"(`pip install {requirement.name}`) so the image gets the version you develop with"
            ) from None
        if (
            source
            and requirement.specifier
            and not requirement.specifier.contains(dist.version, prereleases=True)
        ):
            raise ConfigError(
                f"{at}{text} asks for another version than the {dist.version} installed here; install it, "
                "or change the requirement: the image gets what development runs"
            )
        found[key] = f"{dist.metadata['Name']}=={dist.version}"
        todo.extend((needed, "") for needed in dist.requires or [])
    return [found[key] for key in sorted(found)]


def read_requirements(file: Path, shown: str | None = None) -> list[tuple[str, str]]:
    """(requirement, "file:line") from a pip requirements file, following ``-r`` includes.

    pip's options (index URLs and the like) are left to the host's pip; an editable or a path
    is refused, since the image installs from wheels of what is installed here."""
    shown = shown or display(file)
    if not file.is_file():
        raise ConfigError(f"ci.image.requirements_file: {shown}: no such file")
    found = []
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        option, _, value = line.partition(" ")
        if option in ("-r", "--requirement"):
            found += read_requirements(file.parent / value.strip(), f"{shown}:{number}: {value.strip()}")
        elif line.startswith("-") and option not in ("-e", "--editable"):
            continue  # pip's own options: the host's pip reads the index settings, ci.image.index_url_env
        elif option in ("-e", "--editable") or line.startswith((".", "/")) or "://" in line:
            raise ConfigError(
                f"{shown}:{number}: {line!r}: the image installs wheels of what is installed here, not "
                "paths or URLs; name the distribution instead"
            )
        else:
            found.append((line, f"{shown}:{number}"))
    return found


def requirements_of(cfg: settings.Image, root: Path, packaged: bool) -> list[tuple[str, str]]:
    """What the image must install, with where each was declared.

    A package: its declared dependencies. Otherwise the requirements file (ci.image.requirements_file,
    or requirements.txt at the root). Then ci.image.requirements, and what the app itself needs."""
    declared: list[tuple[str, str]] = []
    if cfg.requirements_file:
        declared += read_requirements(root / cfg.requirements_file)
    elif packaged:
        declared += [
            (d, "pyproject.toml: project.dependencies")
            for d in project_metadata(root).get("dependencies", [])
        ]
    elif (root / "requirements.txt").is_file():
        declared += read_requirements(root / "requirements.txt")
    declared += [(r, "ci.image.requirements") for r in cfg.requirements]
    return [*declared, *((need, "") for need in APP_NEEDS)]


def wheelhouse(pinned: list[str], folder: Path, run: Runner, index_url: str | None = None) -> None:
    """Fetch the wheels of exactly these versions (pip's cache makes a second time cheap).

    A private index's URL, credentials and all, is used here on the host only:
    nothing of it reaches the build context or a layer."""
    folder.mkdir(parents=True, exist_ok=True)
    if held(pinned, folder):
        return
    index = ["--index-url", index_url] if index_url else []
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", *index, "--dest", str(folder), *pinned]  # fmt: skip
    done = run(argv)
    if not done.ok:
        detail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-1:] or [
            "failed"
        ]
        raise EnvError(f"could not fetch the wheels for the image: {detail[0].strip()}")


def held(pinned: list[str], folder: Path) -> bool:
    """Whether ``folder`` holds a wheel for this interpreter of each name==version: then pip need not ask
    the index again (a second of round trips, every build)."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import Version

    ours, there = set(sys_tags()), set()
    for wheel in folder.glob("*.whl"):
        try:
            name, version, _, tags = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        if tags & ours:
            there.add((name, version))
    wanted = {
        (canonicalize_name(name), Version(version))
        for name, _, version in (p.partition("==") for p in pinned)
    }
    return wanted <= there


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def render(template: str, **values: str) -> str:
    return template.format(**values)


def build_image(
    cfg: settings.Image, mcfg: settings.Model, *, run: Runner, root: Path, dist: Path, work: Path,
    git: Mapping[str, Any], smoke_rows: Path | None = None, index_url: str | None = None, stream: Any = None,
    trusted: str = "", identity: str = "",
) -> StageResult:  # fmt: skip
    """Build the image with the network off, prove it serves, and only then record it in image.json.

    ``index_url`` is a private package index (credentials and all): used on the host only.
    ``trusted`` (the text of the trusted public keys) makes the image refuse a bundle they did not
    sign; ``identity`` (an age identity's text) is mounted for the smoke test, never copied in."""
    from ci.security import signing, trust

    for key in ("max_size", "max_body"):  # a bad size stops the stage before it builds
        if getattr(cfg, key):
            parse_size(getattr(cfg, key), f"ci.image.{key}")
    bundle = latest_bundle(dist)
    if bundle is None:
        raise ConfigError(f"no model bundle in {display(dist)}; `invoke ci.package` makes one")
    provenance = signing.provenance_file(bundle)
    if trusted and not provenance.is_file():
        raise ConfigError(
            f"{display(bundle)} is not signed, and ci.security.trusted asks the image to refuse an unsigned "
            "bundle; `invoke ci.sign` signs it"
        )
    encrypted = trust.is_encrypted(bundle)
    engine = client()
    if not _has_image(engine, cfg.base):
        raise EnvError(
            f"base image {cfg.base} is not available: `docker pull {cfg.base}`, or build one offline "
            f"with `dsci services up`; or leave the stages that need it out ({SKIP_HINT})"
        )
    _same_python(engine, cfg.base)
    _has_packages(engine, cfg.base, cfg.system_packages)
    project = project_metadata(root)
    wheel = newest(dist, "*.whl")
    serving = serving_settings(mcfg, bundle, manifest=dist / f"{stem(bundle)}.manifest.json")
    rows, expected, features = _smoke_rows(mcfg, smoke_rows, root, arrays=cfg.predict == "arrays")
    serving.update(bundle=bundle.name, signed=bool(trusted), provenance=provenance.name, features=features,
                   max_body=parse_size(cfg.max_body, "ci.image.max_body"))  # fmt: skip
    needs = [*(["cryptography"] if trusted or encrypted else []), *(["pyrage"] if encrypted else [])]
    pinned = pins(requirements_of(cfg, root, packaged=wheel is not None) + [(n, "") for n in needs])
    (work / "image.json").unlink(missing_ok=True)  # the last image stands no more, whatever happens now
    context = work / "context"
    shutil.rmtree(context, ignore_errors=True)
    (context / "code").mkdir(parents=True)
    wheelhouse(pinned, work / "wheelhouse", run, index_url)
    shutil.copytree(work / "wheelhouse", context / "wheelhouse")
    files.write_text(context / "requirements.txt", "\n".join(pinned) + "\n")
    if wheel is not None:
        shutil.copy2(wheel, context / "code" / wheel.name)
    (context / "bundle").mkdir()
    shutil.copy2(bundle, context / "bundle" / bundle.name)
    if trusted:
        shutil.copy2(provenance, context / "bundle" / provenance.name)
        files.write_text(context / "bundle" / "trusted_signers", trusted)
    _serving_app(context / "app", serving, root, packaged=wheel is not None)
    files.write_text(context / ".dockerignore", "**/__pycache__\n**/*.pyc\n")
    bundle_sha, _ = sha256_file(bundle)
    name = cfg.name or project.get("name") or root.resolve().name
    version = project.get("version", "0.0.0")
    short = (git.get("commit") or "unknown")[:7]
    template = resources.files("ci").joinpath("resources/image/Dockerfile").read_text()
    dockerfile = render(
        template, base=cfg.base, code=CODE_LAYER if wheel else "", revision=git.get("commit") or "",
        source=cfg.source, version=version, created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        bundle_sha256=bundle_sha, server=_server(cfg),
    )  # fmt: skip
    files.write_text(context / "Dockerfile", dockerfile)
    tags = [f"{name}:{version}-{short}"] + ([f"{name}:latest"] if cfg.latest else [])
    image_id = _build(engine, context, tags[0], stream)
    size = engine.images.get(image_id).attrs["Size"]
    details = {
        "tags": tags,
        "id": image_id,
        "size": size,
        "bundle": bundle.name,
        "bundle_sha256": bundle_sha,
        "encrypted": encrypted,
        "requirements": pinned,
    }
    built = Check(
        "image",
        Status.PASSED,
        f"{tags[0]}: {size / 2**20:.0f} MiB, built with the network off",
        details=details,
    )
    budget = size_budget(engine, image_id, size, cfg.max_size)
    if budget is not None:
        details["layers"] = budget.details.get("layers", [])
        if budget.status is Status.FAILED:  # not recorded: push and parity find no image to use
            return StageResult("image", [built, budget])
    with mounted(identity, bundle.stat().st_size) as options:
        served = smoke_test(engine, image_id, tags[0], rows, expected, cfg.smoke_timeout, options)
    if served.status is Status.FAILED:  # not recorded: push and parity find no image to use
        return StageResult("image", [built, served])
    for tag in tags[1:]:
        engine.images.get(image_id).tag(*tag.split(":", 1))
    files.write_text(work / "image.json", json.dumps(details, indent=2) + "\n")
    checks = [built, *([budget] if budget else []), served]
    return StageResult("image", checks, [str(work / "image.json")])


_UNITS = {"": 10**6, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
# Run in the image: its installed distributions by the size of their files, largest first.
_DISTRIBUTIONS = """import importlib.metadata as m, json
sizes = {}
for d in m.distributions():
    sizes[d.metadata["Name"]] = sum(f.size or 0 for f in d.files or [])
print(json.dumps(sorted(sizes.items(), key=lambda item: -item[1])[:8]))
"""


def parse_size(text: str, key: str = "ci.image.max_size") -> int:
    """Bytes of a size as a person writes it: ``800MB``, ``1.5 GB``, ``700MiB`` (a bare number is MB)."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]i?[bB]|)\s*", text)
    if not found:
        raise ConfigError(f"{key}: {text!r} is not a size; write it as 800MB, 1.5GB or 700MiB")
    return int(float(found[1]) * _UNITS[found[2].lower()])


def size_budget(engine: Any, image_id: str, size: int, budget: str) -> Check | None:
    """The image's size against ci.image.max_size (None when there is none). Its largest layers are
    always in the details; over the budget, the largest distributions installed in it too."""
    if not budget:
        return None
    limit = parse_size(budget)
    layers = sorted(engine.images.get(image_id).history(), key=lambda layer: -layer.get("Size", 0))[:5]
    largest = [{"size": layer["Size"], "step": _step(layer.get("CreatedBy", ""))} for layer in layers]
    shown = f"{size / 2**20:.0f} MiB"
    if size <= limit:
        return Check("image size", Status.PASSED, f"{shown}, within ci.image.max_size {budget}", value=size,
                     threshold=limit, details={"layers": largest})  # fmt: skip
    output = engine.containers.run(image_id, ["-c", _DISTRIBUTIONS], entrypoint=IMAGE_PYTHON,
                                   network_mode="none", remove=True)  # fmt: skip
    distributions = json.loads(output.decode().strip().splitlines()[-1])
    said_layers = ", ".join(f"{layer['size'] / 2**20:.0f} MiB {layer['step']}" for layer in largest[:3])
    said_dists = ", ".join(f"{name} {bytes_ / 2**20:.0f} MiB" for name, bytes_ in distributions[:5])
    return Check(
        "image size", Status.FAILED,
        f"{shown} is over ci.image.max_size {budget}; largest layers: {said_layers}; largest distributions: "
        f"{said_dists}",
        value=size, threshold=limit, details={"layers": largest, "distributions": distributions},
    )  # fmt: skip


def _step(created_by: str) -> str:
    """A layer's Dockerfile step, short: ``COPY /opt/venv``, ``RUN /opt/venv/bin/pip install ...``."""
    if not created_by:
        return "the base image"
    step = " ".join(created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").split())
    step = re.sub(r"^(ADD|COPY) (?:dir|file|multi):[0-9a-f]+ in ", r"\1 ", step)  # the content's hash: noise
    return step if len(step) <= 60 else step[:57] + "..."


def serving_settings(mcfg: settings.Model, bundle: Path, manifest: Path | None = None) -> dict[str, Any]:
    """How the model stage loads the model, for the image's app to load it the same way.

    What the bundle holds is read from its manifest beside it (an encrypted bundle cannot be opened
    here), or from the bundle itself."""
    import tarfile

    fmt, path = mcfg.format, Path(mcfg.path).as_posix() if mcfg.path else ""
    if fmt != "hook":
        if not path:
            raise ConfigError(
                "ci.model.path is not set, so the image has no model to serve; set it to the model file "
                "in the bundle (or ci.model.format to hook, with ci.model.hook)"
            )
        if manifest is not None and manifest.is_file():
            names = [entry["path"] for entry in json.loads(manifest.read_text(encoding="utf-8"))["files"]]
        else:
            with tarfile.open(bundle) as tar:
                names = tar.getnames()
        if path not in names:
            raise ConfigError(
                f"ci.model.path: {path} is not in the bundle {bundle.name}, so the image could "
                "not serve it; add it to ci.package.bundle and run `invoke ci.package`"
            )
        fmt = formats.format_of(Path(path)) if fmt == "auto" else fmt
    return {"model": path, "format": fmt, "method": mcfg.method, "trusted": list(mcfg.trusted),
            "hook": mcfg.hook}  # fmt: skip


def _serving_app(folder: Path, serving: Mapping[str, Any], root: Path, packaged: bool) -> None:
    """The app, the model stage's loading code beside it, how to load the model, and a hook's module.

    A hook's module comes with the project's wheel; a project that is no package gets the
    module's top-level file or folder copied beside the app."""
    package = resources.files("ci")
    files.write_bytes(folder / "app.py", package.joinpath("resources/image/app.py").read_bytes())
    files.write_bytes(folder / "dsci_formats.py", package.joinpath("model/formats.py").read_bytes())
    files.write_bytes(folder / "dsci_trust.py", package.joinpath("security/trust.py").read_bytes())
    files.write_text(folder / "serving.json", json.dumps(serving, indent=2) + "\n")
    if serving["format"] == "hook" and not packaged:
        top = serving["hook"].partition(":")[0].split(".")[0]
        if (root / top).is_dir():
            shutil.copytree(root / top, folder / top, ignore=shutil.ignore_patterns("__pycache__"))
        elif (root / f"{top}.py").is_file():
            shutil.copy2(root / f"{top}.py", folder / f"{top}.py")


def _smoke_rows(
    mcfg: settings.Model, table: Path | None, root: Path, *, arrays: bool
) -> tuple[list[dict[str, Any]], Any, list[str]]:
    """A few rows of the golden set (or the holdout), what development predicts for them, and with
    ``arrays`` the model's columns when it may be served arrays of them (see ``array_features``)."""
    if table is None:
        return [], None, []
    from ci import parity
    from ci.model.loading import load_model

    model = load_model(mcfg.path, mcfg.format, hook=mcfg.hook, method=mcfg.method,
                       trusted=mcfg.trusted, root=root)  # fmt: skip
    rows = parity.golden_rows(table, mcfg, model)
    features = array_features(model.estimator, rows) if arrays else []
    rows = rows[:SMOKE_ROWS]
    return rows, parity.score_dev(model, rows, table), features


def array_features(estimator: Any, rows: list[dict[str, Any]]) -> list[str]:
    """The model's columns, in its order, when a request's rows may reach it as one float array: it
    knows its columns by name (scikit-learn's ``feature_names_in_``) and every value of the golden rows
    is a number. [] otherwise: each request becomes a DataFrame. The parity stage proves the image
    predicts with it what development predicts."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or not rows:
        return []
    number = lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)  # noqa: E731
    if not all(number(value) for row in rows for value in row.values()):
        return []
    return [str(name) for name in names]


def _server(cfg: settings.Image) -> str:
    """gunicorn's settings (GUNICORN_CMD_ARGS in the image, which a deploy may override): threaded
    workers that keep connections alive."""
    return (f"--workers {cfg.workers} --threads {cfg.threads} --worker-class gthread "
            f"--timeout {cfg.timeout:g} --keep-alive 5")  # fmt: skip


def smoke_test(
    engine: Any, image_id: str, name: str, rows: list[dict[str, Any]], expected: Any, timeout: float,
    options: Mapping[str, Any] | None = None,
) -> Check:  # fmt: skip
    """Start the image with the network off, wait for /ready, POST rows to /predict, compare with development.

    The requests are made inside the container, to its own loopback: no port is published. ``options``
    are more arguments of the container's run (the identity's mount). An image that refuses its bundle
    is a SecurityError, except for an encrypted bundle with no identity given: as far as one can go."""
    from ci import parity

    clock = time.perf_counter()
    container = engine.containers.run(image_id, detach=True, network_mode="none", **(options or {}))
    try:
        deadline = clock + timeout
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                return _did_not_serve(container, name, "stopped before it was ready")
            code, output = container.exec_run([IMAGE_PYTHON, "-c", _PROBE, "/ready"])
            if code == 0:
                break
            refused = _refusal(output)
            if refused and "no age identity is mounted" in refused and not (options or {}).get("volumes"):
                message = (f"{name} verified its bundle and stops short of decrypting it: no identity here "
                           "(ci.security.identity_file); parity proves it where one is mounted")  # fmt: skip
                return Check("serves", Status.WARNED, message, duration=time.perf_counter() - clock)
            if refused:
                raise SecurityError(f"{name} refuses its bundle: {refused}")
            if time.perf_counter() > deadline:
                return _did_not_serve(
                    container, name, f"was not ready within {timeout:g} s (ci.image.smoke_timeout)"
                )
            time.sleep(0.2)
        if not rows:
            took = time.perf_counter() - clock
            message = f"{name} answers /ready in {took:.1f} s; no rows to predict (ci.model.holdout)"
            return Check("serves", Status.PASSED, message, duration=took)
        code, output = container.exec_run(
            [IMAGE_PYTHON, "-c", _PROBE, "/predict", json.dumps({"rows": rows})]
        )
        answer = output.decode(errors="replace")
        if code != 0:
            return _did_not_serve(
                container, name, f"answered /predict with an error: {answer.strip()[-300:]}"
            )
        found = parity.compare(
            expected, parity.Scored.of(json.loads(answer)), 0.0, 0.0, other_name="the image"
        )
    except CheckFailed as error:
        return Check("serves", Status.FAILED, f"{name}: {error}")
    finally:
        container.remove(force=True)
    took = time.perf_counter() - clock
    if not found.same:
        message = f"{name} predicts otherwise than development: {found.describe(0, 0)}"
        return Check("serves", Status.FAILED, message, details=found.__dict__, duration=took)
    message = (
        f"{name} served /ready and /predict in {took:.1f} s: {len(rows)} rows as development predicts them"
    )
    return Check("serves", Status.PASSED, message, duration=took)


def _refusal(output: bytes) -> str:
    """The reason /ready gives when the app refused its bundle; "" when it did not."""
    try:
        answer = json.loads(output)
    except ValueError:
        return ""
    return answer.get("reason", "") if isinstance(answer, dict) and answer.get("status") == "refused" else ""


@contextlib.contextmanager
def mounted(identity: str, bundle_size: int = 0) -> Iterator[dict[str, Any]]:
    """Arguments for running the image with an age identity mounted read-only at run time, as a
    Kubernetes Secret would be, and room in /dev/shm to decrypt the bundle into memory.

    The identity's copy lives in a private temporary folder only while the block runs."""
    room = {"shm_size": max(1 << 30, 3 * bundle_size)}  # a cap: tmpfs takes memory only as it is written
    if not identity:
        yield room
        return
    with tempfile.TemporaryDirectory(prefix="dsci-identity-") as private:
        path = Path(private) / "identity"
        path.write_text(identity, encoding="utf-8")
        path.chmod(0o444)  # the folder is the host user's alone; the image's user must read the file
        yield {**room, "volumes": {str(path): {"bind": IDENTITY_MOUNT, "mode": "ro"}},
               "environment": {"DSCI_IDENTITY": IDENTITY_MOUNT}}  # fmt: skip


def _did_not_serve(container: Any, name: str, what: str) -> Check:
    from ci.parity.container import last_lines

    log = container.logs(stdout=True, stderr=True)
    said = " | ".join(last_lines(log, 4)) or "nothing"
    return Check("serves", Status.FAILED, f"{name} {what}; its last lines: {said}",
                 output=log.decode(errors="replace")[-4000:])  # fmt: skip


# Run inside the container by its own Python: GET a path, or POST a JSON body; print the answer.
_PROBE = """
import sys, urllib.request
path, body = sys.argv[1], (sys.argv[2].encode() if len(sys.argv) > 2 else None)
request = urllib.request.Request("http://127.0.0.1:8000" + path, data=body,
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=30) as answer:
        sys.stdout.write(answer.read().decode())
except urllib.error.HTTPError as error:
    sys.stdout.write(error.read().decode())
    sys.exit(1)
except OSError as error:
    sys.stdout.write(str(error))
    sys.exit(2)
"""


def _same_python(engine: Any, base: str) -> None:
    """The wheelhouse holds wheels for this Python: the base image must run the same major.minor."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        output = engine.containers.run(base, ["python3", "-c", probe], network_mode="none", remove=True)
    except Exception as error:
        raise ConfigError(f"ci.image.base: {base} cannot run python3: {first_line(error)}") from None
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
            "dsci services up`) and set ci.image.base to it"
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
