"""The local target: a release's rendered manifests run for real with ``podman kube play``.

Podman runs the Deployment's pods (one per replica, each with its own address on podman's network),
mounts the Secret from podman's secret store, and pulls the image by digest from the registry with
the push's credentials. Two things differ from a cluster, and only these: podman has no namespaces,
so the pods are named ``<namespace>-<name>`` (staging and production can run side by side), and it
has no readiness gate, so dsci polls each pod's /ready itself. Podman ignores the Service, the
autoscaler, the disruption budget and the network policy: they are applied where a cluster is.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.errors import CheckFailed, ConfigError, EnvError, SecurityError
from ci.deploy import manifests

PORT = 8000  # where the image's server listens (ci/resources/image/Dockerfile)
INSTALL = "`dsci services up` installs and configures it (Debian: apt-get install podman catatonit)"


class Local:
    """Podman on this machine, logged in to the registry the image comes from."""

    unit = "pod"  # what wait_ready gives an address of

    def __init__(self, registry: str, credentials: Mapping[str, str] | None, tls_verify: bool) -> None:
        if shutil.which("podman") is None:
            raise EnvError(f"the local target needs podman, which is missing; {INSTALL}")
        self.registry, self.credentials, self.tls_verify = registry, credentials, tls_verify

    # Before the rollout ---------------------------------------------------------------------

    def prepare(self, namespace: str, secret: str, identity: str, candidate: Any, say: Any) -> None:
        """The image pulled, then the identity's Secret made from ``identity``."""
        say(f"pulling {candidate.image}")
        self.pull(candidate.image)
        if secret:
            if not identity:
                raise ConfigError(
                    f"{candidate.bundle} is encrypted and the local target makes the Secret {secret} "
                    "from an age identity: set ci.security.identity_file (or the variable "
                    "ci.security.identity_env)"
                )
            self.put_secret(namespace, secret, {"identity": identity})

    def put_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        """A Secret in podman's store, as kube play reads it: a Kubernetes Secret in JSON.

        Podman 4.3 (Debian 12) writes a Secret's data into the pod as it finds it, so there it goes
        undecoded; it also keeps what it wrote in a volume named after the Secret, which this updates
        as a cluster updates a mounted Secret."""
        name = local_name(namespace, name)
        encode = (lambda v: v) if _version() < (4, 4) else (lambda v: base64.b64encode(v.encode()).decode())
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
                  "data": {key: encode(value) for key, value in data.items()}}  # fmt: skip
        _podman("secret", "rm", name, check=False)
        _podman("secret", "create", name, "-", stdin=json.dumps(secret).encode())
        mounted = _podman(
            "volume", "inspect", "--format", "{{.Mountpoint}}", name, check=False
        ).stdout.strip()
        if mounted:
            for key, value in data.items():
                files.write_text(Path(mounted) / key, value)

    def pull(self, image: str) -> None:
        """The image into podman's store before anything stops: a registry that is down stops here."""
        with self._auth() as options:
            pulled = _podman("pull", "--quiet", *options, image, check=False)
        if pulled.returncode:
            raise EnvError(f"podman could not pull {image}: {_last(pulled.stderr)}; the release serving now "
                           "was left as it is")  # fmt: skip

    # Pods ----------------------------------------------------------------------------------

    def apply(self, documents: list[dict[str, Any]]) -> list[str]:
        """Play the documents in place of the environment's pods; the new pods' names. The pods that ran
        go first, however many there were (``--replace`` knows only the ones the new YAML names, and
        podman 4.3 may fail to replace a pod that keeps restarting)."""
        played = local_documents(documents)
        self.remove(documents)
        with tempfile.TemporaryDirectory(prefix="dsci-kube-") as private:
            path = Path(private) / "release.yaml"
            path.write_text(manifests.dump(played), encoding="utf-8")
            with self._auth() as options:
                done = _podman("kube", "play", "--replace", "--quiet", *options, str(path), check=False)
        if done.returncode:
            said = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())[-300:]
            raise CheckFailed(f"podman kube play failed: {said or 'no message'}")
        return self.pods(_deployment(played)["metadata"]["name"])

    def running(self, documents: list[dict[str, Any]]) -> list[str]:
        """The pods of these documents' Deployment that run now, when there are as many as it asks for;
        [] otherwise."""
        deployment = _deployment(local_documents(documents))
        pods = self.pods(deployment["metadata"]["name"])
        return pods if len(pods) == deployment["spec"].get("replicas", 1) else []

    def pods(self, deployment: str) -> list[str]:
        """The pods podman runs for a Deployment (``NAME-pod-0``, ``-pod-1``, ... in podman 4; one
        ``NAME-pod`` in podman 5)."""
        pattern = f"name=^{deployment}-pod"
        listed = _podman("pod", "ps", "--format", "{{.Name}}", "--filter", pattern, check=False)
        return sorted(listed.stdout.split())

    def remove(self, documents: list[dict[str, Any]]) -> None:
        """Stop the Deployment's pods, then remove them: podman 4.3 takes 4 s to remove a running pod,
        1 s to stop it and remove it stopped."""
        pods = self.pods(_deployment(local_documents(documents))["metadata"]["name"])
        if pods:
            _podman("pod", "stop", *pods, check=False)
            _podman("pod", "rm", "--force", *pods, check=False)

    def wait_ready(self, pods: list[str], timeout: float) -> list[str]:
        """Each pod's address once its /ready answers 200. CheckFailed when one stops or is not ready in
        time (with its last log lines); SecurityError when its app refused the bundle."""
        deadline = time.monotonic() + timeout
        addresses = {}
        while len(addresses) < len(pods):
            for pod in pods:
                if pod in addresses:
                    continue
                container = f"{pod}-model"
                shown = _inspect(container)
                state = shown.get("State", {})
                if state.get("Status") in ("exited", "stopped", "dead") or shown.get("RestartCount"):
                    raise CheckFailed(f"{pod} stopped at start (exit code {state.get('ExitCode')}); its last "
                                      f"lines: {self.last_lines(container)}")  # fmt: skip
                address = address_of(pod)
                status, body = request(f"http://{address}:{PORT}/ready") if address else (None, {})
                if status == 200:
                    addresses[pod] = address
                elif status == 503 and body.get("status") == "refused":
                    raise SecurityError(f"{pod} refuses its bundle: {body.get('reason')}")
            if len(addresses) < len(pods):
                if time.monotonic() > deadline:
                    late = next(pod for pod in pods if pod not in addresses)
                    raise CheckFailed(
                        f"{late} was not ready within {timeout:g} s (ci.deploy.timeout); its last lines: "
                        f"{self.last_lines(late + '-model')}"
                    )
                time.sleep(0.1)
        return [addresses[pod] for pod in pods]

    def post(self, address: str, path: str, body: Any) -> tuple[int | None, Any]:
        return request(f"http://{address}:{PORT}{path}", body)

    def last_lines(self, container: str, count: int = 3) -> str:
        log = _podman("logs", "--tail", str(count), container, check=False)
        lines = [line.strip() for line in (log.stdout + log.stderr).splitlines() if line.strip()]
        return " | ".join(lines[-count:]) or "nothing"

    def _auth(self) -> Any:
        return _authfile(self.registry, self.credentials, self.tls_verify)


