"""Pushing the image to a registry, and proving the registry holds what was pushed.

Credentials come from environment variables named in the settings and are
never printed. After the push, the manifest digest is read back through the
registry's HTTP API and compared with the one the push reported. Server
errors and dropped connections are retried a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.core import settings
from ci.core.errors import CheckFailed, ConfigError, EnvError
from ci.core.results import Check, StageResult, Status
from ci.core.retries import Transient, with_retries

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def _transient(error: Exception) -> bool:
    import requests

    status = getattr(getattr(error, "response", None), "status_code", None)
    return isinstance(error, requests.ConnectionError) or (status is not None and status >= 500)


def ecr_credentials(cfg: settings.Push, repository: str) -> tuple[dict[str, str], str]:
    """(credentials, registry host) for AWS ECR: the repository created when missing, the token decoded."""
    import base64

    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise EnvError("boto3 is not installed; install it with `pip install 'dsci[aws]'`") from None
    ecr = boto3.client("ecr", region_name=cfg.aws_region, endpoint_url=cfg.aws_endpoint_url or None)
    try:
        try:
            ecr.describe_repositories(repositoryNames=[repository])
        except ecr.exceptions.RepositoryNotFoundException:
            ecr.create_repository(repositoryName=repository)
        data = ecr.get_authorization_token()["authorizationData"][0]
    except botocore.exceptions.NoCredentialsError:
        raise ConfigError(
            "ecr: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        raise EnvError(f"ecr: the AWS API does not answer: {error}") from None
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return {"username": user, "password": password}, data["proxyEndpoint"].split("://", 1)[-1]


def push(
    cfg: settings.Push, *, engine: Any, image_tag: str, credentials: Mapping[str, str] | None = None,
    stream: Any = None,
) -> StageResult:  # fmt: skip
    """Tag the built image for the registry, log in, push, and check the digest the registry reports.

    ``credentials`` (username, password) log in to a generic registry; ECR's come from boto3."""
    import docker

    name, tag = image_tag.rsplit(":", 1)
    path = cfg.repository or name.rsplit("/", 1)[-1]
    if cfg.kind == "ecr":
        auth, endpoint = ecr_credentials(cfg, path)
        registry = cfg.registry or endpoint  # a stand-in registry, where the API has none (moto)
    else:
        auth, registry = credentials, cfg.registry
    repository = f"{registry}/{path}"
    try:
        engine.images.get(image_tag).tag(repository, tag)
    except docker.errors.ImageNotFound:
        raise ConfigError(
            f"image {image_tag} is not in the Docker engine; `invoke ci.image` builds it"
        ) from None
    if auth is not None:

        def login() -> None:
            try:
                engine.login(registry=registry, reauth=True, **auth)
            except docker.errors.APIError as error:
                refused = any(word in str(error).lower() for word in ("401", "403", "unauthorized", "denied"))
                if _transient(error) and not refused:  # the engine wraps a registry's 401 in its own 500
                    raise Transient(error.explanation or str(error)) from None
                raise ConfigError(
                    f"login to {registry} as {auth['username']} was refused ({_status(error)}); "
                    f"check {cfg.password_env}"
                ) from None
            except Exception as error:
                if _transient(error):
                    raise Transient(type(error).__name__) from None
                raise

        with_retries(login, tries=cfg.retries, what=f"login to {registry}")
    digest = with_retries(
        lambda: _push_once(engine, repository, tag, auth, cfg, stream),
        tries=cfg.retries,
        what=f"push to {registry}",
    )
    served = _served_digest(cfg, registry, repository.split("/", 1)[1], tag, auth)
    if served != digest:
        raise CheckFailed(f"{repository}:{tag}: the registry serves {served}, not the pushed {digest}")
    details = {"repository": repository, "tag": tag, "digest": digest, "kind": cfg.kind}
    message = f"{repository}:{tag} pushed; the registry serves digest {digest}"
    return StageResult("push", [Check("push", Status.PASSED, message, details=details)])


def _push_once(
    engine: Any, repository: str, tag: str, auth: dict | None, cfg: settings.Push, stream: Any
) -> str:
    import docker

    digest = None
    try:
        for line in engine.api.push(repository, tag, auth_config=auth, stream=True, decode=True):
            if "error" in line:
                message = line["error"].strip()
                if any(word in message for word in ("500", "502", "503", "504", "connection refused", "EOF")):
                    raise Transient(message)
                if "auth" in message.lower() or "denied" in message.lower():
                    raise ConfigError(
                        f"{repository.split('/')[0]} refused the push: {message}; "
                        f"set {cfg.username_env} and {cfg.password_env}"
                    )
                raise CheckFailed(f"push of {repository}:{tag} failed: {message}")
            if stream is not None and line.get("status") and line.get("id"):
                stream.write(f"{line['id']}: {line['status']}\n")
            digest = line.get("aux", {}).get("Digest", digest)
    except docker.errors.APIError as error:
        if _transient(error):
            raise Transient(str(error)) from None
        raise
    except Exception as error:
        if _transient(error):
            raise Transient(type(error).__name__) from None
        raise
    if digest is None:
        raise CheckFailed(f"push of {repository}:{tag} reported no digest")
    return digest


def _served_digest(cfg: settings.Push, registry: str, path: str, tag: str, auth: dict | None) -> str:
    """The digest the registry itself reports for repository:tag: HEAD /v2/<name>/manifests/<tag>."""
    import requests

    scheme = cfg.scheme if cfg.scheme != "auto" else ("http" if loopback(registry) else "https")
    url = f"{scheme}://{registry}/v2/{path}/manifests/{tag}"
    basic = (auth["username"], auth["password"]) if auth else None

    def head() -> str:
        try:
            response = requests.head(url, headers={"Accept": MANIFEST_TYPES}, auth=basic, timeout=30)
        except requests.ConnectionError as error:
            raise Transient(type(error).__name__) from None
        if response.status_code >= 500:
            raise Transient(f"{response.status_code} {response.reason}")
        if response.status_code != 200:
            raise CheckFailed(f"{url} answered {response.status_code} {response.reason}")
        return response.headers.get("Docker-Content-Digest", "")

    return with_retries(head, tries=cfg.retries, what=f"reading the manifest of {path}:{tag}")


def loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0]
    return host in ("localhost", "[::1]") or host.startswith("127.")


def _status(error: Any) -> str:
    text = str(error)
    for status in ("401 Unauthorized", "403 Forbidden"):
        if status.split()[0] in text:
            return status
    return "unauthorized"
