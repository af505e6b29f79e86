"""Shared test factories: acting users, and small builders other tests reuse.

No test module imports another test module; what several tests need lives here.
"""

from __future__ import annotations

from core.platform.actors import Actor

ADMIN = Actor(1, "test-admin", "admin")
REVIEWER = Actor(2, "test-reviewer", "reviewer")
VIEWER = Actor(3, "test-viewer", "viewer")
