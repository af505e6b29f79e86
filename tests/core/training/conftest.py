"""Fixtures of the training tests: the PII scrubber (loaded once) and the builders' clock."""

import pytest

from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.pii import get_scrubber
from tests.factories.training import T0


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


@pytest.fixture
def clock():
    return FixedClock(T0)
