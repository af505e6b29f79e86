"""`supportloop user ...`: dashboard accounts (add, list, role, password, disable, demo admin)."""

from __future__ import annotations

import click

from cli import acting, actor_option, handle_errors, main, transaction
from core.access import auth
from core.platform.actors import USER_ROLES


@main.group("user")
def user_group() -> None:
    """Manage dashboard accounts (roles: admin, reviewer, viewer)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(USER_ROLES), required=True, help="What the user may do.")
@click.option("--password", default=None,
              help="Password (at least 12 characters, not a common one); generated when left out.")
@actor_option()
@handle_errors
def user_add(name: str, role: str, password: str | None, actor: str | None) -> None:
    """Create a dashboard account; prints the password when it was generated."""
    with acting(actor) as (s, who):
        _, pw = auth.create_user(s, name, role, password, actor=who)
    click.echo(f"created {role} {name}")
    if password is None:
        click.echo(f"password: {pw}")


@user_group.command("list")
@handle_errors
def user_list() -> None:
    """List accounts with role, state and last login."""
    with transaction() as s:
        rows = auth.list_users(s)
    if not rows:
        click.echo("no users; create one with `supportloop user add NAME --role admin`")
    for r in rows:
        state = "active" if r["active"] else "disabled"
        last = f"{r['last_login_at']:%Y-%m-%d %H:%M}" if r["last_login_at"] else "never"
        click.echo(f"{r['name']:<20} {r['role']:<9} {state:<9} last login {last}")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(USER_ROLES))
@actor_option()
@handle_errors
def user_role(name: str, role: str, actor: str | None) -> None:
    """Change a user's role."""
    with acting(actor) as (s, who):
        auth.set_role(s, name, role, actor=who)
    click.echo(f"{name} is now {role}")


@user_group.command("password")
@click.argument("name")
@click.option("--password", default=None, help="New password; generated when left out.")
@actor_option()
@handle_errors
def user_password(name: str, password: str | None, actor: str | None) -> None:
    """Set a new password (ends the user's open logins)."""
    with acting(actor) as (s, who):
        pw = auth.set_password(s, name, password, actor=who)
    click.echo(f"password of {name} changed")
    if password is None:
        click.echo(f"password: {pw}")


@user_group.command("disable")
@click.argument("name")
@actor_option()
@handle_errors
def user_disable(name: str, actor: str | None) -> None:
    """Disable an account and end its logins."""
    with acting(actor) as (s, who):
        auth.set_active(s, name, False, actor=who)
    click.echo(f"{name} disabled")


@user_group.command("enable")
@click.argument("name")
@actor_option()
@handle_errors
def user_enable(name: str, actor: str | None) -> None:
    """Enable a disabled account again."""
    with acting(actor) as (s, who):
        auth.set_active(s, name, True, actor=who)
    click.echo(f"{name} enabled")


@user_group.command("ensure-demo-admin")
@handle_errors
def user_ensure_demo_admin() -> None:
    """Create the demo admin when no admin exists, and print its credentials (only then)."""
    with transaction() as s:
        pw = auth.ensure_demo_admin(s)
    if pw is not None:
        click.secho("dashboard login (demo admin, shown once):", bold=True)
        click.echo(f"{auth.DEMO_ADMIN} / {pw}")
