"""core.demo.loader: the small demo stored once per backend, with the learning-loop warm-up
(core.demo.warmup) run over it, and `supportloop demo`."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from cli import main
from core.demo.business import SIZES
from core.demo.loader import load_demo
from core.knowledge.versions import active_version
from core.platform.clock import FixedClock
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from core.platform.embeddings import HashingEmbedder
from core.platform.models import (
    AlertRule,
    Chunk,
    Conversation,
    ConversationOutcome,
    Delivery,
    Feedback,
    Message,
    MessageChunk,
    MetricDay,
    ReviewItem,
)
from core.platform.pii import get_scrubber
from core.platform.statuses import Channel
from tests.factories.database import PG_ADMIN_URL
from tests.factories.database import postgres_unavailable as _unavailable

NOW = dt.datetime(2025, 6, 15, 18, 30)
SEED = 11
PHONE_RE = re.compile(r"(?:\+1 )?\(?\d{3}\)?[ .-]555[ .-]01\d\d")
EMAIL_RE = re.compile(r"[\w.+-]+@(?:gmail|yahoo|outlook|icloud|hotmail|comcast)\.(?:com|net)")
CARD_RE = re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b")


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


def _settings(tmp_path, url: str) -> Settings:
    return Settings(data_dir=tmp_path, index_dir=tmp_path / "idx", database_url=url, _env_file=None)


def _build(url: str, scrubber, tmp_path, seed: int = SEED):
    engine = make_engine(url)
    factory = session_factory(engine)
    with session_scope(factory) as s:  # the learning loop runs on the fast hashing embedder here
        report = load_demo(s, scrubber, _settings(tmp_path, url), size="small", seed=seed,
                           clock=FixedClock(NOW), embedder=HashingEmbedder(dim=256))
    return engine, factory, report


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_db(request, tmp_path_factory, scrubber):
    """A fresh database per backend with the small demo loaded once for this module."""
    tmp = tmp_path_factory.mktemp(f"demo_{request.param}")
    admin, name = None, None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'demo.db'}"
    else:
        name = f"supportloop_demo_{uuid.uuid4().hex[:10]}"
        try:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001 - any connection problem means "unreachable"
            _unavailable(str(exc).splitlines()[0])
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    engine, factory, report = _build(url, scrubber, tmp)
    yield {"backend": request.param, "url": url, "engine": engine, "factory": factory,
           "report": report, "tmp": tmp}
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- stored demo -----------------------------------------------------------------------------
def test_demo_counts(demo_db):
    report = demo_db["report"]
    assert report.conversations == SIZES["small"] and not report.skipped
    with demo_db["factory"]() as s:
        per_channel = dict(s.execute(
            select(Conversation.channel, func.count()).group_by(Conversation.channel)
        ).all())
        assert per_channel == report.by_channel
        assert set(per_channel) == set(Channel)
        assert s.scalar(select(func.count()).select_from(Message)) == report.messages
        escalated = s.scalar(select(func.count()).where(Conversation.escalated_at.is_not(None)))
        assert escalated == report.escalated > 0
        assert s.scalar(select(func.count()).where(Message.role == "agent")) >= report.escalated
        bookings = s.scalars(select(ConversationOutcome.booking_value_usd)
                             .where(ConversationOutcome.booking_converted.is_(True))).all()
        assert len(bookings) == report.bookings > 0 and all(v >= 600 for v in bookings)
        assert s.scalar(select(func.count()).where(ConversationOutcome.csat.is_not(None))) == \
            report.csat_responses > 0
        total_cost = s.scalar(select(func.sum(ConversationOutcome.total_cost_usd)))
        assert total_cost == pytest.approx(report.cost_usd, abs=1e-3) and total_cost > 0
        assert s.scalar(select(func.max(Message.created_at))) <= NOW
        assert s.scalar(select(func.count()).where(
            ConversationOutcome.first_response_time_seconds.is_not(None))) > 100


def test_demo_runs_the_learning_loop_so_every_page_has_data(demo_db):
    loop = demo_db["report"].loop
    assert "learning loop:" in demo_db["report"].summary()
    with demo_db["factory"]() as s:
        version = active_version(s)
        assert version is not None and loop["kb_version"] == version.id and version.chunk_count >= 60
        linked = s.scalar(select(func.count()).select_from(MessageChunk))
        assert linked == loop["answers_linked"] > 100
        assert s.scalar(select(func.sum(Chunk.times_used_in_response))) == linked
        assert s.scalar(select(func.sum(Chunk.times_led_to_booking))) > 0
        # enrichment: every message, intents on customer messages, a few swearing customers
        assert s.scalar(select(func.count()).where(Message.enriched_at.is_(None))) == 0
        assert s.scalar(select(func.count()).where(Message.role == "user", Message.intent.is_not(None))) > 100
        flagged = s.scalars(select(Message.redacted_content).where(Message.flagged.is_(True))).all()
        assert len(flagged) == loop["flagged"] >= 3
        assert all(m.startswith(("This is fucking", "What the fuck", "Seriously, this is shitty"))
                   for m in flagged)
        # votes, held drafts, the review queue, alert rules and the roll-up
        votes = dict(s.execute(select(Feedback.vote, func.count()).group_by(Feedback.vote)).all())
        assert votes.get("down", 0) >= 1 and votes.get("up", 0) >= 1
        held = s.scalar(select(func.count()).where(Delivery.status == "held"))
        assert held == loop["held_drafts"] >= 1
        kinds = dict(s.execute(select(ReviewItem.kind, func.count()).where(ReviewItem.status == "open")
                               .group_by(ReviewItem.kind)).all())
        assert kinds.get("presend") == held and kinds.get("review", 0) >= 5
        reasons = {r for rs in s.scalars(select(ReviewItem.reasons)) for r in rs}
        assert {"down_vote", "escalation"} <= reasons
        assert s.scalar(select(func.count()).select_from(AlertRule)) >= 5
        assert s.scalar(select(func.count()).select_from(MetricDay)) >= 80


def test_demo_raw_pii_is_scrubbed(demo_db):
    with demo_db["factory"]() as s:
        rows = s.execute(select(Message.raw_content, Message.redacted_content)).all()
    raw = "\n".join(r for r, _ in rows)
    redacted = "\n".join(r for _, r in rows)
    phones, emails = set(PHONE_RE.findall(raw)), set(EMAIL_RE.findall(raw))
    assert len(phones) >= 10 and len(emails) >= 5
    for value in phones | emails | set(CARD_RE.findall(raw)):
        assert value not in redacted, value
    assert "<PHONE_NUMBER>" in redacted and "<EMAIL_ADDRESS>" in redacted and "<PERSON>" in redacted
    # addresses are planted with the party details
    assert any(re.search(r"\d+ \w+ (St|Ave|Rd|Dr|Blvd|Ln|Ct|Way|Cir)\b", r) for r, _ in rows)


def test_loading_again_skips_and_if_empty_does_nothing(demo_db, scrubber):
    settings = _settings(demo_db["tmp"], demo_db["url"])
    with session_scope(demo_db["factory"]) as s:
        again = load_demo(s, scrubber, settings, size="small", seed=SEED, clock=FixedClock(NOW))
        skipped = load_demo(s, scrubber, settings, size="small", seed=SEED + 1, clock=FixedClock(NOW),
                            if_empty=True)
    assert again.conversations == 0 and again.conversations_skipped == SIZES["small"]
    assert skipped.skipped and skipped.conversations == 0
    with demo_db["factory"]() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == SIZES["small"]


def test_two_builds_are_identical(demo_db, scrubber, tmp_path):
    if demo_db["backend"] != "sqlite":
        pytest.skip("one comparison is enough")
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade(url)
    engine, factory, report = _build(url, scrubber, tmp_path)

    def dump(f):
        with f() as s:
            return s.execute(select(Conversation.external_id, Conversation.channel, Conversation.created_at,
                                    Message.role, Message.redacted_content)
                             .join(Message).order_by(Message.id)).all()

    assert dump(factory) == dump(demo_db["factory"])
    assert report.by_channel == demo_db["report"].by_channel
    engine.dispose()


# --- command line -----------------------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    def use(url: str) -> None:
        monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", url)
        monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "idx"))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_cli_if_empty_leaves_a_database_with_conversations_alone(demo_db, cli_env):
    cli_env(demo_db["url"])
    result = CliRunner().invoke(main, ["demo", "--size", "small", "--if-empty", "--seed", "99"])
    assert result.exit_code == 0, result.output
    assert "already has conversations" in result.output
    with demo_db["factory"]() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == SIZES["small"]


def test_cli_loads_an_empty_database(cli_env, tmp_path, scrubber):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    cli_env(url)
    result = CliRunner().invoke(main, ["demo", "--size", "small", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "150 conversations" in result.output
    engine = make_engine(url)
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == SIZES["small"]
    engine.dispose()


def test_cli_refuses_an_unmigrated_database(cli_env, tmp_path):
    cli_env(f"sqlite:///{tmp_path / 'new.db'}")
    result = CliRunner().invoke(main, ["demo", "--size", "small"])
    assert result.exit_code == 1 and "supportloop db upgrade" in result.output
