"""Roles and rights (core.platform.actors): what each role may do, and ``require``."""

import pytest

from core.platform.actors import ALL_PERMISSIONS, SYSTEM, USER_ROLES, Actor, can, require
from core.platform.errors import PermissionDenied
from core.platform.statuses import UserRole


def test_roles_include_the_rights_below_them():
    assert can("viewer", "view") and not can("viewer", "review")
    assert can("reviewer", "review") and not can("reviewer", "manage_kb")
    for right in ALL_PERMISSIONS:
        assert can(UserRole.ADMIN, right)
    with pytest.raises(ValueError):
        can("admin", "fly")
    assert USER_ROLES == ("admin", "reviewer", "viewer")


def test_require_refuses_anonymous_and_missing_rights():
    viewer = Actor(1, "v", "viewer")
    with pytest.raises(PermissionDenied, match="not logged in"):
        require(None, "view")
    with pytest.raises(PermissionDenied, match="viewer"):
        require(viewer, "review")
    with pytest.raises(TypeError):
        require("admin", "view")  # a name is not an acting user
    assert require(viewer, "view") is viewer
    assert require(SYSTEM, "run_jobs") is SYSTEM
