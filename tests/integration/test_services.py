"""dsci services: a real docker-registry started, answered and stopped from a folder of its own.

The suite's shared services (engine, registry, moto) keep running: these tests use other ports."""

import shutil
import socket
import stat
import subprocess
import sys
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from ci.core.errors import EnvError
from ci.services import Services, answer

DSCI = str(Path(sys.executable).parent / "dsci")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.tool("docker-registry", "htpasswd")
def test_a_registry_starts_with_generated_credentials_answers_and_stops(tmp_path):
    said = []
    local = Services(tmp_path, say=said.append)
    port = free_port()
    local.start_registry("registry", port, "dsci")
    try:
        assert answer(f"http://127.0.0.1:{port}/v2/") == 401  # no credentials, no entry
        credentials = tmp_path / "registry.env"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        values = dict(line.split("=", 1) for line in credentials.read_text().split())
        assert values["DSCI_REGISTRY"] == f"127.0.0.1:{port}" and len(values["DSCI_REGISTRY_PASSWORD"]) >= 20
        login = b64encode(
            f"{values['DSCI_REGISTRY_USER']}:{values['DSCI_REGISTRY_PASSWORD']}".encode()
        ).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v2/", headers={"Authorization": f"Basic {login}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        local.start_registry("registry", port, "dsci")  # a second up starts nothing
        assert said[-1] == f"registry runs on 127.0.0.1:{port}"
    finally:
        local.stop("registry")
    assert answer(f"http://127.0.0.1:{port}/v2/") is None
    assert not local.running("registry")


def test_a_port_another_process_holds_is_refused(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(EnvError) as caught:
            Services(tmp_path, say=lambda line: None).start_registry("registry", port, "dsci")
    assert str(caught.value) == (
        f"127.0.0.1:{port} is taken by a process this folder did not start; stop it (another checkout's "
        "`dsci services down`)"
    )


def test_status_through_the_command_says_what_runs_in_this_folder(tmp_path):
    done = subprocess.run(
        [DSCI, "services", "status"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1:4] == ["services: registry: down", "services: moto: down", "services: ecr-registry: down"]
    assert (
        lines[4]
        == f"services: podman (the deploy's local target): {'there' if shutil.which('podman') else 'missing'}"
    )
    assert lines[0] in ("services: docker engine: answers", "services: docker engine: down")
