"""Shared resources for pages: loaded once per process (st.cache_resource)."""

import streamlit as st

from core.config import get_settings
from core.db import make_engine, session_factory


@st.cache_resource
def database():
    settings = get_settings()
    engine = make_engine(settings.database_url)
    return engine, session_factory(engine)


def session():
    return database()[1]()
