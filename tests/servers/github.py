"""A GitHub look-alike over real HTTP, for the REST calls ci.report.publish makes.

No GitHub can run here. This one serves a repository's pull requests and
their issue comments: read a pull request, list its comments (paginated with
a Link header, as GitHub does), create one, edit one. A token is enforced as
a bearer token; a token without write access gets GitHub's 403 "Resource not
accessible by integration", a body over 65,536 characters a 422. Faults on
demand, one per coming request: "503", "drop" (the connection closed
unanswered), "rate-limit" (reset in a second), "rate-limit-long" (in an hour);
and ``drop_after_writes`` stores the next writes but drops their answers.
Every write is counted.
"""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.loopback import LoopbackServer


class FakeGitHub(LoopbackServer):
    METHODS = ("GET", "POST", "PATCH")

    def __init__(self, repository: str = "clinic/readmission", token: str = "ghs-123") -> None:
        self.repository, self.token = repository, token
        self.read_only_tokens: set[str] = set()
        self.pulls: dict[int, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []  # every comment: id, pull, body, user
        self.writes: list[tuple[str, int]] = []
        self.faults: list[str] = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def open_pull(self, number: int, base: str = "main", state: str = "open") -> None:
        self.pulls[number] = {"number": number, "state": state, "base": {"ref": base}}

    def on(self, pull: int) -> list[dict[str, Any]]:
        """The comments on a pull request, oldest first."""
        return [c for c in self.comments if c["pull"] == pull]

    def comment_as_person(self, pull: int, body: str) -> None:
        self.comments.append({"id": len(self.comments) + 1, "pull": pull, "body": body, "user": "a-person"})

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length)) if length else None
        with self._lock:
            fault = self.faults.pop(0) if self.faults else ""
        if fault == "drop":
            request.close_connection = True
            request.connection.close()
            return
        if fault == "503":
            return _send(request, 503, {"message": "Service Unavailable"})
        if fault in ("rate-limit", "rate-limit-long"):
            reset = int(time.time()) + (1 if fault == "rate-limit" else 3600)
            headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
            return _send(request, 403, {"message": "API rate limit exceeded"}, headers)
        if body and len(body.get("body", "")) > 65_536:
            return _send(
                request, 422, {"message": "Validation Failed: body is too long (maximum is 65536 characters)"}
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in (self.token, *self.read_only_tokens):
            return _send(request, 401, {"message": "Bad credentials"})
        url = urlsplit(request.path)
        with self._lock:
            return self._route(request, method, url.path, parse_qs(url.query), body, token)

    def _route(self, request, method: str, path: str, query: dict, body: Any, token: str) -> None:
        prefix = f"/repos/{self.repository}/"
        if not path.startswith(prefix):
            return _send(request, 404, {"message": "Not Found"})
        rest = path[len(prefix) :]
        if method == "GET" and (found := re.fullmatch(r"pulls/(\d+)", rest)):
            pull = self.pulls.get(int(found.group(1)))
            return _send(request, 200, pull) if pull else _send(request, 404, {"message": "Not Found"})
        if found := re.fullmatch(r"issues/(\d+)/comments", rest):
            number = int(found.group(1))
            if number not in self.pulls:
                return _send(request, 404, {"message": "Not Found"})
            if method == "GET":
                return self._page(request, number, query)
            if token != self.token:
                return _send(request, 403, {"message": "Resource not accessible by integration"})
            comment = {"id": len(self.comments) + 1, "pull": number, "body": body["body"], "user": "dsci"}
            self.comments.append(comment)
            self.writes.append(("create", comment["id"]))
            return self._written(request, 201, self._public(comment))
        if method == "PATCH" and (found := re.fullmatch(r"issues/comments/(\d+)", rest)):
            if token != self.token:
                return _send(request, 403, {"message": "Resource not accessible by integration"})
            comment = next((c for c in self.comments if c["id"] == int(found.group(1))), None)
            if comment is None:
                return _send(request, 404, {"message": "Not Found"})
            comment["body"] = body["body"]
            self.writes.append(("update", comment["id"]))
            return self._written(request, 200, self._public(comment))
        return _send(request, 404, {"message": f"no route {method} {path}"})

    def _written(self, request, status: int, data: Any) -> None:
        return None if self.dropped(request) else _send(request, status, data)

    def _page(self, request, number: int, query: dict) -> None:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        listed = self.on(number)
        chosen = listed[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(listed):
            base = f"{self.url}/repos/{self.repository}/issues/{number}/comments"
            headers["Link"] = f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"'
        return _send(request, 200, [self._public(c) for c in chosen], headers)

    def _public(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {"id": comment["id"], "body": comment["body"], "user": {"login": comment["user"]},
                "html_url": f"https://github.test/{self.repository}/pull/{comment['pull']}"
                            f"#issuecomment-{comment['id']}"}  # fmt: skip


def _send(
    request: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(data).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)
