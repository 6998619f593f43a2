"""What the look-alike servers share: an HTTP/1.1 server on a free loopback port, in a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """``with Server() as s:`` serves on ``s.port``; each request goes to ``s._serve(request, method)``."""

    METHODS = ("GET", "POST")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    drop_after_writes = 0  # the next writes are kept, but their answers never sent

    def dropped(self, request: BaseHTTPRequestHandler) -> bool:
        """Whether to leave this write unanswered: close the connection, as a network that lost it would."""
        if not self.drop_after_writes:
            return False
        self.drop_after_writes -= 1
        request.close_connection = True
        request.connection.close()
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body in one write: no Nagle delay on keep-alive connections

            def log_message(self, *args: Any) -> None:
                pass

        for method in self.METHODS:
            setattr(Handler, f"do_{method}", lambda request, method=method: server._serve(request, method))
        return Handler
