"""Building dataset versions, on SQLite and PostgreSQL: filters, near-duplicates, re-scrubbing,
the split, valid JSONL, demo data with planted personal data, voice datasets, the quarterly
build, and the right it needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.conversations.ingest import store_conversations
from core.conversations.schemas import ConversationIn, MessageIn, OutcomeIn
from core.demo.loader import load_demo
from core.learning import loop as learning
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied, ValidationError
from core.platform.models import DatasetExample, Feedback, Message, TrainingExample
from core.review import decisions
from core.review import queue as review
from core.training.builder import build_dataset, build_quarterly, removed_pii
from core.training.datasets import approve_dataset, export_dataset, get_dataset, list_datasets
from core.training.examples import import_examples
from core.training.selection import DatasetFilters
from core.training.validation import get_token_counter, validate_jsonl
from tests.factories import ADMIN, REVIEWER, VIEWER, make_answer
from tests.factories.training import T0, add_example, jsonl_lines


def test_removed_pii_recovers_what_the_scrubber_replaced():
    raw = "Hi, I'm Zebulon Quarrington, call 341-555-0188."
    red = "Hi, I'm <PERSON>, call <PHONE_NUMBER>."
    assert removed_pii(raw, red) == [
        ("PERSON", "Zebulon Quarrington"),
        ("PERSON", "Zebulon"),
        ("PERSON", "Quarrington"),
        ("PHONE_NUMBER", "341-555-0188"),
    ]
    assert removed_pii(None, red) == [] and removed_pii("other text", red) == []


# --- building ------------------------------------------------------------------------------------------
def test_an_admin_correction_of_a_down_voted_answer_enters_the_dataset(session, settings, scrubber, clock):
    _, q, ans = make_answer(session, answer="It is $50 per adult.", question="What does an adult cost?")
    learning.record_vote(session, ans.id, "down", "cust@example.com", settings=settings)
    learning.record_csat(session, ans.conversation_id, 1, settings=settings)
    item = next(i for i in review.list_queue(session) if i.message_id == ans.id)
    d = decisions.edit(session, item.id, REVIEWER, "Adults are $60 per person.", "price was wrong",
                       scrubber=scrubber)
    ex = session.get(TrainingExample, d.training_example_id)
    assert (ex.source, ex.rating) == ("edited", 1)  # the rating of the text it holds: the admin's
    # the customer's down vote stays on the original answer
    assert [f.vote for f in session.query(Feedback).filter_by(message_id=ans.id)] == ["down"]
    ds = build_dataset(session, settings, scrubber, filters=DatasetFilters(validation_share=0.0),
                       actor=ADMIN, clock=clock)
    assert ds.examples == 1 and "low_rating" not in ds.skipped
    (line,) = jsonl_lines(Path(settings.data_dir) / ds.train_file)
    assert [m["content"] for m in line["messages"][1:]] == [
        "What does an adult cost?", "Adults are $60 per person."]


def test_hand_off_texts_never_enter_a_dataset(session, settings, scrubber, clock):
    add_example(session, 1)
    add_example(session, 2, answer="Thanks! I've passed this to our team; someone will reply soon.")
    ds = build_dataset(session, settings, scrubber, filters=DatasetFilters(validation_share=0.0),
                       actor=ADMIN, clock=clock)
    assert ds.examples == 1 and ds.skipped == {"handoff": 1}


def test_build_filters_dedupes_splits_and_writes_valid_jsonl(session, settings, scrubber, clock):
    for i in range(40):
        add_example(session, i)
    add_example(session, 100, active=False)
    add_example(session, 101, human_verified=False)
    add_example(session, 102, quality_score=0.5)
    add_example(session, 103, rating=-1, source="imported")  # thumbs down counts as 1 of 5
    add_example(session, 104, created_at=T0 - dt.timedelta(days=400))
    add_example(session, 105, question="  ", answer="x")
    add_example(
        session,
        106,
        question="Question 3: what does option 3 cost for 13 guests in town 3?",
        answer="Answer 3: option 3 costs 53 dollars per guest, minimum 603.",
        quality_score=0.85,
    )
    add_example(session, 107, channel="phone")  # voice: not part of a chat dataset
    f = DatasetFilters(since=T0 - dt.timedelta(days=90))
    d = build_dataset(session, settings, scrubber, filters=f, actor=ADMIN, clock=clock)
    assert d.status == "pending_approval" and d.kind == "chat"
    assert d.skipped == {
        "inactive": 1,
        "not_verified": 1,
        "low_quality": 1,
        "low_rating": 1,
        "too_old": 1,
        "empty": 1,
        "near_duplicate": 1,
    }
    assert d.counts["candidates"] == 47 and d.examples == 40
    assert (d.train_examples, d.validation_examples) == (36, 4)  # 10 % of each intent's 10
    assert d.token_counter == "o200k_base" and d.tokens_estimated is False and d.train_tokens > 0
    assert d.filters["since"] == (T0 - dt.timedelta(days=90)).isoformat()
    train = jsonl_lines(Path(settings.data_dir) / d.train_file)
    val = jsonl_lines(Path(settings.data_dir) / d.validation_file)
    assert validate_jsonl(Path(settings.data_dir) / d.train_file, get_token_counter()).ok
    val_intents = sorted(ex["messages"][0]["content"].split(". ")[-1][:20] for ex in val)
    assert len(set(val_intents)) == 4  # stratified: one per intent
    pricing = next(ex for ex in train if ex["messages"][1]["content"].startswith("Question 0:"))
    assert pricing["messages"][0]["content"] == (
        settings.dataset_system_prompt + " " + settings.dataset_intent_prompts["pricing"]
    )
    kept_dup = [ex for ex in train + val if ex["messages"][1]["content"].startswith("Question 3:")]
    assert len(kept_dup) == 1 and "53 dollars" in kept_dup[0]["messages"][2]["content"]
    assert session.query(DatasetExample).filter_by(dataset_version_id=d.id).count() == 40
    # deterministic: the same data builds byte-identical files
    again = build_dataset(session, settings, scrubber, filters=f, actor=ADMIN, clock=clock)
    assert (again.train_sha256, again.validation_sha256) == (d.train_sha256, d.validation_sha256)
    assert [x.id for x in list_datasets(session)] == [again.id, d.id]


def test_sampling_above_the_maximum_is_deterministic_and_stratified(session, settings, scrubber, clock):
    for i in range(40):
        add_example(session, i, intent="pricing" if i < 30 else "travel")
    f = DatasetFilters(max_examples=10, validation_share=0.0)
    d = build_dataset(session, settings, scrubber, filters=f, actor=ADMIN, clock=clock)
    assert (
        d.examples == 10
        and d.skipped == {"over_max": 30}
        and d.counts["by_intent"] == {"pricing": 8, "travel": 2}
        or d.counts["by_intent"] == {"pricing": 7, "travel": 3}
    )
    assert d.validation_file is None
    d2 = build_dataset(session, settings, scrubber, filters=f, actor=ADMIN, clock=clock)
    assert d2.train_sha256 == d.train_sha256


def test_nothing_to_build_says_why(session, settings, scrubber):
    add_example(session, 1, human_verified=False)
    with pytest.raises(ValidationError, match="not_verified 1"):
        build_dataset(session, settings, scrubber, actor=ADMIN)


def test_unsafe_examples_are_dropped_and_known_pii_is_replaced(session, settings, scrubber, clock):
    add_example(session, 1, question="Can Ms. Wiggins come on Friday?", answer="Sure, see you then.")
    add_example(
        session,
        2,
        question="My name is Horatio Blandsworth, price for 12?",
        answer="Hi Horatio Blandsworth, it is 720 dollars.",
    )
    add_example(session, 3)
    d = build_dataset(
        session, settings, scrubber, filters=DatasetFilters(validation_share=0), actor=ADMIN, clock=clock
    )
    text = (Path(settings.data_dir) / d.train_file).read_text(encoding="utf-8")
    assert "Horatio" not in text and "Blandsworth" not in text and "<PERSON>" in text
    assert d.examples + d.skipped.get("unsafe_pii", 0) == 3


def test_building_needs_the_build_dataset_right(session, settings, scrubber, clock):
    add_example(session, 1)
    for who in (VIEWER, REVIEWER):
        with pytest.raises(PermissionDenied, match="build_dataset"):
            build_dataset(session, settings, scrubber, actor=who, clock=clock)
    assert list_datasets(session) == []


# --- the "done when": demo data + planted PII -------------------------------------------------------------
# Fresh lists the scrubber never saw (not in core/pii.py, its tests or the demo generator).
PLANTED_NAMES = [
    "Thaddeus Brightwater",
    "Oluwaseun Lindqvist",
    "Marisol Featherstonehaugh",
    "Ezekiel Wnukowski",
    "Philippa Okonkwo",
    "Benedikt Szczepanski",
]
PLANTED_PHONES = [
    "(341) 555-0199",
    "628 555 0143",
    "341.555.0177",
    "+1 279-555-0164",
    "(472) 555-0131",
    "936-555-0112",
]
PLANTED_ADDRESSES = [
    "4821 Quillfeather Lane",
    "77 Bramblecroft Court",
    "15 Juniper Hollow Rd",
    "902 Copperleaf Terrace",
    "3318 Wrenfield Avenue",
    "61 Marrowstone Blvd",
]


def _planted_conversations() -> list[ConversationIn]:
    convs = []
    for i, (name, phone, addr) in enumerate(
        zip(PLANTED_NAMES, PLANTED_PHONES, PLANTED_ADDRESSES, strict=True)
    ):
        first = name.split()[0]
        start = T0 - dt.timedelta(days=3, hours=i)
        msgs = [
            MessageIn(
                "user",
                f"Hi, this is {name}. How much is a party for {12 + i} adults? You can reach me at {phone}.",
                start,
            ),
            MessageIn(
                "assistant",
                f"Hi {first}! For {12 + i} adults it is ${60 * (12 + i)}, "
                "plus a $100 deposit to hold the date.",
                start + dt.timedelta(minutes=1),
                confidence=0.9,
            ),
            MessageIn(
                "user",
                f"Great, the party is at {addr}, do you charge travel there?",
                start + dt.timedelta(minutes=3),
            ),
            MessageIn(
                "assistant",
                f"Thanks {first}, {addr} is in our free travel zone, so no travel fee.",
                start + dt.timedelta(minutes=4),
                confidence=0.9,
            ),
        ]
        convs.append(
            ConversationIn(
                channel="web",
                external_user_id=f"planted-{i}",
                messages=msgs,
                external_id=f"planted-{i}",
                intent="pricing",
                created_at=start,
                outcome=OutcomeIn(booking_converted=True, csat=5),
            )
        )
    return convs


@pytest.mark.slow
def test_demo_data_exports_valid_pii_free_jsonl(session, settings, scrubber, tmp_path):
    clock = FixedClock(T0)
    load_demo(session, scrubber, settings, size="small", clock=clock)
    store_conversations(session, _planted_conversations(), scrubber, settings, clock)
    session.flush()
    # an admin approves assistant answers in the review queue: every planted one and demo ones
    answers = session.query(Message).filter(Message.role == "assistant").order_by(Message.id).all()
    planted = [m for m in answers if m.conversation.external_id.startswith("planted-")]
    chosen = planted + [m for m in answers if m not in planted][:60]
    for m in chosen:
        item = review.flag_message(session, m.id, "low_confidence", actor=ADMIN, clock=clock)
        decisions.approve(session, item.id, ADMIN, clock=clock)
    # an edit stored without a scrubber: the planted PII reaches the gold answer verbatim
    last = planted[-1]
    item = review.flag_message(session, last.id, "down_vote", kind="presend", actor=ADMIN, clock=clock)
    decisions.edit(
        session,
        item.id,
        ADMIN,
        f"Thanks {PLANTED_NAMES[-1]}, we will call you at {PLANTED_PHONES[-1]} "
        f"about {PLANTED_ADDRESSES[-1]}.",
        "more personal",
        clock=clock,
    )
    planted[0].flagged = True  # enrichment flagged this answer (profanity): never training data
    session.flush()
    d = build_dataset(session, settings, scrubber, actor=ADMIN, clock=clock)
    assert d.examples >= 40 and d.skipped.get("flagged") == 1
    approve_dataset(session, settings, d.id, ADMIN, clock=clock)
    out = export_dataset(session, settings, d.id, tmp_path / "export", actor=ADMIN)
    text = "".join(Path(f["path"]).read_text(encoding="utf-8") for f in out["files"].values())
    for f in out["files"].values():
        assert f["ok"], f["problems"]
    for s in (
        PLANTED_NAMES
        + [n.split()[0] for n in PLANTED_NAMES]
        + [n.split()[1] for n in PLANTED_NAMES]
        + PLANTED_PHONES
        + PLANTED_ADDRESSES
    ):
        assert s.lower() not in text.lower(), s
    for digits in ["5550199", "5550143", "5550177", "5550164", "5550131", "5550112"]:
        assert digits not in "".join(ch for ch in text if ch.isdigit()), digits
    assert "<PERSON>" in text and "<STREET_ADDRESS>" in text


# --- voice datasets --------------------------------------------------------------------------------
@pytest.mark.slow
def test_voice_dataset_from_phone_conversations(session, settings, scrubber):
    clock = FixedClock(T0)
    conv = ConversationIn(
        channel="phone",
        external_user_id="+13415550100",
        external_id="call-1",
        intent="pricing",
        created_at=T0 - dt.timedelta(days=1),
        messages=[
            MessageIn(
                "user", "um, hi, uh, I I want to, like, book a chef [inaudible]", T0 - dt.timedelta(days=1)
            ),
            MessageIn("user", "for twenty people, you know.", T0 - dt.timedelta(days=1, seconds=-5)),
            MessageIn(
                "assistant",
                "Sure! What date are you thinking of?",
                T0 - dt.timedelta(days=1, seconds=-9),
                confidence=0.9,
            ),
            MessageIn(
                "user",
                "uh, June 14th. How much would that be? [crosstalk]",
                T0 - dt.timedelta(days=1, seconds=-20),
            ),
            MessageIn(
                "assistant",
                "For twenty adults it is twelve hundred dollars, um, plus a deposit.",
                T0 - dt.timedelta(days=1, seconds=-30),
                confidence=0.9,
            ),
        ],
    )
    store_conversations(session, [conv], scrubber, settings, clock)
    for i in range(3):
        add_example(
            session,
            200 + i,
            channel="phone",
            voice=True,
            question=f"um how much for {10 + i} people?",
            answer=f"That would be {600 + 60 * i} dollars, uh, before the deposit.",
        )
    answer = session.query(Message).filter_by(role="assistant").order_by(Message.id.desc()).first()
    item = review.flag_message(session, answer.id, "low_confidence", actor=ADMIN, clock=clock)
    decisions.approve(session, item.id, ADMIN, clock=clock)
    d = build_dataset(
        session,
        settings,
        scrubber,
        filters=DatasetFilters(kind="voice", validation_share=0),
        actor=ADMIN,
        clock=clock,
    )
    assert d.kind == "voice" and d.examples == 4
    rows = jsonl_lines(Path(settings.data_dir) / d.train_file)
    call = next(r for r in rows if len(r["messages"]) > 3)
    msgs = call["messages"]
    assert msgs[0] == {"role": "system", "content": settings.dataset_voice_prompt}
    assert msgs[1] == {"role": "user", "content": "Hi, I want to book a chef for twenty people."}
    assert msgs[2] == {"role": "assistant", "content": "Sure! What date are you thinking of?", "weight": 0}
    assert msgs[3]["content"] == "June 14th. How much would that be?"
    assert msgs[4] == {
        "role": "assistant",
        "weight": 1,
        "content": "For twenty adults it is twelve hundred dollars, plus a deposit.",
    }
    simple = next(r for r in rows if len(r["messages"]) == 3)
    assert "um" not in simple["messages"][1]["content"].split() and simple["messages"][2]["weight"] == 1


def test_the_quarterly_build_runs_once_per_quarter(session, settings, scrubber):
    import_examples(
        session,
        [
            {"question": "Do you cater weddings?", "answer": "Yes, we do weddings.", "intent": "menu",
             "tags": ["weddings"]},
            {"question": "How much per child?", "answer": "Thirty dollars per child.", "intent": "pricing"},
        ],
        scrubber,
        actor=ADMIN,
    )
    clock = FixedClock(dt.datetime(2026, 4, 1, 10, 30))
    first = build_quarterly(session, settings, scrubber, clock)
    assert first["chat"]["status"] == "built" and first["voice"]["status"] == "nothing to build", first
    assert build_quarterly(session, settings, scrubber, clock)["chat"]["status"] == "exists"
    assert get_dataset(session, first["chat"]["dataset_version_id"]).name == "2026-Q2 chat (quarterly)"
    tagged = build_dataset(session, settings, scrubber, filters=DatasetFilters(tags=["weddings"]),
                           actor=ADMIN)
    assert tagged.examples == 1 and tagged.skipped == {"tag_filtered": 1}
