"""HMAC-signed link tokens (core.platform.signing): purpose, fields, expiry and key rotation."""

import datetime as dt

import pytest

from core.platform import signing

T0 = dt.datetime(2026, 3, 1, 9, 0)
OLD = "old-secret-" + "a1b2c3d4e5f6" * 3
NEW = "new-secret-" + "f6e5d4c3b2a1" * 3


def test_a_signature_verifies_only_for_its_purpose_fields_and_secret():
    sig = signing.sign(NEW, "feedback", [7, "cust", "up"], T0 + dt.timedelta(days=1))
    assert signing.verify(NEW, "feedback", [7, "cust", "up"], sig, T0) == T0 + dt.timedelta(days=1)
    for secret, purpose, fields in (
        (OLD, "feedback", [7, "cust", "up"]),
        (NEW, "survey", [7, "cust", "up"]),
        (NEW, "feedback", [7, "cust", "down"]),
        (NEW, "feedback", [8, "cust", "up"]),
    ):
        with pytest.raises(signing.InvalidSignature):
            signing.verify(secret, purpose, fields, sig, T0)
    with pytest.raises(signing.ExpiredSignature):
        signing.verify(NEW, "feedback", [7, "cust", "up"], sig, T0 + dt.timedelta(days=2))


def test_verify_accepts_any_listed_secret_but_sign_uses_one():
    old_sig = signing.sign(OLD, "survey", [3], T0 + dt.timedelta(days=30))
    assert signing.verify([NEW, OLD], "survey", [3], old_sig, T0)
    with pytest.raises(signing.InvalidSignature):
        signing.verify([NEW], "survey", [3], old_sig, T0)
    forged = signing.sign("attacker-" + "x9" * 20, "survey", [3], T0 + dt.timedelta(days=30))
    with pytest.raises(signing.InvalidSignature):
        signing.verify([NEW, OLD], "survey", [3], forged, T0)


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "zzzzzzzzzzzzzzzzzzzz.x", "x" * 300])
def test_malformed_signatures_are_invalid_not_errors(bad):
    with pytest.raises(signing.InvalidSignature):
        signing.verify(NEW, "survey", [3], bad, T0)


def test_an_empty_secret_is_a_programming_error():
    with pytest.raises(ValueError):
        signing.sign("", "survey", [3], T0)
    with pytest.raises(ValueError):
        signing.verify(["", NEW], "survey", [3], "a.b", T0)


@pytest.mark.parametrize(
    "exp",
    ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16", "1_2345_6", "+123456",
     " 123456", "123456\n", "ABCDEF", "-1"],
)
def test_an_expiry_in_anything_but_ascii_base36_is_refused_even_when_the_mac_matches(exp):
    # int(exp, 36) reads every one of these as a number; the signature holds only what sign writes
    forged = f"{exp}.{signing._mac(NEW, 'survey', [3], exp)}"
    with pytest.raises(signing.InvalidSignature, match="malformed"):
        signing.verify(NEW, "survey", [3], forged, T0)


@pytest.mark.parametrize("mac_char", ["\u00e9", "\u0661", "=", "+", "/"])
def test_a_non_ascii_or_non_urlsafe_mac_is_invalid_not_a_crash(mac_char):
    sig = signing.sign(NEW, "survey", [3], T0 + dt.timedelta(days=1))
    exp, mac = sig.split(".")
    with pytest.raises(signing.InvalidSignature):  # hmac.compare_digest raises TypeError on non-ASCII
        signing.verify(NEW, "survey", [3], f"{exp}.{mac[:-1]}{mac_char}", T0)
