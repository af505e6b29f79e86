"""The notifier: the one way supportloop sends e-mail (SMTP) and JSON webhooks.

Every later part (survey e-mails, replies, alerts) goes through ``Notifier``. Each send
is tried ``settings.notify_retries`` times with exponential backoff; transient failures
(connection refused, timeouts, SMTP 4xx, HTTP 5xx/429) are retried, permanent ones
(SMTP 5xx such as an unknown recipient or a failed login, HTTP 4xx) fail at once. After
the last failure a ``ProviderError`` says what failed and what to check.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

import httpx

from core.platform.config import Settings
from core.platform.errors import ProviderError, ValidationError

SMTP_TLS_MODES = ("none", "starttls", "ssl")

# Pragmatic address check: one @, no spaces or control characters, a dotted domain
# (or "localhost" for laptops and tests).
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(localhost|([A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,})$")
_HEADER_NAME_RE = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':'


class _Transient(Exception):
    """A failure worth another attempt."""


def validate_address(address: str, what: str = "address") -> str:
    """Return the bare e-mail address of ``address`` ("Name <a@b.c>" or "a@b.c") or raise
    ValidationError saying what is wrong."""
    if not isinstance(address, str) or not address.strip():
        raise ValidationError(f"The {what} is empty; give an e-mail address like name@example.com.")
    if any(c in address for c in "\r\n\0"):
        raise ValidationError(f"The {what} {address!r} contains a line break; give one address.")
    _, bare = parseaddr(address.strip())
    if not bare or not _ADDRESS_RE.match(bare):
        raise ValidationError(
            f"The {what} {address!r} is not a valid e-mail address; use the form name@example.com."
        )
    return bare


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            raise ValidationError(f"Header name {name!r} is not valid; use letters, digits and '-'.")
        value = str(value)
        if any(c in value for c in "\r\n\0"):
            raise ValidationError(f"Header {name} contains a line break; headers are one line.")
        out[name] = value
    return out


class Notifier:
    """Sends e-mail over SMTP and JSON webhooks with retries.

    ``sleep`` is called between attempts (inject a no-op in tests); the wait before
    attempt n+1 is ``backoff_s * 2**(n-1)``. ``ssl_context`` overrides the default
    certificate-verifying context (e.g. to trust a private CA).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ):
        if settings.smtp_tls not in SMTP_TLS_MODES:
            raise ValidationError(
                f"SUPPORTLOOP_SMTP_TLS={settings.smtp_tls!r} is not supported; use one of "
                f"{', '.join(SMTP_TLS_MODES)}."
            )
        self.settings = settings
        self.sleep = sleep
        self.backoff_s = backoff_s
        self.ssl_context = ssl_context
        self.http_transport = http_transport

    # --- retries ------------------------------------------------------------------------
    def _attempts(self, what: str, attempt: Callable[[], Any], hint: str) -> Any:
        tries = max(1, self.settings.notify_retries)
        last: BaseException | None = None
        for n in range(1, tries + 1):
            try:
                return attempt()
            except _Transient as exc:
                last = exc.__cause__ or exc
                if n < tries:
                    self.sleep(self.backoff_s * 2 ** (n - 1))
        raise ProviderError(f"{what} failed after {tries} attempt(s): {_describe(last)}. {hint}")

    # --- e-mail -------------------------------------------------------------------------
    def build_email(
        self,
        to: str | list[str],
        subject: str,
        text: str,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        """The message ``send_email`` would send (validated; has a Message-ID)."""
        recipients = [to] if isinstance(to, str) else list(to)
        if not recipients:
            raise ValidationError("An e-mail needs at least one recipient.")
        for r in recipients:
            validate_address(r, "recipient")
        sender = validate_address(self.settings.smtp_sender, "sender (SUPPORTLOOP_SMTP_SENDER)")
        if not subject or not subject.strip():
            raise ValidationError("An e-mail needs a subject.")
        if any(c in subject for c in "\r\n"):
            raise ValidationError("The subject contains a line break; subjects are one line.")
        if text is None or not str(text).strip():
            raise ValidationError("An e-mail needs a plain-text body (also when it has an HTML part).")
        extra = _check_headers(headers)

        msg = EmailMessage()
        name, _ = parseaddr(self.settings.smtp_sender)
        msg["From"] = formataddr((name, sender)) if name else sender
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
        for key, value in extra.items():
            if key.lower() in ("from", "to", "subject", "date", "message-id"):
                raise ValidationError(f"Header {key} is set by the notifier; pass it as an argument.")
            msg[key] = value
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
        return msg

    def send_email(
        self,
        to: str | list[str],
        subject: str,
        text: str,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Send one e-mail (plain text, optionally with an HTML alternative) and return its
        Message-ID. Raises ValidationError for bad input, ProviderError when the SMTP server
        cannot be reached or refuses the message after every retry."""
        msg = self.build_email(to, subject, text, html, headers)
        s = self.settings
        hint = (
            f"Check SUPPORTLOOP_SMTP_HOST/PORT ({s.smtp_host}:{s.smtp_port}), SMTP_TLS ({s.smtp_tls}) "
            "and the SMTP credentials."
        )
        self._attempts(f"Sending e-mail {msg['Subject']!r} to {msg['To']}", lambda: self._smtp_send(msg),
                       hint)
        return str(msg["Message-ID"])

    def _smtp_send(self, msg: EmailMessage) -> None:
        s = self.settings
        context = self.ssl_context or ssl.create_default_context()
        try:
            if s.smtp_tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s, context=context
                )
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
            with client:
                client.ehlo()
                if s.smtp_tls == "starttls":
                    client.starttls(context=context)
                    client.ehlo()
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password)
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ProviderError(
                f"The SMTP server refused every recipient of {msg['Subject']!r}: "
                + "; ".join(f"{rcpt}: {code} {_text(err)}" for rcpt, (code, err) in exc.recipients.items())
                + ". Check the addresses."
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderError(
                f"The SMTP server rejected the login of {s.smtp_username!r}: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}. Check SUPPORTLOOP_SMTP_USERNAME and SMTP_PASSWORD."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ProviderError(
                f"The SMTP server at {s.smtp_host}:{s.smtp_port} does not support what was asked "
                f"({exc}). Check SUPPORTLOOP_SMTP_TLS and whether the server needs a login."
            ) from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise _Transient() from exc
            raise ProviderError(
                f"The SMTP server refused {msg['Subject']!r}: {exc.smtp_code} {_text(exc.smtp_error)}."
            ) from exc
        except ssl.SSLError as exc:
            raise ProviderError(
                f"TLS with {s.smtp_host}:{s.smtp_port} failed: {exc}. Check SUPPORTLOOP_SMTP_TLS "
                "(starttls for port 587, ssl for 465) and the server certificate."
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _Transient() from exc

    # --- webhooks -----------------------------------------------------------------------
    def send_webhook(
        self, url: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> int:
        """POST ``payload`` as JSON to ``url`` and return the HTTP status (2xx). Retries
        connection failures, timeouts, 429 and 5xx; a 4xx fails at once. Raises
        ValidationError for a bad URL or payload, ProviderError after the last failure."""
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
            raise ValidationError(f"Webhook URL {url!r} is not valid; use http(s)://host/path.")
        if not isinstance(payload, dict):
            raise ValidationError("A webhook payload must be a JSON object (a dict).")
        extra = _check_headers(headers)
        try:
            body = json.dumps(payload, default=str).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"The webhook payload cannot be written as JSON: {exc}.") from exc
        extra.setdefault("Content-Type", "application/json")
        extra.setdefault("User-Agent", "supportloop-notifier")

        def attempt() -> int:
            try:
                with httpx.Client(timeout=self.settings.webhook_timeout_s,
                                  transport=self.http_transport) as client:
                    resp = client.post(url, content=body, headers=extra)
            except httpx.HTTPError as exc:
                raise _Transient() from exc
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _Transient() from _HttpStatus(resp)
            if resp.status_code >= 300:
                raise ProviderError(
                    f"Webhook {url} answered {resp.status_code} {resp.reason_phrase}: "
                    f"{resp.text[:200]!r}. Check the URL and what the receiver expects."
                )
            return resp.status_code

        return self._attempts(
            f"Webhook POST to {url}", attempt,
            f"Check that the receiver is up and SUPPORTLOOP_WEBHOOK_TIMEOUT_S "
            f"({self.settings.webhook_timeout_s}s) is long enough.",
        )


class _HttpStatus(Exception):
    def __init__(self, resp: httpx.Response):
        super().__init__(f"HTTP {resp.status_code} {resp.reason_phrase}")


def _text(err: bytes | str) -> str:
    return err.decode(errors="replace") if isinstance(err, bytes) else str(err)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, _HttpStatus) else text
