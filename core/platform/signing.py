"""HMAC-signed tokens for links customers click (feedback votes, surveys).

A signature covers a *purpose* (so a feedback signature is never a valid survey
signature), the fields that must not change (message id, voter, vote...) and an expiry.
It is written ``<expiry base36>.<urlsafe base64 HMAC-SHA256>`` so it fits in a query
parameter, and checked in constant time.

Verification takes every secret still trusted (the current one, then those kept after a
rotation: ``core.platform.secrets.verification_secrets``), so links issued before a rotation
work until they expire; signing always uses the current secret alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Sequence

from core.platform.errors import PermissionDenied

# What ``sign`` writes, and nothing else: the expiry in ASCII base 36 (``int(x, 36)`` alone would
# take other scripts' digits, "_", "+", "-" and spaces) and the unpadded URL-safe base64 of a
# SHA-256 HMAC (``hmac.compare_digest`` raises TypeError on non-ASCII text: refused here first).
_SIGNATURE = re.compile(r"([0-9a-z]{1,13})\.([A-Za-z0-9_-]{43})")


class InvalidSignature(PermissionDenied):
    """The signature does not match its fields: forged, altered or signed with another key."""


class ExpiredSignature(PermissionDenied):
    """The signature was valid but its expiry has passed."""

    http_status = 410


def _epoch(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.UTC).timestamp())


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _mac(secret: str, purpose: str, fields: Sequence[object], exp: str) -> str:
    msg = "\x1f".join([purpose, *(str(f) for f in fields), exp]).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(secret: str, purpose: str, fields: Sequence[object], expires_at: dt.datetime) -> str:
    """A signature over ``purpose``, ``fields`` and ``expires_at`` (naive UTC)."""
    if not secret:
        raise ValueError("sign needs a non-empty secret")
    exp = _b36(_epoch(expires_at))
    return f"{exp}.{_mac(secret, purpose, fields, exp)}"


def verify(
    secret: str | Sequence[str], purpose: str, fields: Sequence[object], signature: str, now: dt.datetime
) -> dt.datetime:
    """Check ``signature`` against the fields with ``secret`` (or any of a list of secrets: the
    current one and those kept after a rotation); return its expiry.

    Raises InvalidSignature when it does not match (forged or altered) and ExpiredSignature
    when it matched but has expired.
    """
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys or not all(keys):
        raise ValueError("verify needs at least one non-empty secret")
    parts = _SIGNATURE.fullmatch(signature) if isinstance(signature, str) else None
    if parts is None:
        raise InvalidSignature(
            "This link is not valid: its signature is malformed. Use the link exactly as it was sent to you."
        )
    exp, mac = parts.groups()
    try:
        expires_epoch = int(exp, 36)
        expires_at = dt.datetime.fromtimestamp(expires_epoch, dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidSignature("This link is not valid: its signature is malformed.") from exc
    if not any(hmac.compare_digest(_mac(key, purpose, fields, exp), mac) for key in keys):
        raise InvalidSignature(
            "This link is not valid: it was changed or was not issued by us. Use the "
            "link exactly as it was sent to you."
        )
    if now >= expires_at:
        raise ExpiredSignature(
            f"This link expired on {expires_at:%Y-%m-%d}. Links work for a limited "
            "time; reply to the message instead."
        )
    return expires_at
