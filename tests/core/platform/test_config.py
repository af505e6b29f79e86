from pathlib import Path

from core.platform.config import Settings, describe_settings

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_has_a_description():
    missing = [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert missing == []


def test_every_setting_is_in_the_configuration_doc():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    undocumented = [r["env"] for r in describe_settings() if r["env"] not in doc]
    assert undocumented == [], "run `python -m core.platform.config_doc > docs/configuration.md`"


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_RETENTION_DAYS", "30")
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", "sqlite:///x.db")
    s = Settings(_env_file=None)
    assert s.retention_days == 30 and s.database_url == "sqlite:///x.db"
