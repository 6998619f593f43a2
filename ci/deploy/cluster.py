"""The kubernetes target: the release's manifests applied to the cluster of the current kubeconfig
context with the official Python client.

Server-side apply (field manager ``dsci``) of every document; then the rollout is watched as
``kubectl rollout status`` watches it (the Deployment's observed generation, updated and available
replicas) with a deadline, and the pods are read so that a crash loop or an image that cannot be
pulled fails at once, with the reason, instead of at the deadline. The smoke test goes through the
Service, by the API server's proxy, as a user inside the cluster would reach it. A failed rollout is
undone by applying the previous release again, rendered anew from its digests: for the Deployment
that is what ``kubectl rollout undo`` does, and it also brings back the Service, the autoscaler, the
budget and the policy, owned by the same field manager.

The cluster pulls the image itself (an imagePullSecret of the namespace gives it the registry's
credentials) and holds the identity's Secret: CI never has the identity, so a missing Secret stops
the deploy before anything is applied.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ci.core.errors import CheckFailed, ConfigError, EnvError
from ci.core.text import first_line

MANAGER = "dsci"
PLURALS = {"Service": "services", "Deployment": "deployments", "PodDisruptionBudget": "poddisruptionbudgets",
           "HorizontalPodAutoscaler": "horizontalpodautoscalers", "NetworkPolicy": "networkpolicies",
           "Secret": "secrets", "Pod": "pods"}  # fmt: skip
# A container waiting for one of these will not become ready by waiting longer.
STUCK = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
         "CreateContainerConfigError", "CreateContainerError", "RunContainerError")  # fmt: skip


class Cluster:
    """The cluster of a kubeconfig context ("" for the current one)."""

    unit = "Deployment"  # what wait_ready gives an address (its Service) of

    def __init__(self, context: str = "", kubeconfig: str = "") -> None:
        """``kubeconfig``: a kubeconfig's text (or its base64), as a CI's secret gives it; "" reads
        KUBECONFIG or ~/.kube/config, or, where there is neither, a pod's service account. A
        kubeconfig that is given and wrong is an error, never a reason to try another cluster."""
        import os

        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        which = f"the context {context!r}" if context else "its current context"
        files = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        try:
            if kubeconfig:
                source = "the kubeconfig in ci.deploy.kubeconfig_env's variable"
                config.load_kube_config_from_dict(_kubeconfig(kubeconfig), context=context or None)
            elif any(Path(f).is_file() for f in files.split(os.pathsep) if f):
                source = files
                config.load_kube_config(config_file=files if os.pathsep not in files else None,
                                        context=context or None)  # fmt: skip
            else:
                source = "a pod's service account"
                config.load_incluster_config()
        except ConfigException as error:
            if source == "a pod's service account":
                raise EnvError(
                    f"the kubernetes target needs a kubeconfig: none at {files}, none in the variable "
                    "ci.deploy.kubeconfig_env names, and this is no pod; set KUBECONFIG"
                ) from None
            raise ConfigError(f"{source}: no cluster for {which} ({first_line(error)})") from None
        except (ValueError, TypeError, KeyError, AttributeError, OSError) as error:
            raise ConfigError(
                f"{source}: not a kubeconfig dsci can read ({type(error).__name__}: {error})"
            ) from None
        self.api = client.ApiClient()
        self.server = self.api.configuration.host

    # Before the rollout --------------------------------------------------------------------

    def prepare(self, namespace: str, secret: str, identity: str, candidate: Any, say: Any) -> None:
        """The identity's Secret must be in the namespace already (CI holds no identity)."""
        if not secret:
            return
        status, _ = self._call("GET", _path("v1", "Secret", namespace, secret))
        if status == 404:
            raise ConfigError(
                f"the Secret {secret} is missing in the namespace {namespace} of {self.server}: the pods "
                f"decrypt {candidate.bundle} with it; create it where the model runs (`kubectl -n "
                f"{namespace} create secret generic {secret} --from-file=identity=model.age`)"
            )
        if status != 200:
            raise EnvError(f"{self.server} answered {status} when asked for the Secret {namespace}/{secret}")

    # The rollout ---------------------------------------------------------------------------

    def apply(self, documents: list[dict[str, Any]]) -> list[str]:
        """Server-side apply of every document; the Deployment as ``namespace/name``."""
        for document in documents:
            metadata = document["metadata"]
            path = _path(document["apiVersion"], document["kind"], metadata["namespace"], metadata["name"])
            query = [("fieldManager", MANAGER), ("force", "true")]
            status, answer = self._call("PATCH", path, document, query=query,
                                        content_type="application/apply-patch+yaml")  # fmt: skip
            if status not in (200, 201):
                said = answer.get("message", answer) if isinstance(answer, dict) else answer
                raise CheckFailed(
                    f"{self.server} refused {document['kind']} {metadata['name']}: {status} {said}"
                )
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        return [f"{deployment['metadata']['namespace']}/{deployment['metadata']['name']}"]

    def running(self, documents: list[dict[str, Any]]) -> list[str]:
        """The Deployment (``namespace/name``) these documents apply, when the cluster has it as they
        describe it (its pod template's image and replicas); [] otherwise."""
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        status, found = self._call("GET", _path("apps/v1", "Deployment", namespace, name))
        if status != 200:
            return []
        images = lambda d: [c.get("image") for c in d["spec"]["template"]["spec"]["containers"]]  # noqa: E731
        if images(found) != images(deployment):
            return []
        return [f"{namespace}/{name}"]

    def remove(self, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            metadata = document["metadata"]
            self._call(
                "DELETE",
                _path(document["apiVersion"], document["kind"], metadata["namespace"], metadata["name"]),
            )

    def wait_ready(self, deployments: list[str], timeout: float) -> list[str]:
        """Each Deployment's Service (``namespace/name``) once its rollout is complete; CheckFailed when a
        pod is stuck or the deadline passes."""
        deadline = time.monotonic() + timeout
        for handle in deployments:
            namespace, name = handle.split("/")
            while True:
                status, deployment = self._call("GET", _path("apps/v1", "Deployment", namespace, name))
                if status != 200:
                    raise CheckFailed(f"{self.server} answered {status} for the Deployment {handle}")
                if _complete(deployment):
                    break
                self._stuck(namespace, name, deployment)
                if time.monotonic() > deadline:
                    said = _progress(deployment)
                    raise CheckFailed(
                        f"{handle} was not ready within {timeout:g} s (ci.deploy.timeout): {said}"
                    )
                time.sleep(1)
        return deployments

    def post(self, address: str, path: str, body: Any) -> tuple[int | None, Any]:
        """``path`` of the Service ``address`` (namespace/name), through the API server's proxy."""
        namespace, name = address.split("/")
        return self._call("POST", f"/api/v1/namespaces/{namespace}/services/{name}:http/proxy{path}", body)

    def _stuck(self, namespace: str, name: str, deployment: dict[str, Any]) -> None:
        selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
        _, pods = self._call(
            "GET", f"/api/v1/namespaces/{namespace}/pods", query=[("labelSelector", selector)]
        )
        template = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        for pod in (pods or {}).get("items", []):
            for container in pod.get("status", {}).get("containerStatuses", []) or []:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if container.get("image") == template and waiting.get("reason") in STUCK:
                    said = waiting.get("message", "")
                    raise CheckFailed(
                        f"{pod['metadata']['name']}: {waiting['reason']}{': ' + said if said else ''}"
                    )

    def _call(self, method: str, path: str, body: Any = None, *, query: list[tuple[str, str]] | None = None,
              content_type: str = "application/json") -> tuple[int, Any]:  # fmt: skip
        """(status, JSON answer) of one request with the kubeconfig's credentials; EnvError when the API
        server does not answer."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            answer = self.api.call_api(path, method, query_params=query or [], header_params=headers,
                                       body=body, auth_settings=["BearerToken"], _preload_content=False,
                                       _return_http_data_only=True, _request_timeout=30)  # fmt: skip
            status, data = answer.status, answer.data
        except ApiException as error:
            status, data = error.status, error.body
        except (HTTPError, OSError) as error:
            raise EnvError(f"the Kubernetes API at {self.server} does not answer: {error}") from None
        try:
            return status, json.loads(data or b"null")
        except ValueError:
            return status, (data or b"").decode(errors="replace")


def _kubeconfig(text: str) -> dict[str, Any]:
    """A kubeconfig from its text or base64; its users' credentials are masked like the variable."""
    import base64
    import binascii

    import yaml

    from ci.core import secrets

    if "apiVersion" not in text:
        try:
            text = base64.b64decode(text.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(
                "the kubeconfig in ci.deploy.kubeconfig_env's variable is neither YAML nor base64"
            ) from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError("the kubeconfig in ci.deploy.kubeconfig_env's variable is not YAML") from None
    if not isinstance(loaded, dict):
        raise ConfigError("the kubeconfig in ci.deploy.kubeconfig_env's variable is not a kubeconfig")
    for user in loaded.get("users") or []:
        credentials = user.get("user") if isinstance(user, dict) else None
        for key in ("token", "password", "client-key-data", "client-certificate-data"):
            if isinstance(credentials, dict) and isinstance(credentials.get(key), str):
                secrets.remember(credentials[key])
    return loaded


def _path(api_version: str, kind: str, namespace: str, name: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}/{name}"


def _complete(deployment: dict[str, Any]) -> bool:
    """`kubectl rollout status`'s test: the new generation observed, every replica updated and
    available, no old one left."""
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    wanted = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
    )


def _progress(deployment: dict[str, Any]) -> str:
    status = deployment.get("status", {})
    wanted = deployment.get("spec", {}).get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    return f"{updated} of {wanted} updated, {available} available"
