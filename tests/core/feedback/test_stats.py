"""core.feedback.stats: votes, feedback rate and CSAT by channel."""

import datetime as dt

import pytest

from core.feedback import stats, votes
from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.models import ConversationOutcome
from tests.factories import ANSWERED_AT as T0
from tests.factories import make_answer


def test_stats_by_channel(session, settings):
    c1, _, a1 = make_answer(session, channel="email")
    make_answer(session, channel="web", user="visitor-1")
    c3, _, a3 = make_answer(session, channel="web", user="visitor-2")
    votes.record_vote(session, a1.id, "up", "cust@example.com")
    votes.record_vote(session, a3.id, "down", "visitor-2")
    session.get(ConversationOutcome, c1.id).csat = 5
    session.commit()
    result = stats.feedback_stats(session, days=7, clock=FixedClock(T0 + dt.timedelta(days=1)))
    assert result["conversations"] == 3 and result["votes_up"] == 1 and result["votes_down"] == 1
    assert result["feedback_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["csat_average"] == 5 and result["csat_distribution"]["5"] == 1
    assert result["by_channel"]["web"]["feedback_rate"] == 0.5
    old = stats.feedback_stats(session, days=7, clock=FixedClock(T0 + dt.timedelta(days=30)))
    assert old["conversations"] == 0 and old["feedback_rate"] == 0.0
    with pytest.raises(ValidationError):
        stats.feedback_stats(session, days=0)
