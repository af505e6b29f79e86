import streamlit as st

from core.ops import alerts, queue
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.config import get_settings
from core.platform.notify import Notifier
from tests.factories.dashboard import button, page, refused, seed_conversations, token_for


def _seed_rules(session):
    alerts.seed_default_rules(session, SystemClock())
    session.commit()


def _no_json_or_internal_words(at):
    cells = [str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel()]
    cells += [str(c) for df in at.dataframe for c in df.value.columns]
    text = " ".join(cells + [c.value for c in at.caption])
    for word in ("containment_rate", "pending_approval", "{'", '{"', "kb_refresh", "T0", ".000"):
        assert word not in text, word


def test_anonymous_visitor_is_refused(app_db, session):
    assert refused(page("alerts").run())


def test_viewer_sees_rules_in_plain_words_and_runner_state_but_cannot_edit(app_db, session):
    _seed_rules(session)
    at = page("alerts", token_for(app_db, "viewer")).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Job runner"] == "not running"
    assert "No job runner is alive" in at.warning[0].value
    assert not [b for b in at.button if b.label in ("Save rule", "Add rule", "Delete rule")]
    rules = next(df.value for df in at.dataframe if "Alert when" in df.value.columns)
    row = rules[rules["Rule"] == "Containment below 80 %"].iloc[0]
    assert row["Watches"] == "Containment" and row["Alert when"] == "below 80.0 %"
    assert row["Over"] == "1 h, widened up to 1 day for enough data"
    _no_json_or_internal_words(at)


def test_admin_edits_a_rule(app_db, session):
    _seed_rules(session)
    at = page("alerts", token_for(app_db, "admin")).run()
    assert not at.exception
    first = alerts.list_rules(session)[0]
    next(n for n in at.number_input if n.label == "Threshold").set_value(0.5)
    button(at, "Save rule").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert next(r for r in alerts.list_rules(s) if r["name"] == first["name"])["threshold"] == 0.5


def test_admin_adds_a_rule_that_fires_then_deletes_it(app_db, session):
    _seed_rules(session)
    seed_conversations(session, 12)
    at = page("alerts", token_for(app_db, "admin")).run()
    next(t for t in at.text_input if t.label.startswith("Short name")).set_value("busy_day")
    next(t for t in at.text_input if t.label == "Title" and not t.value).set_value("Busy day")
    next(s for s in at.selectbox if s.label == "Watch").set_value("conversations")
    next(s for s in at.selectbox if s.label == "Alert when the value" and s.value == "<").set_value(">")
    next(n for n in at.number_input if n.label.startswith("Threshold (rates")).set_value(1.0)
    next(n for n in at.number_input if n.label == "Window (minutes)" and n.value == 60).set_value(1440)
    button(at, "Add rule").click().run()
    assert not at.exception, at.exception
    with app_db.session() as s:
        rule = next(r for r in alerts.list_rules(s) if r["name"] == "busy_day")
        assert rule["metric"] == "conversations" and rule["threshold"] == 1.0
        tried = alerts.try_rule(s, "busy_day", get_settings(), SystemClock())
        assert tried["verdict"] == "fires"
    # the page tries it too, then the check (what the runner does every 5 minutes) fires it
    next(s for s in at.selectbox if s.label == "Rule").set_value("busy_day")
    button(at, "Try it now").click().run()
    assert any("Would fire" in e.value for e in at.error)
    with app_db.session() as s:
        fired = alerts.check_alerts(s, get_settings(), SystemClock(), Notifier(get_settings()))["fired"]
        s.commit()
    assert "busy_day" in fired
    st.cache_data.clear()  # the page caches its queries for a minute
    at = page("alerts", token_for(app_db, "admin", "admin-2")).run()
    assert any("Busy day" in w.value for w in at.warning)  # firing, shown with its severity
    history = next(df.value for df in at.dataframe if "What was seen" in df.value.columns)
    assert history.iloc[0]["Alert"] == "Busy day" and history.iloc[0]["State"] == "Firing"
    next(s for s in at.selectbox if s.label == "Rule").set_value("busy_day").run()
    next(c for c in at.checkbox if c.label.startswith("Delete")).check().run()
    button(at, "Delete rule").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert "busy_day" not in {r["name"] for r in alerts.list_rules(s)}


def test_admin_sees_the_job_queue_with_progress_and_cancels_a_run(app_db, session):
    with app_db.session() as s:
        run = queue.enqueue(s, "kb_refresh", {}, actor=SYSTEM)
        run.progress_done, run.progress_total, run.progress_message = 3, 12, "embedding chunks"
        s.commit()
        run_id = run.id
    at = page("alerts", token_for(app_db, "admin")).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Run"]) == [run_id] and table["Progress"][0] == 0.25
    assert table["Now"][0] == "embedding chunks" and table["Job"][0] == "KB refresh"
    assert table["Status"][0] == "Queued" and table["Done"][0] == "3 of 12"
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
