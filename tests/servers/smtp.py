"""A real SMTP server for the tests: aiosmtpd on loopback, keeping every message it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Mailbox:
    """What the server received: one (envelope recipients, parsed message) per mail."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[tuple[list[str], Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


class Login:
    """Accepts one user and password (AUTH PLAIN or LOGIN, without TLS: loopback only)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        ok = getattr(data, "login", None) == self.user and getattr(data, "password", None) == self.password
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """``with SmtpServer() as box:`` a running server; ``box.messages`` what it got."""

    def __init__(self, login: Login | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.box = Mailbox(port=free_port())
        options = {"authenticator": login, "auth_require_tls": False} if login else {}
        self.controller = Controller(self.box, hostname=self.box.host, port=self.box.port, **options)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self.box

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
