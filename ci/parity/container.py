"""The golden rows scored by an image's own app, in a container with the network off."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from ci.core.errors import SECURITY_ERROR, CheckFailed, ConfigError, SecurityError

# Where the Dockerfile template of ci.image puts the Python and the app.
IMAGE_PYTHON, IMAGE_APP, ROWS_FILE = "/opt/venv/bin/python", "/app/app.py", "/tmp/dsci-golden.json"


def score_in_image(
    engine: Any, image: str, rows: list[dict[str, Any]], timeout: float, name: str = "", identity: str = ""
) -> dict[str, Any]:
    """Run the image's own app on the rows in a container with the network off; what it printed.

    ``image`` is the id to run (a tag could move meanwhile); ``name`` is what messages call it;
    ``identity`` (an age identity's text) is mounted for an encrypted bundle. An app that refused
    its bundle (exit 4) is a SecurityError."""
    from ci.image import mounted

    name = name or image
    with mounted(identity) as options:
        container = engine.containers.create(
            image, [IMAGE_PYTHON, IMAGE_APP, "parity", ROWS_FILE], network_mode="none", entrypoint=[],
            **options,
        )  # fmt: skip
        return _scored(container, rows, timeout, name)


def _scored(container: Any, rows: list[dict[str, Any]], timeout: float, name: str) -> dict[str, Any]:
    import requests

    try:
        container.put_archive(
            str(Path(ROWS_FILE).parent), _tar(Path(ROWS_FILE).name, json.dumps(rows).encode())
        )
        container.start()
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise CheckFailed(
                f"{name} did not finish scoring the golden set within {timeout:g} s (ci.parity.timeout)"
            ) from None
        if code == SECURITY_ERROR:
            said = last_lines(container.logs(stdout=False, stderr=True), 1)
            raise SecurityError(f"{name} {said[0].removeprefix('dsci: ') if said else 'refused its bundle'}")
        if code != 0:
            said = " | ".join(last_lines(container.logs(stdout=False, stderr=True))) or "nothing"
            raise CheckFailed(
                f"{name} exited with {code} while scoring the golden set; its last lines: {said}"
            )
        output = container.logs(stdout=True, stderr=False)
    finally:
        container.remove(force=True)
    try:
        return json.loads(output)
    except ValueError:
        raise CheckFailed(
            f"{name} printed no parity result: its app.py predates `app.py parity`; rebuild it with "
            "`invoke ci.image`"
        ) from None


def last_lines(log: bytes, count: int = 3) -> list[str]:
    """A container's last words, without the lines of carets Python puts under a traceback's code."""
    lines = [line.strip() for line in log.decode(errors="replace").splitlines()]
    return [line for line in lines if line.strip("^~ ")][-count:]


def find_image(engine: Any, reference: str, built_by: str) -> str:
    """The image's id, or ConfigError saying which task builds it."""
    import docker

    try:
        return engine.images.get(reference).id
    except docker.errors.ImageNotFound:
        raise ConfigError(f"image {reference} is not in the Docker engine; {built_by}") from None


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
