"""Who acts: the acting user every state-changing core function takes, and what each role may do.

Roles (higher roles include every right of the lower ones):

- **viewer** sees metrics, conversations (redacted) and reports;
- **reviewer** also works the review queue (approve, edit, reject, promote to KB);
- **admin** also activates and rolls back KB versions, launches dataset builds and
  fine-tunes, promotes experiments, edits alert rules, manages users and sees raw text.

Core functions call :func:`require` themselves, so the dashboard, the CLI and the API cannot
skip the check. The job runner acts as :data:`SYSTEM`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.platform.errors import PermissionDenied
from core.platform.statuses import UserRole

USER_ROLES = tuple(role.value for role in UserRole)  # plain strings (click.Choice matches enum names)

PERMISSIONS: dict[str, frozenset[str]] = {UserRole.VIEWER: frozenset({"view"})}
PERMISSIONS[UserRole.REVIEWER] = PERMISSIONS[UserRole.VIEWER] | {"review"}
PERMISSIONS[UserRole.ADMIN] = PERMISSIONS[UserRole.REVIEWER] | {
    "view_raw",
    "manage_kb",
    "build_dataset",
    "launch_finetune",
    "manage_experiments",
    "edit_alerts",
    "run_jobs",
    "manage_users",
}
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())


def can(role: str, permission: str) -> bool:
    """Whether ``role`` has ``permission`` (unknown permissions are a programming error)."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; known: {sorted(ALL_PERMISSIONS)}")
    return permission in PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class Actor:
    """An acting user (plain data, safe to keep in a dashboard session): id 0 is the system."""

    id: int
    name: str
    role: str
    expires_at: dt.datetime | None = None

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


SYSTEM = Actor(0, "system", UserRole.ADMIN)  # the job runner and the demo loader


def require(user: Actor | None, permission: str) -> Actor:
    """``user`` when it has ``permission``; PermissionDenied otherwise (also when anonymous)."""
    if user is None:
        raise PermissionDenied("You are not logged in. Log in to the dashboard first.")
    if not isinstance(user, Actor):
        raise TypeError(f"expected an Actor, got {type(user).__name__}")
    if not user.can(permission):
        raise PermissionDenied(
            f"{user.name} is a {user.role}; this needs the '{permission}' right. "
            f"Ask an admin to change your role (`supportloop user role {user.name} ROLE`)."
        )
    return user
