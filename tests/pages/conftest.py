"""Fixtures for AppTest page tests: the dashboard pointed at the test database. The helpers
the tests call (pages with a login, seed data) are in ``tests.factories.dashboard``."""

from __future__ import annotations

import pytest
import streamlit as st

from core.platform.config import get_settings


@pytest.fixture
def app_db(db, monkeypatch, tmp_path):
    """The test database as the dashboard's database, with every Streamlit cache emptied."""
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "indexes"))
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield db
    st.cache_resource.clear()
    st.cache_data.clear()
    get_settings.cache_clear()
