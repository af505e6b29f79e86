"""The hand-off detector: development examples (the phrasings it was written from) and the
precision/recall on the held-out lists written apart from them (bench/data/handoff_heldout*.jsonl,
bench/handoff.py says how each was used)."""

import pytest

from bench.handoff import LISTS, measure
from core.knowledge.handoff import agent_reply_left_out, handoff_reason, is_handoff, sentences

HANDOFFS = [
    "I've passed this to our team",
    "Someone will get back to you",
    "Sorry, I can't help with that",
    "Thanks for your question! I want to make sure you get the right answer, so I've passed it to our "
    "team and someone will get back to you shortly.",
    "I'm escalating this to a manager now.",
    "Transferring you to a live agent.",
    "I don't know, sorry!",
]
ANSWERS = [
    "Adults are $60 per person.",
    "You can find out your card's status in the app.",
    "Check with your bank if the transfer doesn't arrive within 2 days.",
    "The team will bring the grill.",
    "I can't see why not! Yes, we do weddings.",
    "Sorry for the wait! The travel fee is free within 20 miles, then $50.",
    "Our team brings the grill and propane; you need a flat outdoor space.",
    "The chef will call you the day before to confirm the address and the headcount.",
    "We can't cook indoors, but a covered patio or garage works fine.",
]


@pytest.mark.parametrize("text", HANDOFFS)
def test_hand_off_texts_are_detected_with_a_reason(text):
    why = handoff_reason(text)
    assert why is not None and "answers nothing" in why


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_are_not_hand_offs_even_with_apologies_or_the_team(text):
    assert not is_handoff(text)


def test_sentences_get_a_kind():
    kinds = [k.kind for k in sentences("Hi there! Sorry for the wait. I've passed this to our team.")]
    assert kinds == ["pleasantry", "pleasantry", "deferral"]
    assert not is_handoff("") and not is_handoff("Thanks!")  # no deferral: nothing to refuse


@pytest.mark.parametrize(("name", "precision", "recall"),
                         [("A", 0.95, 0.95), ("B", 0.95, 0.9), ("C", 0.95, 0.8)])
def test_precision_and_recall_on_the_held_out_lists(name, precision, recall):
    result = measure(LISTS[name])
    assert result["tp"] + result["fn"] == result["examples"] // 2
    assert result["precision"] >= precision and result["recall"] >= recall, result["errors"]


def test_an_agent_reply_is_left_out_when_it_hands_off_or_is_written_for_one_person():
    assert agent_reply_left_out("Yes: our chef brings a propane grill to any park.") is None
    assert agent_reply_left_out("I've passed this to our team; someone will get back to you.") == \
        "a hand-off or apology text"
    assert agent_reply_left_out("Hi <PERSON>, I've refunded your card.") == "addressed to a person"
