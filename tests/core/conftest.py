"""Fixtures shared by tests/core (keep each small; several features add theirs here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def minilm():
    """The real MiniLM embedder, loaded once per test session (issue 4: knowledge base)."""
    from core.config import Settings
    from core.embeddings import get_embedder

    return get_embedder(Settings(_env_file=None))
