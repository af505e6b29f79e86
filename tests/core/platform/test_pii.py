"""Tests of core.platform.pii: every entity type in several formats, hard negatives, offsets, safety,
batch == single, the `supportloop pii scan` command, and the held-out quality targets (held-out set
v4)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from core.platform.config import Settings
from core.platform.pii import ENTITIES, Entity, ScrubResult, get_scrubber


@pytest.fixture(scope="module")
def scrubber():
    return get_scrubber(Settings())


def types_of(res: ScrubResult, text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in res.entities:
        out.setdefault(e.type, []).append(text[e.start:e.end])
    return out


def assert_redacted(scrubber, text: str, kind: str, value: str) -> ScrubResult:
    res = scrubber.scrub(text)
    assert value not in res.text, (text, res.text, res.entities)
    assert f"<{kind}>" in res.text, (text, res.text, res.entities)
    assert any(e.type == kind and e.start <= text.index(value) < e.end for e in res.entities), res.entities
    return res


@pytest.mark.parametrize("phone", [
    "(713) 555-0199", "713-555-0199", "713.555.0199", "713 555 0199", "7135550199", "+1 713 555 0199",
    "1-713-555-0199", "+1 (713) 555-0199", "713-555-0199 ext. 42", "(713) 555-0199 x12",
    "+44 20 7946 0958", "+91 98765 43210", "+234 803 123 4567", "+52 55 1234 5678", "+1.713.555.0199",
    "0044 20 7946 0958",
])
def test_phone_formats(scrubber, phone):
    res = assert_redacted(scrubber, f"You can reach me at {phone} after 5.", "PHONE_NUMBER", phone)
    ent = next(e for e in res.entities if e.type == "PHONE_NUMBER")
    assert ent.end - ent.start >= len(phone) - 1


def test_phone_extension_is_part_of_the_number(scrubber):
    text = "Office line 713-555-0199 ext. 4021, ask for the front desk."
    res = scrubber.scrub(text)
    assert "4021" not in res.text


@pytest.mark.parametrize("email", ["maria.lopez88@gmail.com", "wei_zhang@uni.edu", "o'brien@company.co",
                                   "ngozi+events@outlook.com"])
def test_emails(scrubber, email):
    assert_redacted(scrubber, f"please send the quote to {email} thanks", "EMAIL_ADDRESS", email)


@pytest.mark.parametrize("address", [
    "1234 Oak Street, Houston, TX 77002", "56 W Maple Ave Apt 4B, Austin TX 78701", "7 Elm Ct",
    "9800 Martin Luther King Jr Blvd, Atlanta, Georgia 30310", "221B Baker St", "4500 W 12th St, Suite 210",
    "12 County Road 140", "PO Box 5521", "3300 N Lakeshore Dr #1204, Chicago, IL 60657-1234",
])
def test_addresses(scrubber, address):
    res = assert_redacted(scrubber, f"The event is at {address}. See you then!", "STREET_ADDRESS", address)
    ent = next(e for e in res.entities if e.type == "STREET_ADDRESS")
    assert ent.end - ent.start >= len(address) - 1, res.entities


def test_lowercase_sms_address(scrubber):
    text = "party is at 88 sunset blvd, orlando fl 32801 pls come at 5"
    assert_redacted(scrubber, text, "STREET_ADDRESS", "88 sunset blvd")
    assert "32801" not in scrubber.scrub(text).text


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111",
                                  "5555 5555 5555 4444", "3782 822463 10005", "6011 0009 9013 9424"])
def test_cards(scrubber, card):
    assert_redacted(scrubber, f"charge the deposit to {card} please", "CREDIT_CARD", card)


@pytest.mark.parametrize("ssn", ["123-45-6789", "123 45 6789", "123.45.6789"])
def test_ssn(scrubber, ssn):
    assert_redacted(scrubber, f"my ssn is {ssn} for the W-9", "US_SSN", ssn)


def test_plain_nine_digits_is_ssn_only_with_context(scrubber):
    assert_redacted(scrubber, "social security 123456789", "US_SSN", "123456789")
    assert "US_SSN" not in scrubber.scrub("tracking 123456789 arrived").entity_types


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819",
                                  "gb29 nwbk 6016 1331 9268 19"])
def test_iban(scrubber, iban):
    assert_redacted(scrubber, f"refund to {iban} thanks", "IBAN_CODE", iban)


@pytest.mark.parametrize("ip", ["192.168.1.24", "73.12.200.5", "2001:db8:85a3:0:0:8a2e:370:7334"])
def test_ip(scrubber, ip):
    assert_redacted(scrubber, f"the site blocked me, my IP is {ip}", "IP_ADDRESS", ip)


@pytest.mark.parametrize("text,dob", [
    ("DOB: 03/14/1985", "03/14/1985"),
    ("I was born on March 14, 1985 so I get the senior discount", "March 14, 1985"),
    ("date of birth 1985-03-14", "1985-03-14"),
    ("my birthday is 7/4/90, any discount?", "7/4/90"),
    ("Born 14 Mar 1985.", "14 Mar 1985"),
])
def test_date_of_birth(scrubber, text, dob):
    assert_redacted(scrubber, text, "DATE_OF_BIRTH", dob)


@pytest.mark.parametrize("text,name", [
    ("Hi, my name is Maria Guadalupe Hernández and I want a quote", "Maria Guadalupe Hernández"),
    ("hey its jun, can we do 6pm?", "jun"),
    ("This is Nguyen Van Minh, calling about Saturday", "Nguyen Van Minh"),
    ("Hi Kenji,\n\nis the chef still coming?", "Kenji"),
    ("Can we add yakisoba?\n\nThanks,\nSiobhan O'Brien", "Siobhan O'Brien"),
    ("do you do vegan? - Chinedu", "Chinedu"),
    ("My husband Yousef Al-Sayed will meet the chef", "Yousef Al-Sayed"),
    ("Priya Venkataraman referred us to you!", "Priya Venkataraman"),
    ("Caller: Sure, it's Dmitri Sokolov.", "Dmitri Sokolov"),
    ("Best regards,\nAoife Fitzgerald-Byrne", "Aoife Fitzgerald-Byrne"),
    ("Olga Petrovic here, quick question about the deposit", "Olga Petrovic"),
])
def test_names(scrubber, text, name):
    res = assert_redacted(scrubber, text, "PERSON", name)
    assert name not in res.text


@pytest.mark.parametrize("text", [
    "It's $45 per person with a $500 minimum.",
    "We'll have 20 guests and 6 kids.",
    "The party is on June 5th at 6:30pm.",
    "Can we swap the filet mignon for hibachi chicken and add yakisoba?",
    "My daughter's birthday party on June 5th, she turns 10.",
    "Order #48213 was charged $1,250.00 already.",
    "We're about 30 miles from Austin, is there a travel fee?",
    "Booking ref HB-2291, party of 15 on Saturday, May 3 at 5:00.",
    "Do you bring the grill and propane? We have 2 questions about the set up.",
    "Is the teriyaki salmon gluten free? What about the yum yum sauce?",
])
def test_hard_negatives_untouched(scrubber, text):
    res = scrubber.scrub(text)
    assert res.entities == [], res.entities
    assert res.text == text
    assert res.safe


def test_offsets_point_into_original_text(scrubber):
    text = ("Hello, my name is Fatima Haddad.\nCall me at (404) 555-0134 or write fatima.h@gmail.com.\n"
            "The party is at 77 Peachtree St NE, Atlanta, GA 30303.\nThanks,\nFatima")
    res = scrubber.scrub(text)
    found = {(e.type, text[e.start:e.end]) for e in res.entities}
    assert ("PERSON", "Fatima Haddad") in found
    assert ("PHONE_NUMBER", "(404) 555-0134") in found
    assert ("EMAIL_ADDRESS", "fatima.h@gmail.com") in found
    assert any(t == "STREET_ADDRESS" and v.startswith("77 Peachtree St") for t, v in found)
    assert ("PERSON", "Fatima") in found
    # entities are sorted, non-overlapping, and rebuild the cleaned text
    rebuilt, pos = [], 0
    for e in res.entities:
        assert e.start >= pos and 0 < e.score <= 1
        rebuilt += [text[pos:e.start], f"<{e.type}>"]
        pos = e.end
    rebuilt.append(text[pos:])
    assert "".join(rebuilt) == res.text
    assert res.entity_types == sorted({"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS"})


def test_safe_and_unsafe(scrubber):
    clean = scrubber.scrub("Call me at 713-555-0199, I'm Maria Lopez.")
    assert clean.safe and clean.uncertain == []
    # a phone-shaped number right after "order" is an uncertain candidate: not replaced, unsafe
    res = scrubber.scrub("My order number 713-555-0199 never arrived")
    assert not res.safe
    assert [e.type for e in res.uncertain] == ["PHONE_NUMBER"]
    assert "713-555-0199" in res.text
    assert res.entities == []
    assert isinstance(res.uncertain[0], Entity)
    assert scrubber.review <= res.uncertain[0].score < scrubber.accept


def test_thresholds_come_from_settings():
    strict = get_scrubber(Settings(pii_accept_threshold=0.3, pii_review_threshold=0.2))
    res = strict.scrub("My order number 713-555-0199 never arrived")
    assert res.safe and [e.type for e in res.entities] == ["PHONE_NUMBER"]
    assert get_scrubber(Settings()) is get_scrubber(Settings())


def test_bad_thresholds_are_refused():
    from core.platform.errors import ValidationError
    from core.platform.pii import Scrubber

    with pytest.raises(ValidationError, match="review threshold"):
        Scrubber(accept_threshold=0.4, review_threshold=0.6)


def test_empty_and_whitespace(scrubber):
    assert scrubber.scrub("").text == "" and scrubber.scrub("").safe
    assert scrubber.scrub("   ").entities == []
    assert scrubber.scrub_batch([]) == []


def test_batch_equals_single(scrubber):
    from bench.pii import load_split

    texts = [r["text"] for r in load_split("dev")[:60]] + ["", "Call 713-555-0199", "no pii here"]
    batch = scrubber.scrub_batch(texts)
    assert batch == [scrubber.scrub(t) for t in texts]


def test_cli_scan(tmp_path):
    from cli import main

    src = tmp_path / "in.txt"
    src.write_text("Hi, I'm Maria Lopez, call 713-555-0199\nhow much for 20 guests?\n\n"
                   "My order number 713-555-0199 never arrived\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["pii", "scan", str(src)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {"text", "entities", "safe"}
    assert rows[0]["text"] == "Hi, I'm <PERSON>, call <PHONE_NUMBER>"
    assert {e["type"] for e in rows[0]["entities"]} == {"PERSON", "PHONE_NUMBER"}
    assert all(set(e) == {"type", "start", "end", "score"} for e in rows[0]["entities"])
    assert rows[0]["entities"][0]["start"] == 8 and rows[0]["entities"][0]["end"] == 19
    assert rows[1] == {"text": "how much for 20 guests?", "entities": [], "safe": True}
    assert rows[2] == {"text": "", "entities": [], "safe": True}
    assert rows[3]["safe"] is False

    piped = runner.invoke(main, ["pii", "scan", "-"], input="email me at a.b@example.com\n")
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["text"] == "email me at <EMAIL_ADDRESS>"


def test_cli_scan_missing_file(tmp_path):
    from cli import main

    result = CliRunner().invoke(main, ["pii", "scan", str(tmp_path / "nope.txt")])
    assert result.exit_code != 0


@pytest.fixture(scope="module")
def bench_scrubber():
    """The scrubber as bench/pii.py measures it: with the demo business's allow-list (brand, menu
    items, its 30 cities), as the demo deployment runs it. The held-out set v4 holds the business's
    own name often ("Hello Ember Grill team"); without any allow-list its span precision is 0.883
    (docs/pii.md, Quality)."""
    from core.demo.business import PII_ALLOW_TERMS

    return get_scrubber(Settings(pii_allow_terms=PII_ALLOW_TERMS))


def test_heldout_targets_met(bench_scrubber):
    """Quality gate on the frozen held-out set v4 (issue 18, sixth round; heldout_v2 and heldout_v3
    are no longer read): structured recall and precision, measured as bench/pii.py measures them."""
    from bench.pii import HELDOUT_SPLIT, evaluate, targets_missed

    assert HELDOUT_SPLIT == "heldout_v4"
    report = evaluate(bench_scrubber, HELDOUT_SPLIT)
    assert report["messages"] >= 650
    missed = [m for m in targets_missed(report) if not m.startswith("names_addresses_recall")]
    assert missed == [], missed


def test_heldout_names_addresses_target_met(bench_scrubber):
    """Names + street addresses recall >= 0.90 on the held-out set v4 (0.920 measured, 636 of 691;
    see docs/pii.md, Quality). It was a strict xfail on heldout_v3 (0.883)."""
    from bench.pii import HELDOUT_SPLIT, evaluate, targets_missed

    assert HELDOUT_SPLIT == "heldout_v4"
    report = evaluate(bench_scrubber, HELDOUT_SPLIT)
    assert not [m for m in targets_missed(report) if m.startswith("names_addresses_recall")]


def test_labelled_set_is_complete():
    from bench.pii import load_split

    rows = load_split("dev") + load_split("heldout")
    assert len(rows) >= 300
    assert {r["channel"] for r in rows} == {"email", "sms", "web", "instagram", "facebook", "phone"}
    assert {e["type"] for r in rows for e in r["entities"]} == set(ENTITIES)
    for r in rows:
        for e in r["entities"]:
            assert r["text"][e["start"]:e["end"]].strip()
