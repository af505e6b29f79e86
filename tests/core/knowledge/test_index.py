"""Searching the active KB version (core.knowledge.index.search)."""

import pytest

from core.knowledge.index import IndexCache, search
from core.knowledge.refresh import weekly_refresh
from core.platform.errors import NotFound, ValidationError
from tests.factories import ADMIN
from tests.factories.knowledge import hashing, kb_settings, seed


def test_search_returns_the_closest_chunks_of_the_active_version(session, settings):
    emb, st = hashing(), kb_settings(settings)
    with pytest.raises(NotFound, match="no active version"):
        search(session, "kids price", embedder=emb, settings=st, index_cache=IndexCache())
    weekly_refresh(session, emb, st, seed(session), actor=ADMIN)
    hits = search(session, "kids price per child", 3, embedder=emb, settings=st, index_cache=IndexCache())
    assert [h.rank for h in hits] == [1, 2, 3] and hits[0].external_id == "price-kids"
    assert hits[0].score >= hits[1].score >= hits[2].score and hits[0].label == "price-kids"
    with pytest.raises(ValidationError, match="empty"):
        search(session, "  ", embedder=emb, settings=st)
    with pytest.raises(ValidationError, match="at least 1"):
        search(session, "x", 0, embedder=emb, settings=st)
