"""A Jenkins look-alike over real HTTP, for the endpoints dsci uses through python-jenkins.

No Jenkins server can be installed on these machines (its WAR is in no reachable
registry), so this one behaves like Jenkins for: the crumb issuer, whoAmI, the
job list, job info, get / post config.xml, createItem, doDelete, build, and
build info. Basic auth and crumbs are enforced as Jenkins enforces them; faults
(a 503, a dropped connection) can be queued; every write is counted.
"""

from __future__ import annotations

import base64
import json
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.loopback import LoopbackServer

CRUMB = "7c0ffee"
FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"


@dataclass
class Item:
    xml: str
    builds: list[dict[str, Any]] = field(default_factory=list)  # {"number", "result", "timestamp"}

    @property
    def folder(self) -> bool:
        return ET.fromstring(self.xml.encode()).tag == FOLDER

    @property
    def description(self) -> str:
        found = ET.fromstring(self.xml.encode()).find("description")
        return "" if found is None else (found.text or "")


class FakeJenkins(LoopbackServer):
    def __init__(
        self, user: str = "seeder", token: str = "s3cret-token", *, may_configure: bool = True
    ) -> None:
        self.user, self.token, self.may_configure = user, token, may_configure
        self.items: dict[str, Item] = {}
        self.writes: list[tuple[str, str]] = []  # (method, path) of every change
        self.faults: list[str] = []  # "503" or "drop", taken one per request
        self.requests = 0
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/"

    def add_build(self, name: str, result: str, age_seconds: float) -> None:
        item = self.items[name]
        number = len(item.builds) + 1
        item.builds.append(
            {"number": number, "result": result, "timestamp": int((time.time() - age_seconds) * 1000)}
        )

    # the HTTP side --------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            self.requests += 1
            fault = self.faults.pop(0) if self.faults else None
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if fault == "drop":
            request.close_connection = True
            request.connection.shutdown(2)
            return
        if fault == "503":
            return self._send(request, 503, "Service Unavailable")
        if not self._authorized(request):
            return self._send(
                request, 401, "Unauthorized", headers={"WWW-Authenticate": 'Basic realm="Jenkins"'}
            )
        url = urlsplit(request.path)
        path, query = unquote(url.path), parse_qs(url.query)
        if method == "POST" and request.headers.get("Jenkins-Crumb") != CRUMB:
            return self._send(request, 403, "No valid crumb was included in the request")
        if method == "POST" and not self.may_configure:
            return self._send(request, 403, f"{self.user} is missing the Job/Configure permission")
        if path == "/crumbIssuer/api/json":
            return self._json(request, {"crumb": CRUMB, "crumbRequestField": "Jenkins-Crumb"})
        if path == "/me/api/json":
            return self._json(request, {"id": self.user, "fullName": self.user})
        if path in ("/api/json", "/"):
            return self._json(request, {"jobs": self._listing("")})
        match = re.fullmatch(r"((?:/job/[^/]+)*)/createItem", path)
        if match and method == "POST":
            return self._create(request, self._name(match.group(1)), query.get("name", [""])[0], body)
        match = re.fullmatch(r"((?:/job/[^/]+)+)(/.*)?", path)
        if not match:
            return self._send(request, 404, "Not Found")
        name, rest = self._name(match.group(1)), match.group(2) or "/"
        item = self.items.get(name)
        if item is None:
            return self._send(request, 404, "Not Found")
        return self._item(request, method, name, item, rest, body)

    def _item(self, request, method, name, item, rest, body) -> None:
        if rest == "/config.xml" and method == "GET":
            return self._send(request, 200, "OK", item.xml.encode(), "application/xml")
        if rest == "/config.xml" and method == "POST":
            ET.fromstring(body)
            item.xml = body.decode()
            self.writes.append(("update", name))
            return self._send(request, 200, "OK")
        if rest == "/doDelete" and method == "POST":
            for other in [n for n in self.items if n == name or n.startswith(name + "/")]:
                del self.items[other]
            self.writes.append(("delete", name))
            return self._send(request, 302, "Found", headers={"Location": "/"})
        if rest == "/build" and method == "POST":
            self.add_build(name, None, 0)
            self.writes.append(("build", name))
            return self._send(request, 201, "Created", headers={"Location": f"{self.url}queue/item/1/"})
        if rest == "/api/json":
            return self._json(request, self._info(name, item))
        match = re.fullmatch(r"/(\d+)/api/json", rest)
        if match and 0 < int(match.group(1)) <= len(item.builds):
            build = item.builds[int(match.group(1)) - 1]
            url = f"{self.url}{self._path(name)}{build['number']}/"
            return self._json(request, {**build, "url": url, "fullDisplayName": f"{name} #{build['number']}"})
        return self._send(request, 404, "Not Found")

    def _create(self, request, folder: str, short: str, body: bytes) -> None:
        name = f"{folder}/{short}" if folder else short
        if folder and (folder not in self.items or not self.items[folder].folder):
            return self._send(request, 404, "Not Found")
        if not short or name in self.items:
            return self._send(request, 400, "A job already exists with the name " + short)
        ET.fromstring(body)
        self.items[name] = Item(body.decode())
        self.writes.append(("create", name))
        return self._send(request, 200, "OK")

    def _info(self, name: str, item: Item) -> dict[str, Any]:
        def ref(build: dict[str, Any] | None) -> dict[str, Any] | None:
            return (
                None
                if build is None
                else {"number": build["number"], "url": f"{self.url}{self._path(name)}{build['number']}/"}
            )

        done = [b for b in item.builds if b["result"] is not None]
        good = [b for b in done if b["result"] == "SUCCESS"]
        failed = next((b for b in reversed(done) if b["result"] == "FAILURE"), None)
        info = {
            "name": name.rpartition("/")[2],
            "fullName": name,
            "url": f"{self.url}{self._path(name)}",
            "description": item.description,
            "color": "red" if done and done[-1]["result"] != "SUCCESS" else "blue",
            "lastBuild": ref(item.builds[-1] if item.builds else None),
            "lastCompletedBuild": ref(done[-1] if done else None),
            "lastSuccessfulBuild": ref(good[-1] if good else None),
            "lastFailedBuild": ref(failed),
        }
        if item.folder:
            info["jobs"] = self._listing(name)
        return info

    def _listing(self, folder: str) -> list[dict[str, Any]]:
        found = []
        for name, item in sorted(self.items.items()):
            parent, _, short = name.rpartition("/")
            if parent != folder:
                continue
            entry = {"name": short, "url": f"{self.url}{self._path(name)}", "color": "notbuilt"}
            if item.folder:
                entry["jobs"] = self._listing(name)
            found.append(entry)
        return found

    def _authorized(self, request: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    @staticmethod
    def _name(job_path: str) -> str:
        return "/".join(part for part in job_path.split("/job/") if part.strip("/")).strip("/")

    @staticmethod
    def _path(name: str) -> str:
        return "".join(f"job/{part}/" for part in name.split("/"))

    def _json(self, request: BaseHTTPRequestHandler, data: Any) -> None:
        self._send(request, 200, "OK", json.dumps(data).encode(), "application/json")

    @staticmethod
    def _send(
        request, status: int, reason: str, body: bytes = b"", kind: str = "text/plain", headers=None
    ) -> None:
        request.send_response(status, reason)
        for key, value in {"Content-Type": kind, "Content-Length": str(len(body)), **(headers or {})}.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)
