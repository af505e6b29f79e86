"""The Training page: build (a job with progress and cancel), statistics in plain words, approve,
export (a job) and download, fine-tune launch against the local fake OpenAI server, its progress
and cancel."""

import pytest
import streamlit as st
from sqlalchemy import select

from core.ops import queue
from core.ops.jobkinds import default_kinds
from core.ops.tasks import TaskContext
from core.platform.clock import SystemClock
from core.platform.config import Settings, get_settings
from core.platform.models import DatasetVersion, FineTuneJob, JobRun
from core.platform.pii import get_scrubber
from tests.factories.dashboard import button, page, refused, token_for
from tests.factories.servers import FakeOpenAI
from tests.factories.training import approved_dataset


@pytest.fixture(scope="module")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


@pytest.fixture
def fake_openai(app_db, monkeypatch):
    server = FakeOpenAI().start()
    monkeypatch.setenv("SUPPORTLOOP_OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("SUPPORTLOOP_OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("SUPPORTLOOP_DATASET_MIN_EXAMPLES", "10")  # a small dataset may train here
    get_settings.cache_clear()
    yield server
    server.stop()
    get_settings.cache_clear()


def _run_queued(db) -> dict:
    """What the job runner does with the oldest queued run (the real kinds)."""
    return queue.run_next(TaskContext(db.factory, get_settings(), SystemClock()), default_kinds([]), "test:1")


def _texts(at) -> str:
    cells = [str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel()]
    return " ".join(cells + [m.value for m in at.caption] + [str(m.value) for m in at.metric])


def test_anonymous_visitor_is_refused(app_db, session):
    assert refused(page("training").run())


def test_build_is_a_job_with_progress_and_cancel(app_db, session):
    at = page("training", token_for(app_db, "admin")).run()
    assert not at.exception and "No dataset yet" in at.info[0].value
    button(at, "Build a dataset now").click().run()
    assert not at.exception
    assert "Dataset build queued as job run #" in at.success[0].value
    queue_table = at.dataframe[0].value
    assert queue_table["Job"][0] == "Dataset build" and queue_table["Status"][0] == "Queued"
    with app_db.session() as s:  # nothing ran in the dashboard session: the run waits for the runner
        run = s.scalars(select(JobRun)).one()
        assert (run.job, run.status, run.requested_by) == ("dataset_build", "queued", "test-admin")
    button(at, "Cancel").click().run()
    with app_db.session() as s:
        assert s.scalars(select(JobRun)).one().status == "cancelled"


def test_approve_export_launch_and_cancel_a_fine_tune(app_db, session, scrubber, fake_openai):
    vid = approved_dataset(session, get_settings(), scrubber, n=24, approve=False)
    session.commit()
    at = page("training", token_for(app_db, "admin")).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Waiting for approval"] == "1"
    text = _texts(at)
    assert "Waiting for approval" in text and "pending_approval" not in text and "{" not in text
    button(at, "Approve dataset").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert s.get(DatasetVersion, vid).status == "approved"
    at = page("training", token_for(app_db, "admin", "admin-2")).run()
    assert {m.label: m.value for m in at.metric}["Waiting for approval"] == "0"
    assert not [b for b in at.get("download_button")]
    button(at, "Export (checks every line again)").click().run()
    assert "Dataset export queued" in at.success[0].value
    assert _run_queued(app_db)["status"] == "succeeded"
    st.cache_data.clear()
    at = page("training", token_for(app_db, "admin", "admin-3")).run()
    assert len(at.get("download_button")) >= 1

    assert not at.warning, [w.value for w in at.warning]
    button(at, "Launch fine-tune").click().run()
    assert not at.exception and "Fine-tune launch queued" in at.success[0].value
    done = _run_queued(app_db)
    assert done["status"] == "succeeded", done["error"]
    st.cache_data.clear()
    at = page("training", token_for(app_db, "admin", "admin-4")).run()
    assert not at.exception
    assert "No fine-tune jobs yet." not in _texts(at)
    jobs = next(df.value for df in at.dataframe if "Fine-tune" in df.value.columns)
    assert jobs["Status"][0] == "Checking files" and jobs["Provider"][0] == "OpenAI (chat model)"
    assert "Step 2 of 5: Checking files" in at.get("progress")[0].proto.text
    button(at, "Cancel this fine-tune").click().run()
    assert not at.exception
    with app_db.session() as s:
        job = s.scalars(select(FineTuneJob)).one()
        assert job.status == "cancelled"
    assert any(path.endswith("/cancel") for _, path in fake_openai.requests)
