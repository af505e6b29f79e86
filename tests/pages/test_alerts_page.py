from core.ops import alerts
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
