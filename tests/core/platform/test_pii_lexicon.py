"""The capitalised-word name recognizer (core.platform.pii_lexicon): names no cue introduces."""

from __future__ import annotations

import pytest

from core.platform.pii_lexicon import find_capitalised_names, is_english, needs_ner, plain_first_word


def names(text: str, skip=lambda w: False) -> list[str]:
    return [text[s:e] for s, e, _ in find_capitalised_names(text, skip)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Could you add Amaro Vera to this thread?", ["Amaro Vera"]),
    ("Please let Janet Takyi know we need 17 plates.", ["Janet Takyi"]),
    ("I'm writing for Donna M. Mortimer, who doesn't use email.", ["Donna M. Mortimer"]),
    ("Our planner, van de Weterink, has the headcount.", ["van de Weterink"]),
    ("Dr. Jann Schwital recommended you.", ["Jann Schwital"]),
    ("Is Žukauskas still the chef?", ["Žukauskas"]),
])
def test_names_from_many_cultures_without_a_cue(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text", [
    "Blocked again, my address is 10.0.0.1.",   # an English first word
    "We're driving in. I'd like the Gate code.",  # contractions, an English word in a sentence
    "Loved it! The deposit went out in Août.",   # a month of another language
    "Reply to the IBAN SSN form asap",            # acronyms
    "thanks so much, see you saturday",           # no capitals at all
])
def test_words_that_are_not_names(text):
    assert names(text) == []


def test_skip_words_are_never_a_name_alone_but_stay_inside_a_run():
    places = {"aurora", "napa"}.__contains__
    assert names("We drive from Napa on Friday", lambda w: places(w.lower())) == []
    assert "Aurora L. Almaraz" in names("Aurora L. Almaraz will bring the cake", lambda w: places(w.lower()))


def test_english_words_and_inflections():
    assert is_english("Gate") and is_english("we're") and is_english("Loved")
    assert not is_english("Okafor") and not is_english("Laurence")  # only capitalised in the list
    assert not is_english("Loved", inflected=False)


def test_plain_first_word_and_when_ner_runs():
    assert plain_first_word("Loved Zelle!", 0, "Loved")
    assert not plain_first_word("Bill will call.", 0, "Bill")  # the list knows Bill as a name
    assert not needs_ner("Reply to the email if anything changes.")
    assert needs_ner("Reply to Maria if anything changes.")
    assert needs_ner("Grace will call back.")
