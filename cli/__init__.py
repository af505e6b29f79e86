"""The `supportloop` command line: what an operator does from a shell.

Errors from core are printed and the command exits non-zero. Every command works on the
database in settings (SUPPORTLOOP_DATABASE_URL) unless told otherwise.
"""

from __future__ import annotations

import sys
from functools import wraps

import click

from core.platform.config import describe_settings, get_settings
from core.platform.errors import SupportloopError


def handle_errors(fn):
    """Print SupportloopError messages (not tracebacks) and exit 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SupportloopError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper


def open_db():
    """Engine and session factory for the configured database (migrated to head)."""
    from core.platform.db import make_engine, require_current, session_factory

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    require_current(engine)
    return engine, session_factory(engine)


@click.group()
def main() -> None:
    """supportloop: the self-learning layer for an AI customer-support assistant."""


def _register_command_modules() -> None:
    """Every module in core/cli/ adds its commands to ``main`` when imported."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


# --- configuration and database -------------------------------------------------------
@main.command("config")
def config_cmd() -> None:
    """Print every setting: environment variable, default and meaning."""
    for row in describe_settings():
        click.echo(f"{row['env']}={row['default']}\n    {row['description']}")


@main.group()
def db() -> None:
    """Create or migrate the database."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@handle_errors
def db_upgrade(revision: str) -> None:
    """Create the database if needed and migrate it to the latest revision."""
    from core.platform.db import upgrade

    settings = get_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}: {settings.database_url}")


_register_command_modules()
