"""The notifier against a real local SMTP server (aiosmtpd) and a real local HTTP receiver."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.platform.config import Settings
from core.platform.errors import ProviderError, ValidationError
from core.platform.notify import Notifier, validate_address
from tests.factories.servers import WebhookReceiver as _Receiver
from tests.smtp import Inbox as _Inbox
from tests.smtp import free_port as _free_port


def _settings(tmp_path: Path, **kw) -> Settings:
    base = dict(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_sender="Grill Crew <hello@example.com>",
                smtp_timeout_s=5, webhook_timeout_s=2, notify_retries=3, _env_file=None)
    base.update(kw)
    return Settings(**base)


def _sleeps():
    waits: list[float] = []
    return waits, waits.append


# --- e-mail ------------------------------------------------------------------------------
def test_send_email_with_text_and_html(tmp_path, smtp):
    inbox, port = smtp
    notifier = Notifier(_settings(tmp_path, smtp_port=port))
    mid = notifier.send_email(
        "Maria Gonzalez <maria@example.org>", "How was your hibachi party?",
        "Please rate us 1-5.", html="<p>Please <b>rate</b> us.</p>", headers={"X-Survey-Id": "42"},
    )
    assert len(inbox.messages) == 1
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["maria@example.org"]
    assert msg["Subject"] == "How was your hibachi party?"
    assert msg["To"] == "Maria Gonzalez <maria@example.org>"
    assert msg["From"] == "Grill Crew <hello@example.com>"
    assert msg["Message-ID"] == mid and mid.endswith("@example.com>")
    assert msg["X-Survey-Id"] == "42"
    assert msg.get_body(("plain",)).get_content().strip() == "Please rate us 1-5."
    assert "<b>rate</b>" in msg.get_body(("html",)).get_content()


def test_send_email_to_several_recipients_plain_only(tmp_path, smtp):
    inbox, port = smtp
    Notifier(_settings(tmp_path, smtp_port=port)).send_email(
        ["a@example.com", "b@example.com"], "Alert: KB refresh rejected", "Details inside."
    )
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["a@example.com", "b@example.com"]
    assert not msg.is_multipart()
    assert msg.get_content().strip() == "Details inside."


def test_transient_smtp_error_is_retried_with_backoff(tmp_path, smtp):
    inbox, port = smtp
    inbox.fail_first = 2
    waits, sleep = _sleeps()
    Notifier(_settings(tmp_path, smtp_port=port), sleep=sleep, backoff_s=0.5).send_email(
        "x@example.com", "Hi", "text"
    )
    assert inbox.attempts == 3 and len(inbox.messages) == 1
    assert waits == [0.5, 1.0]


def test_smtp_failing_every_attempt_raises_provider_error(tmp_path, smtp):
    inbox, port = smtp
    inbox.fail_first = 99
    waits, sleep = _sleeps()
    with pytest.raises(ProviderError, match=r"after 3 attempt\(s\).*451"):
        Notifier(_settings(tmp_path, smtp_port=port), sleep=sleep).send_email("x@example.com", "Hi", "t")
    assert inbox.attempts == 3 and len(waits) == 2


def test_refused_recipient_fails_at_once(tmp_path, smtp):
    inbox, port = smtp
    waits, sleep = _sleeps()
    with pytest.raises(ProviderError, match="refused every recipient.*nobody@example.com"):
        Notifier(_settings(tmp_path, smtp_port=port), sleep=sleep).send_email(
            "nobody@example.com", "Hi", "t"
        )
    assert waits == [] and inbox.messages == []


def test_unreachable_smtp_server(tmp_path):
    waits, sleep = _sleeps()
    with pytest.raises(ProviderError, match="SUPPORTLOOP_SMTP_HOST"):
        Notifier(_settings(tmp_path, smtp_port=_free_port(), notify_retries=2), sleep=sleep).send_email(
            "x@example.com", "Hi", "t"
        )
    assert len(waits) == 1


@pytest.mark.parametrize("to", ["", "not-an-address", "a@b", "two@x.com\nBcc: evil@x.com", "a b@x.com"])
def test_bad_recipient_is_a_validation_error(tmp_path, to):
    with pytest.raises(ValidationError):
        Notifier(_settings(tmp_path)).send_email(to, "Hi", "t")


def test_bad_input_is_refused_before_connecting(tmp_path):
    n = Notifier(_settings(tmp_path, smtp_port=_free_port()))
    with pytest.raises(ValidationError, match="subject"):
        n.send_email("x@example.com", " ", "t")
    with pytest.raises(ValidationError, match="plain-text body"):
        n.send_email("x@example.com", "Hi", "")
    with pytest.raises(ValidationError, match="line break"):
        n.send_email("x@example.com", "Hi", "t", headers={"X-A": "1\r\nBcc: y@x.com"})
    with pytest.raises(ValidationError, match="recipient"):
        n.send_email([], "Hi", "t")
    with pytest.raises(ValidationError, match="SMTP_SENDER"):
        Notifier(_settings(tmp_path, smtp_sender="nope")).send_email("x@example.com", "Hi", "t")
    with pytest.raises(ValidationError, match="SMTP_TLS"):
        Notifier(_settings(tmp_path, smtp_tls="tls"))


def test_validate_address():
    bare = "ann.lee+party@mail.example.co.uk"
    assert validate_address(f"Ann Lee <{bare}>") == bare
    assert validate_address("ops@localhost") == "ops@localhost"


class _Auth:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"chef" \
            and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login(tmp_path):
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_Auth(),
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        s = _settings(tmp_path, smtp_port=port, smtp_username="chef", smtp_password="s3cret")
        Notifier(s).send_email("x@example.com", "Logged in", "t")
        assert len(inbox.messages) == 1
        waits, sleep = _sleeps()
        with pytest.raises(ProviderError, match="rejected the login"):
            Notifier(_settings(tmp_path, smtp_port=port, smtp_username="chef", smtp_password="wrong"),
                     sleep=sleep).send_email("x@example.com", "Hi", "t")
        assert waits == []  # a wrong password is not retried
    finally:
        controller.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_with_login(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost",
                            tls_context=server_ctx, require_starttls=True, authenticator=_Auth(),
                            auth_required=True)
    controller.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        s = _settings(tmp_path, smtp_host="localhost", smtp_port=port, smtp_tls="starttls",
                      smtp_username="chef", smtp_password="s3cret")
        Notifier(s, ssl_context=client_ctx).send_email("x@example.com", "Over TLS", "t")
        assert inbox.messages[0][1]["Subject"] == "Over TLS"
        # the default context does not trust the self-signed certificate: a clear error
        with pytest.raises(ProviderError, match="TLS"):
            Notifier(s, sleep=lambda _: None).send_email("x@example.com", "Over TLS", "t")
    finally:
        controller.stop()


# --- webhooks ----------------------------------------------------------------------------
def test_webhook_posts_json(tmp_path):
    with _Receiver() as r:
        status = Notifier(_settings(tmp_path)).send_webhook(
            r.url, {"alert": "containment_low", "value": 0.41}, headers={"X-Token": "abc"}
        )
    assert status == 200
    headers, body = r.requests[0]
    assert body == {"alert": "containment_low", "value": 0.41}
    assert headers["Content-Type"] == "application/json" and headers["X-Token"] == "abc"


def test_webhook_500_then_200_is_retried(tmp_path):
    waits, sleep = _sleeps()
    with _Receiver([500, 503]) as r:
        status = Notifier(_settings(tmp_path), sleep=sleep, backoff_s=0.25).send_webhook(r.url, {"n": 1})
    assert status == 200 and len(r.requests) == 3
    assert waits == [0.25, 0.5]


def test_webhook_500_every_time(tmp_path):
    with _Receiver([500, 500, 500]) as r:
        with pytest.raises(ProviderError, match=r"after 3 attempt\(s\): HTTP 500"):
            Notifier(_settings(tmp_path), sleep=lambda _: None).send_webhook(r.url, {"n": 1})
    assert len(r.requests) == 3


def test_webhook_4xx_fails_at_once(tmp_path):
    with _Receiver([404]) as r:
        with pytest.raises(ProviderError, match="answered 404"):
            Notifier(_settings(tmp_path), sleep=lambda _: None).send_webhook(r.url, {"n": 1})
    assert len(r.requests) == 1


def test_webhook_unreachable_port(tmp_path):
    waits, sleep = _sleeps()
    url = f"http://127.0.0.1:{_free_port()}/hook"
    with pytest.raises(ProviderError, match="Webhook POST to .* failed after 3 attempt"):
        Notifier(_settings(tmp_path), sleep=sleep).send_webhook(url, {"n": 1})
    assert len(waits) == 2


def test_webhook_bad_input(tmp_path):
    n = Notifier(_settings(tmp_path))
    with pytest.raises(ValidationError, match="URL"):
        n.send_webhook("ftp://example.com/x", {})
    with pytest.raises(ValidationError, match="JSON object"):
        n.send_webhook("http://127.0.0.1/x", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="JSON"):
        n.send_webhook("http://127.0.0.1/x", {(1, 2): "tuple keys are not JSON"})
