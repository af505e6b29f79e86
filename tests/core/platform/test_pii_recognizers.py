"""The pattern recognizers of the scrubber (core.platform.pii_recognizers), without spaCy."""

from core.platform.pii_phones import find_phones
from core.platform.pii_recognizers import (
    find_addresses,
    find_cards,
    find_context_names,
    find_dobs,
    find_ibans,
    find_ssns,
)


def spans(found, text: str) -> list[str]:
    return [text[s:e] for s, e, _score in found]


def test_phones_and_their_cues():
    text = "Call me at (713) 555-0199 ext. 12 or +44 20 7946 0958."
    assert spans(find_phones(text), text) == ["(713) 555-0199 ext. 12", "+44 20 7946 0958"]
    order = "Order number 713-555-0199"
    assert [score for *_span, score in find_phones(order)] == [0.35]  # kept, but below the accept threshold


def test_cards_need_luhn_and_ssns_a_consistent_separator():
    card = "visa 4111 1111 1111 1111"
    assert spans(find_cards(card), card) == ["4111 1111 1111 1111"]
    assert find_cards("4111 1111 1111 1112") == []
    assert spans(find_ssns("SSN 123-45-6789"), "SSN 123-45-6789") == ["123-45-6789"]
    assert find_ssns("call 123-45.6789") == []
    assert find_ssns("ref 123456789") == [] and find_ssns("my ssn is 123456789")


def test_ibans_in_any_case_with_a_valid_checksum():
    text = "pay to gb82 west 1234 5698 7654 32 please"
    assert spans(find_ibans(text), text) == ["gb82 west 1234 5698 7654 32"]
    assert find_ibans("GB82 WEST 1234 5698 7654 33") == []


def test_addresses_with_unit_and_city_tail():
    text = "Deliver to 1234 Cedar Ridge Avenue, Apt 4B, Houston, TX 77002 tomorrow."
    assert spans(find_addresses(text), text) == ["1234 Cedar Ridge Avenue, Apt 4B, Houston, TX 77002"]
    assert find_addresses("we serve 20 guests per party") == []


def test_dates_of_birth_need_a_birth_cue():
    text = "DOB: 03/04/1990"
    assert spans(find_dobs(text), text) == ["03/04/1990"]
    assert find_dobs("the birthday party on June 5th") == []


def test_names_from_context():
    text = "Hi, my name is Maria Lopez and my wife Aoife is coming too."
    assert spans(find_context_names(text), text) == ["Maria Lopez", "Aoife"]
    assert find_context_names("I'm interested in the hibachi menu") == []
