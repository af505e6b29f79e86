"""Fixtures of the experiment tests: the PII scrubber the loop's dataset build needs (loaded once)."""

import pytest

from core.platform.config import Settings
from core.platform.pii import get_scrubber


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))
