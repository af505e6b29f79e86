"""Issue 18, fifth round: kinds of misses the sixth development set (dev_v6, locales and frames no
other set uses) showed, and its precision rules (the Tahoe case among them); none of it reads the
held-out set v3."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.pii import check_set_rows, demo_scrubber, redacted

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "pii"


@pytest.fixture(scope="module")
def scrubber():
    return demo_scrubber()


def _older_locales() -> set[str]:
    from bench.pii_dataset import DEV4_LOCALES, DEV5_LOCALES, DEV_LOCALES, HELDOUT_LOCALES, TUNE_LOCALES

    return set(HELDOUT_LOCALES + TUNE_LOCALES + DEV_LOCALES + DEV4_LOCALES + DEV5_LOCALES)


def test_dev_v6_is_its_own_set():
    from bench.pii_dataset import DEV6_FILE, DEV6_LOCALES, HELDOUT3_LOCALES, _dump, dev6_rows

    assert not set(DEV6_LOCALES) & (_older_locales() | set(HELDOUT3_LOCALES))
    on_disk = DEV6_FILE.read_text(encoding="utf-8")
    check_set_rows(on_disk, 800, DEV6_LOCALES)
    assert _dump(dev6_rows()) == on_disk  # a regeneration gives the same file


def test_heldout_v3_is_the_frozen_file():
    """The held-out set v3 regenerates identically and is the file whose sha256 docs/pii.md records.
    (Only its composition is checked here, never what the scrubber finds in it.)"""
    import hashlib
    import re

    from bench.pii_dataset import HELDOUT3_FILE, HELDOUT3_LOCALES, _dump, heldout3_rows

    assert not set(HELDOUT3_LOCALES) & _older_locales()
    on_disk = HELDOUT3_FILE.read_text(encoding="utf-8")
    check_set_rows(on_disk, 650, HELDOUT3_LOCALES)
    assert _dump(heldout3_rows()) == on_disk
    doc = (ROOT / "docs" / "pii.md").read_text(encoding="utf-8")
    recorded = re.search(r"heldout_v3\.jsonl` sha256 `([0-9a-f]{64})`", doc).group(1)
    assert hashlib.sha256(HELDOUT3_FILE.read_bytes()).hexdigest() == recorded


def test_romanise_any():
    from bench.pii_dataset import romanise_any

    assert romanise_any("ვანო ხმალაძე") == "Vano Khmaladze"
    assert romanise_any("김 은정") == "Kim Eunjeong"
    assert romanise_any("अमित ०१२") == "Amit 012"


@pytest.mark.parametrize(("text", "value"), [
    # a name in lower case right after a self-introduction, in a text with capitals elsewhere
    ("Hi! it's tushar from the tasting yesterday!", "tushar"),
    ("Hello, this is priyanka, can we move it to 6?", "priyanka"),
    # titles: the name after any title is found, the title joins nothing by itself
    ("Sent on behalf of Capt. Dod\nThanks", "Dod"),
    ("could you ask Rabbi Yehonatan to call me?", "Yehonatan"),
    # who the party is for, the chef by name, the planner, how to reach someone
    ("Khan party of 28, Friday the 21st, backyard.", "Khan"),
    ("Tell chef Gregory thank you, the kids loved it.", "Gregory"),
    ("Our event planner Thakur will confirm the menu by 3/11.", "Thakur"),
    ("Reach Summer on 792-4547, that's the landline at the venue.", "Summer"),
    # lists separated by semicolons
    ("Names for the place cards: Jacqueline Brewer; Romero; Heather.", "Heather"),
    # addresses after a cue that one follows, in any language's words
    ("Address for the dinner is Hmlkim 27, Brkai.", "Hmlkim 27, Brkai"),
    ("Hosting at 17 Znqa Siah Buaynan this year instead of our house.", "17 Znqa Siah Buaynan"),
    ("Directions: 3 Rohini Jadhav\nParabhani 785150\n(take the second driveway)",
     "3 Rohini Jadhav\nParabhani 785150"),
    ("Deliver the extra trays to Unit 246, Phlyat 7, Badi Nan 32, Muradakarnar before 5pm.",
     "Unit 246, Phlyat 7, Badi Nan 32, Muradakarnar"),
    # a house number, a street, a town and its postcode
    ("54 Bhushan Aher, Akola 668113, ring the bell twice", "54 Bhushan Aher, Akola 668113"),
    ("the food goes to 7191 Nakkirar, Tanchavur-798055 on Friday", "7191 Nakkirar, Tanchavur-798055"),
    # a known town written without its accents
    ("Please deliver to Polydendrioy 1, Kozani tomorrow.", "Polydendrioy 1, Kozani"),
])
def test_dev_v6_kinds_are_found(scrubber, text, value):
    assert redacted(scrubber.scrub(text), text, value)


@pytest.mark.parametrize("text", [
    "can your chef come to Tahoe?",                           # a place after "come to"
    "Can the chef drive out to Mill Valley for a party of 17?",
    "How early can you arrive in Maturai? Dinner is at 7 pm.",
    "We'll be 59 adults in Tahoe and Lodi the next day.",
    "Please address the invoice to Finance Department.",       # a department
    "Namaste, the tasting was great. Shukran!",                # greetings and thanks of other languages
    "ok thanks  Shukran!",
    "Social Security Number: see the form",                    # not a person
    "Asking for 58 guests on Januyari 3, 2027.",               # a month said the way Hindi says it
    "Dinner on Aktobar 18 at 6pm.",
    "Is it $45 for Jun 3?",
    "hey Reply all please",                                    # an English verb after a greeting
    "thanks Tell the chef the kids loved it",
    "here's my maestro card, exp 11/28 Sent from Outlook for Android",  # a card's expiry, a signature
    "Birthday party of 20 on Friday, backyard.",               # what kind of party, not whose
    "Sent on behalf of Dr.",
])
def test_dev_v6_precision_rules(scrubber, text):
    res = scrubber.scrub(text)
    assert res.entities == [], [(text[e.start:e.end], e.type) for e in res.entities]


def test_tahoe_is_a_place_not_a_name(scrubber):
    text = "can your chef come to Tahoe?"
    res = scrubber.scrub(text)
    assert res.text == text
    # a place after "come to" stays in the text; a person may carry a place's name, so it is left
    # for review (not safe for training until someone approves it), as places after "in" are
    assert [text[e.start:e.end] for e in res.uncertain] == ["Tahoe"] and not res.safe


def test_names_after_to_and_in_stay_names(scrubber):
    for text, name in [("Please send it to Priyanka Venkataraman, thanks", "Priyanka Venkataraman"),
                       ("can the chef come to Anjali's house?", "Anjali"),
                       ("My husband Yousef will meet the chef in the lobby", "Yousef"),
                       ("Hi Kenji,\nis the chef still coming?", "Kenji"),
                       ("hey its jun, can we do 6pm?", "jun")]:
        assert redacted(scrubber.scrub(text), text, name), text
