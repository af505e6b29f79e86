from tests.factories.dashboard import page, refused, seed_conversations, token_for


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_anonymous_visitor_is_refused(app_db, session):
    at = page("overview").run()
    assert not at.exception and refused(at) and not at.metric


def test_viewer_sees_kpi_tiles_with_deltas_and_charts(app_db, session):
    seed_conversations(session, 12)
    at = page("overview", token_for(app_db, "viewer")).run()
    assert not at.exception
    tiles = _metrics(at)
    for label in ("Containment", "CSAT", "Conversion", "First response (p50)", "Cost per resolution",
                  "Feedback rate"):
        assert label in tiles
    assert tiles["Conversations"] == "12"
    assert tiles["CSAT"].endswith("/ 5")
    assert len(at.get("plotly_chart")) >= 3


def test_channel_filter_narrows_the_figures(app_db, session):
    seed_conversations(session, 12)
    at = page("overview", token_for(app_db, "viewer"), filter_channel="sms").run()
    assert not at.exception
    assert _metrics(at)["Conversations"] == "3"


def test_empty_database_says_what_to_do(app_db, session):
    at = page("overview", token_for(app_db, "admin")).run()
    assert not at.exception
    assert "No conversations in this period" in at.info[0].value