def local_documents(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents as podman plays them: only what podman runs (it would ignore the rest), as many pods
    as the autoscaler starts with (podman runs none), and, as
    podman has no namespaces, the Deployment, its volumes and its Secrets named ``<namespace>-<name>``
    (podman keeps a pod's volumes, an emptyDir's too, as named volumes of the machine)."""
    deployment = copy.deepcopy(_deployment(documents))
    scaler = next((d for d in documents if d.get("kind") == "HorizontalPodAutoscaler"), None)
    if scaler is not None and "replicas" not in deployment["spec"]:  # as many as the autoscaler starts with
        deployment["spec"]["replicas"] = scaler["spec"]["minReplicas"]
    metadata = deployment["metadata"]
    namespace = metadata["namespace"]
    metadata["name"] = local_name(namespace, metadata["name"])
    pod = deployment["spec"]["template"]["spec"]
    for volume in pod.get("volumes", []):
        volume["name"] = f"{metadata['name']}-{volume['name']}"
        if "secret" in volume:
            volume["secret"]["secretName"] = local_name(namespace, volume["secret"]["secretName"])
    for container in pod["containers"]:
        for mount in container.get("volumeMounts", []):
            mount["name"] = f"{metadata['name']}-{mount['name']}"
    return [deployment]


def local_name(namespace: str, name: str) -> str:
    """What podman calls the object ``name`` of ``namespace``."""
    return f"{namespace}-{name}"


def _deployment(documents: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in documents if d.get("kind") == "Deployment"]
    if len(found) != 1:
        raise ConfigError(f"the manifests hold {len(found)} Deployments; dsci deploys one")
    return found[0]


class _authfile:
    """``--authfile`` (a private temporary file: a password never on a command line) and ``--tls-verify``."""

    def __init__(self, registry: str, credentials: Mapping[str, str] | None, tls_verify: bool) -> None:
        self.registry, self.credentials, self.tls_verify = registry, credentials, tls_verify
        self.folder: Any = None

    def __enter__(self) -> list[str]:
        options = [f"--tls-verify={'true' if self.tls_verify else 'false'}"]
        if self.credentials:
            self.folder = tempfile.TemporaryDirectory(prefix="dsci-auth-")
            path = Path(self.folder.name) / "auth.json"
            token = base64.b64encode(
                f"{self.credentials['username']}:{self.credentials['password']}".encode()
            )
            path.write_text(
                json.dumps({"auths": {self.registry: {"auth": token.decode()}}}), encoding="utf-8"
            )
            options.append(f"--authfile={path}")
        return options

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.folder.cleanup()


def request(url: str, body: Any = None, timeout: float = 30) -> tuple[int | None, Any]:
    """(status, JSON answer) of a GET, or a POST of ``body`` as JSON; (None, {}) when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, {}
    except (OSError, ValueError):
        return None, {}


def _version() -> tuple[int, ...]:
    shown = _podman("version", "--format", "{{.Client.Version}}", check=False).stdout.strip()
    return tuple(int(part) for part in shown.split("-")[0].split(".")[:2] if part.isdigit()) or (0,)


def _inspect(container: str) -> dict[str, Any]:
    shown = _podman("container", "inspect", container, check=False)
    try:
        return (json.loads(shown.stdout) or [{}])[0] if shown.returncode == 0 else {}
    except ValueError:
        return {}


def address_of(pod: str) -> str:
    """The pod's address on podman's network (its infra container's)."""
    infra = _podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod, check=False).stdout.strip()
    if not infra:
        return ""
    shown = _podman("inspect", "--format", "{{json .NetworkSettings.Networks}}", infra, check=False)
    try:
        networks = json.loads(shown.stdout) or {}
    except ValueError:
        return ""
    return next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), "")


def _podman(*args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], input=stdin, capture_output=True, check=False)
    result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                         done.stderr.decode(errors="replace"))  # fmt: skip
    if check and done.returncode:
        raise EnvError(f"podman {args[0]} {args[1] if len(args) > 1 else ''} failed: {_last(result.stderr)}")
    return result


def _last(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("\t")]
    return lines[-1][:300] if lines else "no message"
