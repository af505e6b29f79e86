"""core.review.delivery: replies sent through their channel, retried, given up; held drafts wait."""

import datetime as dt

import pytest

from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.notify import Notifier
from core.review import delivery
from tests.factories import ANSWERED_AT as T0
from tests.factories import make_answer
from tests.factories.servers import WebhookReceiver as _Receiver


def _settings(settings, **kw):
    base = {
        "smtp_host": "127.0.0.1",
        "smtp_timeout_s": 5,
        "smtp_sender": "hello@example.com",
        "notify_retries": 1,
        "webhook_timeout_s": 2,
        "delivery_max_attempts": 3,
        "delivery_retry_minutes": 5,
    }
    base.update(kw)
    return settings.model_copy(update=base)


def test_email_reply_goes_out_with_the_feedback_footer(session, settings, smtp):
    inbox, port = smtp
    s = _settings(settings, smtp_port=port)
    _, _, ans = make_answer(
        session, metadata={"subject": "Party on June 3", "message_id": "<abc@mail.example>"}
    )
    d = delivery.send_reply(session, ans.id, Notifier(s, sleep=lambda _: None), s, clock=FixedClock(T0))
    assert d.status == "sent" and d.attempts == 1 and d.sent_at == T0 and d.provider_ref.startswith("<")
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["cust@example.com"] and msg["Subject"] == "Re: Party on June 3"
    assert msg["In-Reply-To"] == "<abc@mail.example>"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("For 20 guests") and "Was this response helpful?" in text and "vote=down" in text
    assert "&#128077;" in msg.get_body(("html",)).get_content()
    # idempotent: the same reply is never sent twice
    again = delivery.send_reply(session, ans.id, Notifier(s), s)
    assert again.id == d.id and len(inbox.messages) == 1


def test_webhook_channels_fail_are_retried_and_recorded(session, settings):
    clock = FixedClock(T0)
    with _Receiver([500, 503]) as rx:
        s = _settings(settings, reply_webhooks={"sms": rx.url})
        notifier = Notifier(s, sleep=lambda _: None)
        _, _, ans = make_answer(session, channel="sms", user="+15550100")
        d = delivery.send_reply(session, ans.id, notifier, s, clock=clock)
        assert d.status == "pending" and d.attempts == 1 and "HTTP 500" in d.last_error
        assert d.next_attempt_at == T0 + dt.timedelta(minutes=5)
        assert delivery.retry_due(session, notifier, s, clock).attempted == 0  # not due yet
        clock.advance(minutes=5)
        r = delivery.retry_due(session, notifier, s, clock)
        assert (r.attempted, r.sent) == (1, 0) and d.next_attempt_at == clock.now() + dt.timedelta(minutes=10)
        clock.advance(minutes=10)
        r = delivery.retry_due(session, notifier, s, clock)
        assert (r.attempted, r.sent) == (1, 1)
        assert (
            d.status == "sent"
            and d.attempts == 3
            and [e["ok"] for e in d.attempt_log] == [False, False, True]
        )
        headers, payload = rx.requests[-1]
        assert payload["to"] == "+15550100" and payload["text"].startswith("For 20 guests")
        assert payload["feedback"]["up"].startswith(s.public_base_url) and payload["message_id"] == ans.id
        assert headers["Idempotency-Key"] == f"supportloop-delivery-{d.id}"


def test_delivery_gives_up_after_the_last_round(session, settings):
    clock = FixedClock(T0)
    with _Receiver([500] * 10) as rx:
        s = _settings(settings, reply_webhooks={"instagram": rx.url}, delivery_max_attempts=2)
        notifier = Notifier(s, sleep=lambda _: None)
        _, _, ans = make_answer(session, channel="instagram", user="ig-user")
        d = delivery.send_reply(session, ans.id, notifier, s, clock=clock)
        clock.advance(hours=1)
        delivery.retry_due(session, notifier, s, clock)
        assert d.status == "failed" and d.attempts == 2 and d.next_attempt_at is None and d.sent_at is None


def test_missing_webhook_or_address_fails_without_sending(session, settings):
    s = _settings(settings)
    _, _, ans = make_answer(session, channel="facebook", user="fb-1")
    d = delivery.send_reply(session, ans.id, Notifier(s), s)
    assert d.status == "failed" and "SUPPORTLOOP_REPLY_WEBHOOKS" in d.last_error
    _, q, ans2 = make_answer(session, channel="email", user="not-an-address")
    d2 = delivery.send_reply(session, ans2.id, Notifier(s), s)
    assert d2.status == "failed" and "no customer e-mail address" in d2.last_error
    with pytest.raises(ValidationError):
        delivery.queue_reply(session, q.id, s)  # a customer message is not a reply
