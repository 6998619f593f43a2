"""The Docker engine's HTTP API over its socket, for quick questions (does it still have this image?):
a few milliseconds where the Docker SDK takes a tenth of a second to import."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any

SOCKET = "/var/run/docker.sock"


class _Connection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(method: str, path: str, timeout: float = 10) -> tuple[int | None, Any]:
    """(status, JSON body) of one call to the engine; (None, reason) when no engine answers on its
    socket (DOCKER_HOST's, when it names one)."""
    host = os.environ.get("DOCKER_HOST", f"unix://{SOCKET}")
    if not host.startswith("unix://"):
        return None, f"DOCKER_HOST {host} is not a socket"
    connection = _Connection(host.removeprefix("unix://"), timeout)
    try:
        connection.request(method, path)
        answer = connection.getresponse()
        body = answer.read()
    except OSError as error:
        return None, str(error)
    finally:
        connection.close()
    try:
        return answer.status, json.loads(body) if body else {}
    except ValueError:
        return answer.status, body.decode("utf-8", "replace")
