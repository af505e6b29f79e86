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
