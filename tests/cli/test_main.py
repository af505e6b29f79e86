"""The `supportloop` command line as a whole: every command's --help, and who a command acts as
(--actor NAME resolves to an existing, active account whose role is then checked; without it
the shell operator "cli" acts)."""

import click
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from core.platform.models import Chunk


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_has_help():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "Shell access to the host is trusted" in top.output
    paths = list(_commands(main))
    assert ("kb", "refresh") in paths and ("user", "add") in paths and ("serve",) in paths
    for path in paths:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: "), path


def test_actor_must_be_an_active_account_with_the_right(cli_once, db):
    cli_once("user", "add", "alice", "--role", "admin", "--password", "password-123")
    cli_once("user", "add", "vic", "--role", "viewer", "--password", "password-123")
    cli_once("user", "add", "rex", "--role", "admin", "--password", "password-123")
    cli_once("user", "disable", "rex", "--actor", "alice")
    propose = ("kb", "propose", "--text")

    assert "No user named 'nobody'" in cli_once(*propose, "Office lunches too.", "--actor", "nobody", code=1)
    assert "deactivated" in cli_once(*propose, "Office lunches too.", "--actor", "rex", code=1)
    refused = cli_once(*propose, "Office lunches too.", "--actor", "vic", code=1)
    assert "vic is a viewer" in refused and "manage_kb" in refused
    cli_once(*propose, "We cater office lunches.", "--actor", "alice")
    cli_once(*propose, "We cater weddings.")  # no --actor: the trusted shell operator
    with db.session() as s:
        made = dict(s.execute(select(Chunk.text, Chunk.created_by)).tuples().all())
    assert made == {"We cater office lunches.": "alice", "We cater weddings.": "cli"}
