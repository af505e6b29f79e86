"""core.conversations.schemas: the shapes of incoming conversations and their validation."""

from __future__ import annotations

from core.conversations.schemas import (
    ConversationIn,
    MessageIn,
    OutcomeIn,
    unstorable_chars,
    validate_conversation,
    validate_message,
)
from core.platform.config import Settings
from core.platform.statuses import Channel, ConversationStatus, MessageRole


def _conv(**kw) -> ConversationIn:
    base = dict(channel=Channel.EMAIL, external_user_id="u-1", external_id="c1",
                messages=[MessageIn(MessageRole.USER, "How much is it?")])
    base.update(kw)
    return ConversationIn(**base)


def test_validate_conversation_lists_problems():
    s = Settings(_env_file=None, max_message_chars=10)
    bad = _conv(
        channel="fax",
        status="open",
        messages=[MessageIn("bot", ""), MessageIn("user", "x" * 11)],
        outcome=OutcomeIn(csat=7, tone_score=2.0),
    )
    fields = [f for f, _ in validate_conversation(bad, s)]
    assert fields == [
        "channel",
        "status",
        "messages[0].role",
        "messages[0].content",
        "messages[1].content",
        "outcome.csat",
        "outcome.tone_score",
    ]
    assert validate_conversation(_conv(), Settings(_env_file=None)) == []
    assert _conv().status == ConversationStatus.AI == "ai"


def test_validate_message_numbers_and_prefix():
    msg = MessageIn("assistant", "ok", confidence=1.5, tokens_in=2.5, latency_ms=-1, cost_usd=True)
    problems = dict(validate_message(msg, Settings(_env_file=None), prefix="m."))
    assert set(problems) == {"m.confidence", "m.tokens_in", "m.latency_ms", "m.cost_usd"}
    assert "between 0 and 1" in problems["m.confidence"]
    assert "whole number" in problems["m.tokens_in"]


def test_unstorable_characters():
    assert unstorable_chars("fine 😀") is None
    assert "NUL" in unstorable_chars("a\x00b")
    assert "surrogate" in unstorable_chars("a\udc00")
