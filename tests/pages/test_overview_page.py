import json
import re

from fastapi.testclient import TestClient

from api.main import create_app
from core.access import apikeys
from core.ops import alerts
from core.platform.clock import SystemClock
from core.platform.models import Alert, AlertRule
from core.platform.statuses import AlertState
from pages.figures import KPIS
from tests.factories import ADMIN
from tests.factories.dashboard import now, page, refused, seed_conversations, token_for


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_anonymous_visitor_is_refused(app_db, session):
    at = page("overview").run()
    assert not at.exception and refused(at) and not at.metric


def test_viewer_sees_kpi_tiles_with_deltas_trends_and_axis_titles(app_db, session):
    seed_conversations(session, 12)
    at = page("overview", token_for(app_db, "viewer")).run()
    assert not at.exception
    tiles = _metrics(at)
    for label in ("Containment", "CSAT", "Conversion", "First response (median)", "Model cost",
                  "Cost per resolution", "Feedback rate"):
        assert label in tiles
    assert tiles["Conversations"] == "12" and tiles["CSAT"].endswith("/ 5")
    charts = at.get("plotly_chart")
    assert len(charts) >= 3
    specs = [json.loads(c.proto.spec) for c in charts]
    axes = [v for s in specs for k, v in s["layout"].items() if k.startswith(("xaxis", "yaxis"))]
    titles = {a["title"]["text"] for a in axes if a.get("title")}
    assert {"Contained / closed (%)", "Seconds", "US dollars per day", "CSAT (1-5)", "Date"} <= titles
    assert all(a.get("title", {}).get("text") for a in axes)  # every axis says what it shows
    series = {t.get("name") for s in specs for t in s["data"]}
    assert "previous period" in series and not any("_" in (n or "") for n in series)
    caption = at.caption[0].value
    assert re.search(r"\(30 days\)", caption) and "compared with the previous period" in caption


def test_channel_filter_narrows_the_figures(app_db, session):
    seed_conversations(session, 12)
    at = page("overview", token_for(app_db, "viewer"), filter_channel="sms").run()
    assert not at.exception
    assert _metrics(at)["Conversations"] == "3"
    assert "the SMS channel" in at.caption[0].value


def test_empty_database_says_what_to_do(app_db, session):
    at = page("overview", token_for(app_db, "admin")).run()
    assert not at.exception
    assert "No conversations in this period" in at.info[0].value


def test_an_info_alert_is_shown_as_info_not_error(app_db, session):
    alerts.seed_default_rules(session, SystemClock())
    rule = session.query(AlertRule).filter_by(name="training_behind_pace").one()
    session.add(Alert(rule_id=rule.id, state=AlertState.FIRING, value=0.2, threshold=1.0, volume=1,
                      window_minutes=1440, message="2 approved, 10 expected", fired_at=now(), notified={},
                      details={}))
    session.commit()
    at = page("overview", token_for(app_db, "viewer")).run()
    assert not at.exception
    assert any(rule.title in i.value for i in at.info)
    assert not any(rule.title in e.value for e in at.error)


def test_the_overview_agrees_with_the_metrics_api(app_db, session, settings):
    seed_conversations(session, 12)
    _, key = apikeys.create_api_key(session, "read", "reader", actor=ADMIN)
    session.commit()
    with TestClient(create_app(settings)) as client:  # the API on the real clock, as the page
        api = client.get("/api/v1/ai/metrics/dashboard", params={"days": 30},
                         headers={"X-API-Key": key}).json()
    at = page("overview", token_for(app_db, "viewer")).run()
    tiles = _metrics(at)
    assert api["kpis"]["conversations"]["value"] == 12
    for name, k in KPIS.items():
        if k.label in tiles:
            assert tiles[k.label] == k.value(api["kpis"][name]["value"]), name
    table = at.dataframe[0].value  # by channel
    assert {r["Channel"].lower(): int(r["Conversations"]) for _, r in table.iterrows()} == {
        r["channel"]: r["conversations"] for r in api["by_channel"]}
