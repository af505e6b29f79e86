"""Issue 18, third round: kinds of misses a fourth development set (dev_v4, locales and frames no
other set uses) showed, and its precision rules; none of it reads the held-out set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.platform.pii_addresses import _pyap
from tests.factories.pii import demo_scrubber, redacted

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "pii"


@pytest.fixture(scope="module")
def scrubber():
    return demo_scrubber("Sonoma")


def test_pyap_offsets_point_into_the_original_text(scrubber):
    # pyap matches on a normalised copy ("a,\nb" -> "a, \nb"): its offsets used to run past the
    # text's end, and the scrubber raised on such messages
    text = "Hi! Warmly,\nChawin B. Sooksawang\n163 Sireelert Expressway Methavorakulport, GU 48685"
    spans = _pyap(text)
    assert spans and all(e <= len(text) for _s, e, _sc in spans)
    assert text[spans[0][0]:spans[0][1]] == "163 Sireelert Expressway Methavorakulport, GU 48685"
    assert scrubber.scrub(text).safe
    assert _pyap("at  12   Oak St ,Springfield ,  IL 62704")[0][0] == 4


@pytest.mark.parametrize(("text", "value"), [
    ("Name on the booking: KATHY PERRY", "KATHY PERRY"),
    ("Callback request: Martin, (273)621-7388, any time after 5pm.", "Martin"),
    ("Can you call back Cole on +41 72 931 47 40?", "Cole"),
    ("Please invoice Howard at susan51@gmail.com.", "Howard"),
    ("Warmly,\nHill\n107 Watkins Trail Suite 429", "Hill"),
    ("- Anderson (smithlarry@davenport.com)", "Anderson"),
    ("text me at 0901 893 381 - David", "David"),
    ("who's coming: Elaine, Jennifer French and Grace", "Elaine"),
    ("who's coming: Elaine, Jennifer French and Grace", "Grace"),
    ("Guests of honour are Bensalem and Rania Hassani.", "Bensalem"),
    ("Kids attending: Omina Anvarov and Samir, both under ten.", "Omina Anvarov"),
    ("Tiffany Schmidt's address is on the form.", "Tiffany Schmidt"),
    ("We're at No. 12, Jln Lembah Permai 6/8, Kampung Pertama, 18180 Bandar Bukit Wangi",
     "No. 12, Jln Lembah Permai 6/8"),
    ("hosting at 977, Lorong 5/2.", "977, Lorong 5/2"),
    ("Your colleague Linda took my call.", "Linda"),
    ("Our planner, Eve Post, has the final headcount.", "Eve Post"),
    ("Quick one: Your colleague Jan Tudor took my call.", "Jan Tudor"),
    ("Please confirm with my assistant Miles on 073 023 56 19.", "Miles"),
    ("Address is PSC 1605. Wright says hi!", "Wright"),
    ("Dear team, CHEN will be our point of contact on the day.", "CHEN"),
    ("We're near Redding.\nMorgan mentioned you can do edamame.", "Morgan"),
    ("The deposit was paid by Rojas last week.", "Rojas"),
    ("Thanks, Irene Bengtsson Uber Eats was great last time.", "Irene Bengtsson"),
    ("Best,\nMontserrat Villalonga\n+52 241052800\n", "+52 241052800"),
    ("Callback request: Biel Madrid, +1-701-551-5896x5759, any time after 6:30.", "+1-701-551-5896x5759"),
    ("ask for Ulug‘bek at 29050 Ulug‘bekov Key Suite 464", "Ulug‘bek"),
    ("ask for Ulug‘bek at 29050 Ulug‘bekov Key Suite 464", "29050 Ulug‘bekov Key Suite 464"),
    ("at Calle Querétaro 770 764, San Abel los altos, VER 26413-5106 ok",
     "Calle Querétaro 770 764, San Abel los altos, VER 26413-5106"),
    ("Peatonal Saint Kitts y Nevis 165 Interior 513, San Leonel los bajos, Q. ROO 31976-9315",
     "Peatonal Saint Kitts y Nevis 165 Interior 513, San Leonel los bajos, Q. ROO 31976-9315"),
    ("We're at 6 đường Bạch Đằng, Xã Hòa Bình, tỉnh Thanh Hóa today",
     "6 đường Bạch Đằng, Xã Hòa Bình, tỉnh Thanh Hóa"),
    ("Venue: Samux ray., Milabad qəs., Ə.ORUCƏLİYEV küçəsi, b. 2, m. 246",
     "Samux ray., Milabad qəs., Ə.ORUCƏLİYEV küçəsi, b. 2, m. 246"),
    ("Crespo will bring the birthday cake.", "Crespo"),
    ("Can Erika pick up the leftovers?", "Erika"),
    ("Put it under Medina, not me.", "Medina"),
    ("Contact person: Ada, mobile 428.357.7920x034.", "Ada"),
    ("Hi! so David and i were thinking garlic butter shrimp", "David"),
    ("Venue: House No. 47, NazirDanga Center, Rangpur, 5777",
     "House No. 47, NazirDanga Center, Rangpur, 5777"),
])
def test_dev4_kinds_are_redacted(scrubber, text, value):
    res = scrubber.scrub(text)
    assert redacted(res, text, value), (text, res.text, res.entities)


@pytest.mark.parametrize("text", [
    "Allergies: none, but 3 kids are vegan.",
    "Callback request: any time after 5pm.",
    "NAME: see the form / PHONE: ask me",
    "Is $60 ok for 12 ppl Drop the extra propane by the gate.",
    "Party on Noyabr 12, or İyun 3 if that is free.",
    "Do you serve Salinas? We need fried rice for 20.",
    "Hi, my name is Xochitl and I'd like a quote.",
    "Hi! Warmly,\nSuite 012",
    "Hello again, Blocked again, my address is 164.205.232.171.",
    "Hiya, Loved Zelle! The udon was perfect.",
    "Bill to card 6011 6837 9329 4585, thank you.  Many thanks.",
    "Do you cover Monterey? Google Maps was recommended.",
    "We're based near Sonoma, about an hour out.",
    "Any dates left? booking for May 5th, 20 guests",
    "Vallejo is fine for 33 people at $2487.00?",
    "Coming from Sonoma and Sonoma, two cars.",
    "Visiting West Rolftown on September 1, can OpenTable come to the hotel?",
    "We're based near Saint Joly, about an hour out.",
    "Visiting Napa on Tháng Mười 26, 2027?",
    "keep it quiet Name on the booking: see the form",
    "Is Napa still available on the 5th?",
])
def test_labels_months_verbs_places_are_not_names(scrubber, text):
    res = scrubber.scrub(text)
    names = [text[e.start:e.end] for e in res.entities if e.type == "PERSON"]
    assert names in ([], ["Xochitl"]), (text, res.text)


def test_prose_is_no_street_and_lower_case_streets_are():
    from core.platform.pii_recognizers import find_addresses

    assert find_addresses("Is $60 ok for 14 ppl We'll drive up from Chico") == []
    assert find_addresses("I paid 20 Via Zelle") == []
    text = "Hi, we are at 12 oak street, come by"
    assert [text[s:e].rstrip(".") for s, e, _ in find_addresses(text)] == ["12 oak street"]


def test_found_names_grow_only_over_name_words(scrubber):
    res = scrubber.scrub("Please call Maria Lopez, Costco and Venmo work for payment.")
    assert [res.text] == ["Please call <PERSON>, Costco and Venmo work for payment."]
    res = scrubber.scrub("Loved it! Thanks, Ember Grill and Jennifer Okafor.")
    assert "Ember Grill" in res.text and "Okafor" not in res.text


def test_dev_v4_is_its_own_set():
    from bench.pii_dataset import DEV4_LOCALES, DEV_LOCALES, HELDOUT_LOCALES, TUNE_LOCALES, _dump, dev4_rows

    assert not set(DEV4_LOCALES) & set(HELDOUT_LOCALES + TUNE_LOCALES + DEV_LOCALES)
    on_disk = (DATA / "dev_v4.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in on_disk.splitlines()]
    assert len(rows) == 800 and {r["locale"] for r in rows} <= set(DEV4_LOCALES)
    for r in rows:
        assert "{" not in r["text"]  # every placeholder was filled
        for e in r["entities"]:
            assert r["text"][e["start"]:e["end"]].strip()
    assert _dump(dev4_rows()) == on_disk  # frozen: a regeneration gives the same file
