"""API keys (core.access.apikeys): shown once, stored hashed, one scope each, revocable."""

import pytest

from core.access import apikeys
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from core.platform.models import ApiKey
from tests.factories import ADMIN, REVIEWER


def test_a_key_is_shown_once_stored_hashed_and_checked_by_scope(session):
    key_id, plaintext = apikeys.create_api_key(session, "ingest:sms", "sms gateway", actor=ADMIN)
    assert plaintext.startswith(apikeys.KEY_PREFIX)
    row = session.get(ApiKey, key_id)
    assert row.key_hash == apikeys.hash_key(plaintext) and plaintext not in (row.key_hash, row.prefix)
    assert apikeys.verify_api_key(session, plaintext, "ingest:sms").name == "sms gateway"
    with pytest.raises(PermissionDenied, match="scope"):
        apikeys.verify_api_key(session, plaintext, "read")
    with pytest.raises(apikeys.InvalidApiKey):
        apikeys.verify_api_key(session, "sl_made-up", "ingest:sms")
    apikeys.revoke_api_key(session, key_id, actor=ADMIN)
    with pytest.raises(apikeys.InvalidApiKey):
        apikeys.verify_api_key(session, plaintext, "ingest:sms")
    assert apikeys.list_api_keys(session)[0].revoked_at is not None


def test_scopes_and_names_are_validated(session):
    assert apikeys.scope_for(channel="email") == "ingest:email"
    with pytest.raises(ValidationError, match="scope"):
        apikeys.create_api_key(session, "admin", "x", actor=ADMIN)
    with pytest.raises(ValidationError, match="name"):
        apikeys.create_api_key(session, "read", " ", actor=ADMIN)
    with pytest.raises(NotFound):
        apikeys.revoke_api_key(session, 9999, actor=ADMIN)


def test_creating_and_revoking_keys_needs_the_manage_users_right(session):
    key_id, plaintext = apikeys.create_api_key(session, "read", "grafana", actor=ADMIN)
    with pytest.raises(PermissionDenied, match="manage_users"):
        apikeys.create_api_key(session, "read", "mine", actor=REVIEWER)
    with pytest.raises(PermissionDenied, match="manage_users"):
        apikeys.revoke_api_key(session, key_id, actor=REVIEWER)
    assert apikeys.verify_api_key(session, plaintext, "read").revoked_at is None
    assert len(apikeys.list_api_keys(session)) == 1
