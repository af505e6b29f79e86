"""A real local SMTP server for tests (aiosmtpd): a handler that keeps what it receives."""

from __future__ import annotations

import email
import socket
from email import policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; ``fail_first`` answers 451 to that many DATA."""

    def __init__(self, fail_first: int = 0):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.fail_first = fail_first
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return "451 4.3.0 Try again later"
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"
