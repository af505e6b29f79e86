"""The link-signing secret (core.platform.secrets): generated once per data folder, refused when
known or short, and rotated without breaking links already sent."""

import datetime as dt
import multiprocessing
import os
import stat

import pytest

from core.feedback import links
from core.platform import secrets as sec
from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.signing import InvalidSignature

T0 = dt.datetime(2026, 3, 1, 9, 0)
LONG = "k7Qv2Lr9Xw4Tz8Pm3Hs6Bn1Dc5Fg0Jy-" + "e" * 8


def _settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "var", **kw)


def test_the_first_start_generates_a_private_secret_and_later_starts_reuse_it(tmp_path):
    s = _settings(tmp_path)
    first = sec.signing_secret(s)
    path = tmp_path / "var" / sec.SECRET_FILE
    assert len(first) >= 60 and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sec.signing_secret(_settings(tmp_path)) == first
    assert sec.signing_secret(_settings(tmp_path / "other")) != first
    sec.check_secret(s, "test")  # a generated secret is safe


def _load(folder: str, queue) -> None:
    queue.put(sec.load_or_create(folder))


def test_processes_started_together_share_one_secret(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load, args=(str(tmp_path / "var"), queue)) for _ in range(6)]
    for p in procs:
        p.start()
    found = {queue.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(found) == 1 and found == {(tmp_path / "var" / sec.SECRET_FILE).read_text().strip()}


@pytest.mark.parametrize(
    ("secret", "why"),
    [("change-me-in-production", "published default"), ("short-but-random-9x", "19 characters"),
     ("ab" * 20, "distinct characters")],
)
def test_a_known_or_short_secret_stops_every_process_unless_allowed(tmp_path, secret, why):
    with pytest.raises(sec.InsecureSecret, match=why) as exc:
        sec.check_secret(_settings(tmp_path, secret_key=secret), "The API")
    assert "SUPPORTLOOP_ALLOW_INSECURE_SECRET" in str(exc.value) and secret not in str(exc.value)
    sec.check_secret(_settings(tmp_path, secret_key=secret, allow_insecure_secret=True), "The API")


def test_a_weak_previous_secret_or_a_readable_secret_file_is_refused(tmp_path):
    with pytest.raises(sec.InsecureSecret, match="previous secret #1"):
        sec.check_secret(_settings(tmp_path, secret_key=LONG, previous_secrets="change-me-in-production"),
                         "The API")
    s = _settings(tmp_path)
    path = tmp_path / "var" / sec.SECRET_FILE
    sec.signing_secret(s)
    os.chmod(path, 0o644)
    with pytest.raises(sec.InsecureSecret, match="chmod 600"):
        sec.check_secret(s, "The runner")


def test_rotation_keeps_old_links_valid_until_they_expire_and_forged_ones_never(tmp_path):
    clock = FixedClock(T0)
    before = _settings(tmp_path)  # the generated secret
    old_secret = sec.signing_secret(before)
    old_sig = links.sign_vote(before, 7, "cust@example.com", "up", clock)
    forged = links.sign_vote(_settings(tmp_path, secret_key="change-me-in-production"), 7,
                             "cust@example.com", "up", clock)

    # rotate: a new secret signs; the old one is kept in <data_dir>/previous_secrets
    (tmp_path / "var" / sec.PREVIOUS_FILE).write_text(old_secret + "\n")
    after = _settings(tmp_path, secret_key=LONG)
    sec.check_secret(after, "The API")
    assert sec.verification_secrets(after) == [LONG, old_secret]
    assert links.verify_signature(after, 7, "cust@example.com", "up", old_sig, clock)[1] == "up"
    new_sig = links.sign_vote(after, 7, "cust@example.com", "up", clock)
    assert new_sig != old_sig
    assert links.verify_signature(after, 7, "cust@example.com", "up", new_sig, clock)[1] == "up"
    with pytest.raises(InvalidSignature):  # the old signature is not valid for another vote
        links.verify_signature(after, 7, "cust@example.com", "down", old_sig, clock)
    for settings in (before, after):
        with pytest.raises(InvalidSignature):
            links.verify_signature(settings, 7, "cust@example.com", "up", forged, clock)
    later = FixedClock(T0 + dt.timedelta(days=after.feedback_link_days + 1))
    with pytest.raises(links.signing.ExpiredSignature):
        links.verify_signature(after, 7, "cust@example.com", "up", old_sig, later)

    # the environment variable works as well as the file; once dropped, old links stop working
    by_env = _settings(tmp_path / "elsewhere", secret_key=LONG, previous_secrets=f"{old_secret}, ")
    assert links.verify_signature(by_env, 7, "cust@example.com", "up", old_sig, clock)
    dropped = _settings(tmp_path / "elsewhere", secret_key=LONG)
    with pytest.raises(InvalidSignature):
        links.verify_signature(dropped, 7, "cust@example.com", "up", old_sig, clock)
