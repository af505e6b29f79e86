"""Fixtures of the fine-tune tests: a fake OpenAI fine-tuning server and settings pointing at it."""

import pytest

from tests.factories.servers import FakeOpenAI


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def cfg(settings, fake):
    return settings.model_copy(
        update={
            "openai_base_url": fake.base_url,
            "openai_api_key": "sk-test",
            "dataset_min_examples": 20,
            "finetune_timeout_s": 5.0,
        }
    )
