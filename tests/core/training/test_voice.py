"""Cleaning spoken dialogue for voice datasets: turns merged, fillers and noise removed."""

from core.training.voice import clean_spoken, merge_turns


def test_voice_cleaning_merges_turns_and_strips_fillers_and_noise():
    assert (
        clean_spoken("um, hi, uh, I I want to, like, book a chef [inaudible] for twenty people, you know.")
        == "Hi, I want to book a chef for twenty people."
    )
    assert (
        clean_spoken("I would like to book. Do you know the price? [crosstalk]")
        == "I would like to book. Do you know the price?"
    )
    assert clean_spoken("Hi <PERSON>, it's $60 (laughs) per adult") == "Hi <PERSON>, it's $60 per adult"
    assert merge_turns(
        [
            ("user", "hi"),
            ("user", "there"),
            ("agent", "hello"),
            ("system", "x"),
            ("assistant", "how can I help"),
        ]
    ) == [("user", "hi there"), ("assistant", "hello how can I help")]
