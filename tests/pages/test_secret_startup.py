"""The dashboard (app.py) refuses to start with a known or short link-signing secret."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.platform.config import get_settings

ROOT = Path(__file__).resolve().parents[2]


def _app() -> AppTest:
    get_settings.cache_clear()
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()


def test_the_dashboard_refuses_a_known_secret_unless_the_development_flag_is_set(app_db, monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_SECRET_KEY", "change-me-in-production")
    at = _app()
    assert not at.exception and "The dashboard refuses to start" in at.error[0].value
    assert not at.text_input  # no login form
    monkeypatch.setenv("SUPPORTLOOP_ALLOW_INSECURE_SECRET", "true")
    at = _app()
    assert not at.exception and not at.error and at.text_input  # the login form
    monkeypatch.delenv("SUPPORTLOOP_SECRET_KEY")
    monkeypatch.delenv("SUPPORTLOOP_ALLOW_INSECURE_SECRET")
    at = _app()  # no secret configured: one is generated in the data folder
    assert not at.exception and not at.error and at.text_input
