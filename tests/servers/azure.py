"""An Azure DevOps look-alike over real HTTP, for the calls the azure-devops SDK makes in ci.azure.sync.

No Azure DevOps server can run here. This one answers the SDK's discovery
(OPTIONS /_apis with the resource locations, GET /_apis/resourceAreas, empty as
on-premises servers answer, so every client uses the organization's URL), and
the endpoints used: a Git repository, the pipelines list, create and run, a
build definition's get and update, and a pull request with its comment
threads (list, create, edit a comment) and attachments (list, upload; a name
already taken is refused). A personal access token is enforced as
basic auth with an empty user, and a read-only token gets Azure's 403 naming the
permission; every request and write is counted. Faults on demand, one per coming
request: "503" (no body), "500" (Azure's JSON error), "429" (throttled); and
``drop_after_writes`` stores the next writes but drops their answers.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.servers.loopback import LoopbackServer

# The SDK finds each endpoint by these ids (azure-devops 7.1's clients), then fills the route template.
LOCATIONS = [
    ("e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/{resource}/{areaId}"),
    (
        "225f7195-f9c7-4d14-ab28-a83f7ff77e1f",
        "git",
        "repositories",
        "{project}/_apis/git/{resource}/{repositoryId}",
    ),
    (
        "28e1305e-2afe-47bf-abaf-cbb0e6a91988",
        "pipelines",
        "pipelines",
        "{project}/_apis/{resource}/{pipelineId}",
    ),
    (
        "7859261e-d2e9-4a68-b820-a5d84cc5bb3d",
        "pipelines",
        "runs",
        "{project}/_apis/pipelines/{pipelineId}/{resource}/{runId}",
    ),
    (
        "9946fd70-0d40-406e-b686-b4744cbbcc37",
        "git",
        "pullRequests",
        "{project}/_apis/git/repositories/{repositoryId}/{resource}/{pullRequestId}",
    ),
    (
        "ab6e2e5d-a0b7-4153-b64a-a4efe0d49449",
        "git",
        "pullRequestThreads",
        "{project}/_apis/git/repositories/{repositoryId}/pullRequests/{pullRequestId}/threads/{threadId}",
    ),
    (
        "965a3ec7-5ed8-455a-bdcb-835a5ea7fe7b",
        "git",
        "pullRequestThreadComments",
        "{project}/_apis/git/repositories/{repositoryId}/pullRequests/{pullRequestId}/threads/{threadId}"
        "/comments/{commentId}",
    ),
    (
        "965d9361-878b-413b-a494-45d5b5fd8ab7",
        "git",
        "pullRequestAttachments",
        "{project}/_apis/git/repositories/{repositoryId}/pullRequests/{pullRequestId}/attachments/{fileName}",
    ),
    (
        "dbeaf647-6167-421a-bda9-c9327b25e2e6",
        "build",
        "definitions",
        "{project}/_apis/build/{resource}/{definitionId}",
    ),
]


class FakeAzureDevOps(LoopbackServer):
    METHODS = ("OPTIONS", "GET", "POST", "PUT", "PATCH")

    def __init__(
        self, organization: str = "contoso", project: str = "clinic", token: str = "pat-123"
    ) -> None:
        self.organization, self.project, self.token = organization, project, token
        self.repositories = {project: str(uuid.uuid5(uuid.NAMESPACE_URL, project))}
        self.definitions: dict[int, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str]] = []
        self.pulls: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, list[dict[str, Any]]] = {}
        self.attachments: dict[int, dict[str, bytes]] = {}
        self.faults: list[str] = []
        self.read_only_tokens: set[str] = set()
        self.requests = 0
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/{organization}"

    def open_pull(self, number: int, status: str = "active") -> None:
        repository = {"id": self.repositories[self.project], "name": self.project}
        self.pulls[number] = {"pullRequestId": number, "status": status, "repository": repository}

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        raw = _body(request)
        body = json.loads(raw) if raw and "json" in request.headers.get("Content-Type", "") else raw or None
        with self._lock:
            self.requests += 1
            fault = self.faults.pop(0) if self.faults else ""
        if fault == "503":
            return self._send(request, 503, None)
        if fault in ("500", "429"):
            said = (
                "TF400898: An internal error occurred"
                if fault == "500"
                else "TF400733: the request was throttled"
            )
            return self._send(request, int(fault), {"message": said, "typeKey": "ServiceException"})
        tokens = {self.token, *self.read_only_tokens}
        given = request.headers.get("Authorization", "")
        token = next(
            (t for t in tokens if given == "Basic " + base64.b64encode(f":{t}".encode()).decode()), None
        )
        if method in ("POST", "PATCH") and token in self.read_only_tokens:
            message = "TF401027: You need the Git 'PullRequestContribute' permission to perform this action."
            return self._send(request, 403, {"message": message, "typeKey": "GitNeedsPermissionException"})
        if token is None:
            return self._send(
                request, 401, None
            )  # as Azure DevOps: no JSON, so the SDK says "authentication"
        path = unquote(urlsplit(request.path).path)
        prefix = f"/{self.organization}"
        if not path.startswith(prefix):
            return self._send(request, 404, {"message": "no such organization"})
        path = path[len(prefix) :]
        with self._lock:
            return self._route(request, method, path, body)

    def _route(self, request, method: str, path: str, body: Any) -> None:
        if method == "OPTIONS" and path == "/_apis":
            return self._send(
                request, 200, {"count": len(LOCATIONS), "value": [_location(*loc) for loc in LOCATIONS]}
            )
        if method == "GET" and path == "/_apis/ResourceAreas":
            return self._send(request, 200, {"count": 0, "value": []})
        match = re.fullmatch(r"/([^/]+)/_apis/(.*)", path)
        if not match or match.group(1) != self.project:
            return self._send(
                request, 404, {"message": f"TF200016: The project {match and match.group(1)} does not exist"}
            )
        rest = match.group(2)
        if method == "GET" and (found := re.fullmatch(r"git/repositories/([^/]+)", rest)):
            name = found.group(1)
            if name not in self.repositories:
                message = f"TF401019: The Git repository with name or identifier {name} does not exist"
                return self._send(
                    request, 404, {"message": message, "typeKey": "GitRepositoryNotFoundException"}
                )
            return self._send(request, 200, {"id": self.repositories[name], "name": name})
        if rest == "pipelines" and method == "GET":
            listed = [self._pipeline(d) for d in self.definitions.values()]
            return self._send(request, 200, {"count": len(listed), "value": listed})
        if rest == "pipelines" and method == "POST":
            return self._create(request, body)
        if method == "POST" and (found := re.fullmatch(r"pipelines/(\d+)/runs", rest)):
            number = len(self.runs) + 1
            run = {"id": number, "name": f"{number}", "state": "inProgress",
                   "url": f"{self.url}/{self.project}/_apis/pipelines/{found.group(1)}/runs/{number}",
                   "resources": body.get("resources")}  # fmt: skip
            self.runs.append(run)
            self.writes.append(("run", found.group(1)))
            return self._send(request, 200, run)
        if found := re.fullmatch(r"git/repositories/([^/]+)/pullRequests/(\d+)(/.*)?", rest):
            return self._pull_request(
                request, method, found.group(1), int(found.group(2)), found.group(3), body
            )
        if found := re.fullmatch(r"build/definitions/(\d+)", rest):
            definition = self.definitions.get(int(found.group(1)))
            if definition is None:
                return self._send(request, 404, {"message": "TF401252: the definition does not exist"})
            if method == "GET":
                return self._send(request, 200, definition)
            if method == "PUT":
                if body.get("revision") != definition["revision"]:
                    return self._send(
                        request, 409, {"message": "TF400917: the definition was changed by someone else"}
                    )
                definition.update(
                    process=body["process"],
                    repository=body["repository"],
                    revision=definition["revision"] + 1,
                )
                self.writes.append(("update", found.group(1)))
                return self._send(request, 200, definition)
        return self._send(request, 404, {"message": f"no route {method} {path}"})

    def _pull_request(
        self, request, method: str, repository: str, number: int, rest: str | None, body: Any
    ) -> None:
        pull = self.pulls.get(number)
        if repository not in (*self.repositories, *self.repositories.values()) or pull is None:
            return self._send(
                request, 404, {"message": f"TF401180: The requested pull request {number} was not found"}
            )
        threads = self.threads.setdefault(number, [])
        attached = self.attachments.setdefault(number, {})
        base = (
            f"{self.url}/{self.project}/_apis/git/repositories/{repository}/pullRequests/{number}/attachments"
        )
        if rest == "/attachments" and method == "GET":
            listed = [{"displayName": name, "url": f"{base}/{name}"} for name in attached]
            return self._send(request, 200, {"count": len(listed), "value": listed})
        if method == "POST" and (found := re.fullmatch(r"/attachments/([^/]+)", rest)):
            name = found.group(1)
            if name in attached:
                return self._send(
                    request, 409, {"message": f"TF401027: the attachment {name} already exists"}
                )
            attached[name] = body
            self.writes.append(("attachment", name))
            made = {"displayName": name, "url": f"{base}/{name}", "id": len(attached)}
            return self._written(request, 201, made)
        if not rest and method == "GET":
            return self._send(request, 200, pull)
        if rest == "/threads" and method == "GET":
            return self._send(request, 200, {"count": len(threads), "value": threads})
        if rest == "/threads" and method == "POST":
            comments = [
                {**c, "id": i + 1, "isDeleted": False} for i, c in enumerate(body.get("comments") or [])
            ]
            thread = {"id": 100 + sum(len(t) for t in self.threads.values()), "comments": comments,
                      "status": body.get("status")}  # fmt: skip
            threads.append(thread)
            self.writes.append(("thread", str(thread["id"])))
            return self._written(request, 200, thread)
        if method == "PATCH" and (found := re.fullmatch(r"/threads/(\d+)/comments/(\d+)", rest or "")):
            thread = next((t for t in threads if t["id"] == int(found.group(1))), None)
            comment = thread and next((c for c in thread["comments"] if c["id"] == int(found.group(2))), None)
            if not comment:
                return self._send(request, 404, {"message": "TF401181: the comment was not found"})
            comment["content"] = body["content"]
            self.writes.append(("comment", found.group(1)))
            return self._written(request, 200, comment)
        return self._send(request, 404, {"message": f"no route {method} pullRequests{rest}"})

    def _written(self, request, status: int, data: Any) -> None:
        return None if self.dropped(request) else self._send(request, status, data)

    def _create(self, request, body: dict[str, Any]) -> None:
        configuration = body.get("configuration") or {}
        if configuration.get("type") != "yaml" or not configuration.get("path"):
            return self._send(request, 400, {"message": "a YAML pipeline needs configuration.path"})
        repository = configuration.get("repository") or {}
        if repository.get("id") not in self.repositories.values():
            return self._send(request, 400, {"message": "the repository does not exist"})
        if any(
            d["name"] == body["name"] and d["path"] == body.get("folder", "\\")
            for d in self.definitions.values()
        ):
            return self._send(request, 409, {"message": f"a pipeline named {body['name']} already exists"})
        number = len(self.definitions) + 1
        self.definitions[number] = {
            "id": number, "name": body["name"], "path": body.get("folder") or "\\", "revision": 1,
            "process": {"type": 2, "yamlFilename": configuration["path"]},
            "repository": {"id": repository["id"], "type": "TfsGit"},
        }  # fmt: skip
        self.writes.append(("create", body["name"]))
        return self._send(request, 200, self._pipeline(self.definitions[number]))

    def _pipeline(self, definition: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.url}/{self.project}/_apis/pipelines/{definition['id']}"
        return {"id": definition["id"], "name": definition["name"], "folder": definition["path"],
                "revision": definition["revision"], "url": url}  # fmt: skip

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        body = b"" if data is None else json.dumps(data).encode()
        request.send_response(status)
        request.send_header(
            "Content-Type", "text/plain" if data is None else "application/json; charset=utf-8"
        )
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _body(request: BaseHTTPRequestHandler) -> bytes:
    """The request's body, sent whole or in chunks (the SDK streams an attachment's file)."""
    if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return request.rfile.read(int(request.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(request.rfile.readline().split(b";")[0], 16):
        chunks.append(request.rfile.read(size))
        request.rfile.readline()
    request.rfile.readline()
    return b"".join(chunks)


def _location(location_id: str, area: str, resource: str, template: str) -> dict[str, Any]:
    return {"id": location_id, "area": area, "resourceName": resource, "routeTemplate": template,
            "resourceVersion": 1, "minVersion": 1.0, "maxVersion": 7.1, "releasedVersion": "7.1"}  # fmt: skip
