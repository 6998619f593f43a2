"""A Kubernetes API server look-alike over real HTTP, for the calls of dsci's kubernetes target.

No API server (nor kind, k3s, etcd) can run on these machines, so this one behaves like one for:
reading a Secret, server-side apply (PATCH with application/apply-patch+yaml, fieldManager, force) of
the five kinds dsci renders, reading a Deployment, listing its pods by label, deleting, and the
Service proxy. It keeps the objects, bumps a Deployment's generation when its spec changes, and plays
the Deployment controller: each new generation rolls out as ``rollouts`` says (ready by default;
"crash", "pull" or "never"). The Service's proxy forwards to ``backend``, a real model server the test
runs, except for a generation told to "lie", whose answers it alters. A bearer token is required.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.loopback import LoopbackServer

OBJECT = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+/[^/]+))/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)/(?P<name>[^/]+)$"
)
PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")
PROXY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<name>[^/:]+):http/proxy(?P<path>/.*)$")
WAITING = {"crash": ("CrashLoopBackOff", "back-off 10s restarting failed container"),
           "pull": ("ErrImagePull", "failed to pull image: connection refused")}  # fmt: skip


class FakeKubernetes(LoopbackServer):
    METHODS = ("GET", "POST", "PATCH", "DELETE")

    def __init__(self, token: str = "cluster-token") -> None:
        self.token = token
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, namespace, name)
        self.rollouts: list[str] = []  # how the next new generations roll out; empty: ready
        self.outcome: dict[tuple[str, str, int], str] = {}  # (namespace, name, generation): how it went
        self.polls: dict[tuple[str, str, int], int] = {}
        self.backend = ""  # the model server the Service proxies to
        self.requests: list[dict[str, Any]] = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def add_secret(self, namespace: str, name: str) -> None:
        self.objects[("secrets", namespace, name)] = {"kind": "Secret", "metadata": {"name": name}}

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return self.objects[("deployments", namespace, name)]

    # HTTP -----------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        with self._lock:
            kind = request.headers.get("Content-Type", "")
            self.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                  "content_type": kind, "body": raw})  # fmt: skip
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _send(request, 401, _status(401, "Unauthorized"))
            if (proxied := PROXY.match(url.path)) and method == "POST":
                target = self._proxy_target(proxied["ns"], proxied["name"])
            else:
                return self._route(request, method, url.path, parse_qs(url.query), raw)
        self._proxy(request, target, proxied["path"], raw)  # outside the lock: the model takes its time

    def _route(self, request, method: str, path: str, query: dict, raw: bytes) -> None:
        if (pods := PODS.match(path)) and method == "GET":
            return _send(request, 200, {"kind": "PodList", "items": self._pods(pods["ns"], query)})
        found = OBJECT.match(path)
        if not found:
            return _send(request, 404, _status(404, f"no route {method} {path}"))
        key = (found["plural"], found["ns"], found["name"])
        if method == "GET":
            if key not in self.objects:
                return _send(request, 404, _status(404, f'{found["plural"]} "{found["name"]}" not found'))
            return _send(request, 200, self._observed(key))
        if method == "DELETE":
            self.objects.pop(key, None)
            return _send(request, 200, _status(200, "deleted"))
        if method == "PATCH":
            if request.headers.get("Content-Type") != "application/apply-patch+yaml":
                return _send(request, 415, _status(415, "not a server-side apply"))
            if query.get("fieldManager") != ["dsci"]:
                return _send(request, 422, _status(422, "fieldManager is required for apply patch"))
            return _send(request, 200, self._apply(key, json.loads(raw)))
        return _send(request, 405, _status(405, "method not allowed"))

    # The controller -------------------------------------------------------------------------

    def _apply(self, key: tuple[str, str, str], document: dict[str, Any]) -> dict[str, Any]:
        before = self.objects.get(key)
        generation = (before or {}).get("metadata", {}).get("generation", 0)
        if before is None or before.get("spec") != document.get("spec"):
            generation += 1
            if key[0] == "deployments":
                outcome = self.rollouts.pop(0) if self.rollouts else "ready"
                self.outcome[(key[1], key[2], generation)] = outcome
        stored = json.loads(json.dumps(document))
        stored["metadata"]["generation"] = generation
        self.objects[key] = stored
        return stored

    def _observed(self, key: tuple[str, str, str]) -> dict[str, Any]:
        """A Deployment as its controller reports it: on the first look at a new generation the status is
        still the last one's; on the next, updated, and available when the rollout goes well."""
        stored = json.loads(json.dumps(self.objects[key]))
        if key[0] != "deployments":
            return stored
        generation, wanted = stored["metadata"]["generation"], stored["spec"].get("replicas", 1)
        look = (key[1], key[2], generation)
        self.polls[look] = self.polls.get(look, 0) + 1
        if self.polls[look] == 1 and generation > 1:
            before = self.outcome.get((key[1], key[2], generation - 1)) in ("ready", "lie")
            available = wanted if before else 0
            stored["status"] = {"observedGeneration": generation - 1, "replicas": wanted,
                                "updatedReplicas": 0, "availableReplicas": available}  # fmt: skip
            return stored
        ready = self.outcome.get(look) in ("ready", "lie") and self.polls[look] > 1
        stored["status"] = {"observedGeneration": generation, "replicas": wanted, "updatedReplicas": wanted,
                            "availableReplicas": wanted if ready else 0}  # fmt: skip
        return stored

    def _pods(self, namespace: str, query: dict) -> list[dict[str, Any]]:
        selector = query.get("labelSelector", [""])[0]
        pods = []
        for (plural, ns, name), stored in self.objects.items():
            labels = stored.get("spec", {}).get("selector", {}).get("matchLabels", {})
            if (
                plural != "deployments"
                or ns != namespace
                or selector != ",".join(f"{k}={v}" for k, v in labels.items())
            ):
                continue
            outcome = self.outcome.get((ns, name, stored["metadata"]["generation"]))
            image = stored["spec"]["template"]["spec"]["containers"][0]["image"]
            state = (
                {"waiting": dict(zip(("reason", "message"), WAITING[outcome], strict=True))}
                if outcome in WAITING
                else {"running": {}}
            )
            status = {"containerStatuses": [{"name": "model", "image": image, "state": state}]}
            pods.append({"metadata": {"name": f"{name}-7d9f-x2x4q"}, "status": status})
        return pods

    def _proxy_target(self, namespace: str, name: str) -> str:
        """How the pods behind the Service fare: the Service's selector must match the Deployment's pods,
        and its port ``http`` lead to the container's 8000, or there are no endpoints."""
        service = self.objects.get(("services", namespace, name))
        if service is None:
            return "none"
        port = next((p for p in service["spec"].get("ports", []) if p.get("name") == "http"), {})
        selector = service["spec"].get("selector", {})
        for (plural, ns, deployment), stored in self.objects.items():
            labels = stored.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
            if (
                plural == "deployments"
                and ns == namespace
                and selector
                and selector.items() <= labels.items()
            ):
                if port.get("targetPort") != 8000:
                    return "none"
                return self.outcome.get((ns, deployment, stored["metadata"]["generation"]), "none")
        return "none"

    def _proxy(self, request, outcome: str, path: str, raw: bytes) -> None:
        if outcome not in ("ready", "lie") or not self.backend:
            return _send(request, 503, _status(503, "no endpoints available for service"))
        forwarded = urllib.request.Request(
            self.backend + path, data=raw, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=30) as answer:
                status, body = answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read() or b"{}")
        if outcome == "lie" and "predictions" in body:  # a pod whose model predicts otherwise
            body["predictions"] = [1 - p for p in body["predictions"]]
        _send(request, status, body)


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}


def _send(request: BaseHTTPRequestHandler, status: int, data: Any) -> None:
    body = json.dumps(data).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
