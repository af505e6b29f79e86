from core.ops import alerts, queue
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from tests.factories.dashboard import button, page, refused, token_for


def _seed_rules(session):
    alerts.seed_default_rules(session, SystemClock())
    session.commit()


def test_anonymous_visitor_is_refused(app_db, session):
    assert refused(page("alerts").run())


def test_viewer_sees_rules_and_runner_state_but_cannot_edit(app_db, session):
    _seed_rules(session)
    at = page("alerts", token_for(app_db, "viewer")).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Job runner"] == "not running"
    assert "No job runner is alive" in at.warning[0].value
    assert not [b for b in at.button if b.label == "Save rule"]


def test_admin_edits_a_rule(app_db, session):
    _seed_rules(session)
    at = page("alerts", token_for(app_db, "admin")).run()
    assert not at.exception
    first = alerts.list_rules(session)[0]
    at.number_input[0].set_value(0.5)
    button(at, "Save rule").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert next(r for r in alerts.list_rules(s) if r["name"] == first["name"])["threshold"] == 0.5


def test_admin_sees_the_job_queue_with_progress_and_cancels_a_run(app_db, session):
    with app_db.session() as s:
        run = queue.enqueue(s, "kb_refresh", {}, actor=SYSTEM)
        run.progress_done, run.progress_total, run.progress_message = 3, 12, "embedding chunks"
        s.commit()
        run_id = run.id
    at = page("alerts", token_for(app_db, "admin")).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == [run_id] and table["progress"][0] == 0.25
    assert table["now"][0] == "embedding chunks"
    button(at, "Cancel").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert queue.get_run(s, run_id)["status"] == "cancelled"


def test_viewer_sees_the_job_queue_without_cancel(app_db, session):
    with app_db.session() as s:
        queue.enqueue(s, "gaps_refresh", {}, actor=SYSTEM)
        s.commit()
    at = page("alerts", token_for(app_db, "viewer")).run()
    assert not at.exception and len(at.dataframe[0].value) == 1
    assert not [b for b in at.button if b.label == "Cancel"]
