"""A release's Kubernetes manifests: a kustomize base from the package's templates, an overlay per
environment, and the YAML that `kubectl kustomize` makes of them, rendered here without kubectl.

The base holds what every environment shares: a Deployment (liveness on /health, readiness on /ready,
non-root, read-only root filesystem, the age identity mounted from a Secret), a Service, a
HorizontalPodAutoscaler, a PodDisruptionBudget and a NetworkPolicy. An overlay says only what differs:
the namespace, the image by digest, the resources, the autoscaler's bounds (or, without one, the
replicas), and the
release's annotations. A team can commit the tree and hand it to kustomize, Argo CD or Flux; dsci
applies the same documents itself (a test holds the two renderings equal).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ci.core import files, imports, settings
from ci.core.errors import ConfigError

TEMPLATES = ("service.yaml", "deployment.yaml", "pdb.yaml", "hpa.yaml", "networkpolicy.yaml")
# kustomize's output order (its "legacy" sort): known kinds first, in this order, then by group.
KIND_ORDER = ("Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy")
IDENTITY_VOLUME = "identity"


@dataclass(frozen=True)
class Plan:
    """What one release of one environment is: the base's names and the overlay's values."""

    name: str  # the Deployment's, Service's, ... name
    repository: str  # the image's repository in the registry: 127.0.0.1:5000/clinic
    digest: str  # sha256:...
    environment: str
    env: settings.Environment
    secret: str  # the Secret with the age identity; "" when the bundle is not encrypted
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.env.namespace or self.environment

    @property
    def image(self) -> str:
        return f"{self.repository}@{self.digest}"


def templates(plan: Plan) -> list[str]:
    """The base's files: without the autoscaler when the environment has none."""
    return [name for name in TEMPLATES if plan.env.autoscale or name != "hpa.yaml"]


def base(plan: Plan) -> list[dict[str, Any]]:
    """The base's documents, from the package's templates, in kustomize's order. With an autoscaler
    the Deployment says no replicas: the autoscaler owns them, and an apply would reset them."""
    import yaml

    values = {"name": plan.name, "image": plan.repository, "secret": plan.secret or f"{plan.name}-identity"}
    folder = resources.files("ci").joinpath("resources/deploy")
    names = templates(plan)
    documents = [
        yaml.safe_load(Template(folder.joinpath(name).read_text(encoding="utf-8")).substitute(values))
        for name in names
    ]
    deployment = documents[names.index("deployment.yaml")]
    if plan.env.autoscale:
        del deployment["spec"]["replicas"]
    if not plan.secret:  # a bundle that is not encrypted needs no identity
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        pod["volumes"] = [v for v in pod["volumes"] if v["name"] != IDENTITY_VOLUME]
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != IDENTITY_VOLUME]
        container["env"] = [e for e in container["env"] if e["name"] != "DSCI_IDENTITY"]
    return documents


def kustomization(plan: Plan) -> dict[str, Any]:
    """The overlay of ``plan``'s environment: everything that differs from the base."""
    env = plan.env
    overlay: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": plan.namespace,
        "resources": ["../../base"],
        "commonAnnotations": dict(plan.annotations),
        "images": [{"name": plan.repository, "digest": plan.digest}],
        "patches": [{
            "target": {"kind": "Deployment", "name": plan.name},
            "patch": _ops([("/spec/template/spec/containers/0/resources", _resources(env))]),
        }],
    }  # fmt: skip
    if env.autoscale:
        overlay["patches"].append({
            "target": {"kind": "HorizontalPodAutoscaler", "name": plan.name},
            "patch": _ops([
                ("/spec/minReplicas", env.min_replicas),
                ("/spec/maxReplicas", env.max_replicas),
                ("/spec/metrics/0/resource/target/averageUtilization", env.cpu_utilization),
            ]),
        })  # fmt: skip
    else:
        overlay["replicas"] = [{"name": plan.name, "count": env.replicas}]
    return overlay


def _resources(env: settings.Environment) -> dict[str, Any]:
    return {
        "requests": {"cpu": env.cpu, "memory": env.memory},
        "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
    }


def _ops(replacements: list[tuple[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump(
        [{"op": "replace", "path": p, "value": v} for p, v in replacements], sort_keys=False
    )


def render(plan: Plan) -> list[dict[str, Any]]:
    """The documents ``kubectl kustomize overlays/<environment>`` prints, made here from the same values."""
    documents = copy.deepcopy(base(plan))
    env = plan.env
    for document in documents:
        metadata = document["metadata"]
        metadata["namespace"] = plan.namespace
        if plan.annotations:
            metadata["annotations"] = {**metadata.get("annotations", {}), **plan.annotations}
        kind, spec = document["kind"], document["spec"]
        if kind == "Deployment":
            if not env.autoscale:
                spec["replicas"] = env.replicas
            template = spec["template"]
            if plan.annotations:
                template["metadata"]["annotations"] = {
                    **template["metadata"].get("annotations", {}),
                    **plan.annotations,
                }
            container = template["spec"]["containers"][0]
            container["image"] = plan.image
            container["resources"] = _resources(env)
        elif kind == "HorizontalPodAutoscaler":
            spec["minReplicas"], spec["maxReplicas"] = env.min_replicas, env.max_replicas
            spec["metrics"][0]["resource"]["target"]["averageUtilization"] = env.cpu_utilization
    return sorted(documents, key=lambda d: KIND_ORDER.index(d["kind"]))


def write_tree(folder: Path, plan: Plan) -> Path:
    """Write ``folder``/base and ``folder``/overlays/<environment>; the overlay's folder."""
    import yaml

    files.write_text(
        folder / "base" / "kustomization.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": templates(plan),
            },
            sort_keys=False,
        ),
    )
    for name, document in zip(templates(plan), base(plan), strict=True):
        files.write_text(folder / "base" / name, yaml.safe_dump(document, sort_keys=False))
    overlay = folder / "overlays" / plan.environment
    files.write_text(overlay / "kustomization.yaml", yaml.safe_dump(kustomization(plan), sort_keys=False))
    return overlay


def dump(documents: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(documents, sort_keys=False)


def validate(documents: list[dict[str, Any]], version: str, where: str) -> None:
    """Every document valid for Kubernetes ``version``, strictly (no unknown field), offline; else a
    ConfigError naming the document, the field and what is wrong, and the settings to fix."""
    imports.jsonschema()
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    _known(version)
    for document in documents:
        what = f"{document['kind']} {document['metadata']['name']}"
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except ValidationError as error:
            path = ".".join(str(p) for p in error.path) or "(the document)"
            raise ConfigError(
                f"{where}: {what} is not valid for Kubernetes {version} at {path}: {error.message}; "
                "check the environment's settings (ci.deploy.environments)"
            ) from None


def _known(version: str) -> None:
    """ConfigError unless kubernetes-validate has the schemas of ``version``."""
    from kubernetes_validate.utils import all_versions

    def minor(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.removeprefix("v").split(".")[:2])

    known = all_versions()
    try:
        inside = minor(known[0]) <= minor(version) <= minor(known[-1])
    except ValueError:
        inside = False
    if not inside:
        raise ConfigError(
            f"ci.deploy.kubernetes_version: {version} is not a version kubernetes-validate knows "
            f"({known[0]} to {known[-1]})"
        )
