"""The training flow in Chromium, finished in the browser alone: build a dataset (a job the runner
runs; its progress shows on the page), read its statistics, approve it, export it, launch a
fine-tune against the local fake OpenAI server, follow it and cancel it. Screenshots under
test-artifacts/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories.browser import metric, open_page, screenshot, settle, wait_metric
from tests.factories.e2e_dashboard import runner_log, running_dashboard, seed_for_training
from tests.factories.servers import FakeOpenAI

pytestmark = pytest.mark.browser
SLOW = 300_000  # the runner loads the PII scrubber and checker (tens of seconds on a busy machine)


@pytest.fixture(scope="module")
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    var = tmp_path_factory.mktemp("e2e-training") / "var"
    return seed_for_training(f"sqlite:///{var / 'supportloop.db'}", var)


@pytest.fixture(scope="module")
def dashboard(seeded, fake_openai):
    """This module's own dashboard and runner: the fine-tune provider is the fake OpenAI server."""
    env = {"SUPPORTLOOP_OPENAI_API_KEY": "sk-test", "SUPPORTLOOP_OPENAI_BASE_URL": fake_openai.base_url,
           "SUPPORTLOOP_DATASET_MIN_EXAMPLES": "10", "SUPPORTLOOP_FINETUNE_POLL_SECONDS": "600"}
    with running_dashboard(seeded, env) as base:
        yield base


def _no_raw_words(app) -> None:
    body = app.locator("section.main, [data-testid='stMain']").first.inner_text()
    for word in ("pending_approval", "validating_files", "dataset_build", '{"', "{'"):
        assert word not in body, word
    assert app.locator('[data-testid="stException"]').count() == 0


def test_build_approve_export_launch_and_cancel_a_fine_tune(app, fake_openai, seeded):
    open_page(app, "Training")
    assert metric(app, "Waiting for approval") == "0"
    app.get_by_role("button", name="Build a dataset now").click()
    app.get_by_text(re.compile(r"Dataset build queued as job run #\d+")).first.wait_for()
    screenshot(app, "50-training-build-queued")
    try:
        wait_metric(app, "Waiting for approval", "1", timeout_ms=SLOW)
    except AssertionError:
        pytest.fail("the dataset build did not finish: " + runner_log(seeded))
    settle(app)
    app.get_by_text("What went in").wait_for()
    _no_raw_words(app)
    screenshot(app, "51-training-dataset-waiting-for-approval")

    app.get_by_role("button", name="Approve dataset").click()
    wait_metric(app, "Waiting for approval", "0")
    app.get_by_role("button", name="Export (checks every line again)").click()
    app.get_by_text(re.compile(r"Dataset export queued as job run #\d+")).first.wait_for()
    expect(app.get_by_role("button", name=re.compile(r"Download train JSONL"))).to_be_visible(timeout=SLOW)
    _no_raw_words(app)
    screenshot(app, "52-training-approved-and-exported")

    app.get_by_role("tab", name="Fine-tunes").click()
    app.get_by_role("button", name="Launch fine-tune").click()
    app.get_by_text(re.compile(r"Fine-tune launch queued as job run #\d+")).first.wait_for()
    app.get_by_role("tab", name="Fine-tunes").click()
    # the runner's fine-tune poll moves it on: checking files, queued, running
    step = app.get_by_text(re.compile(r"Step [234] of 5: (Checking files|Queued|Running)")).first
    expect(step).to_be_visible(timeout=SLOW)
    assert app.get_by_text("No fine-tune jobs yet.").count() == 0
    assert any(path == "/v1/fine_tuning/jobs" for method, path in fake_openai.requests if method == "POST")
    _no_raw_words(app)
    screenshot(app, "53-training-fine-tune-running")

    app.get_by_role("button", name="Cancel this fine-tune").click()
    settle(app)
    app.get_by_role("tab", name="Fine-tunes").click()
    cancelled = app.get_by_text(re.compile(r"^Cancelled at \d{4}-\d\d-\d\d \d\d:\d\d")).first
    expect(cancelled).to_be_visible(timeout=60_000)  # the job's own line (the table is a canvas)
    assert any(path.endswith("/cancel") for _, path in fake_openai.requests)
    _no_raw_words(app)
    screenshot(app, "54-training-fine-tune-cancelled")
