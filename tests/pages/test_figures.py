from pages.figures import KPIS, change, compact, period_text


def test_tiles_are_compact():
    assert compact(346_213.0, "usd") == "$346.2k"
    assert compact(2_500_000, "count") == "2.5M"
    assert compact(0.000123, "usd") == "$0.00012"
    assert compact(12.5, "usd") == "$12.50"
    assert compact(0.8251, "pct") == "82.5 %"
    assert compact(4.314, "score") == "4.31 / 5"
    assert compact(900, "seconds") == "15.0 min"
    assert compact(None, "pct") == "–"


def test_change_colours_say_better_or_worse():
    assert change(KPIS["conversations"], 0) == {"delta": 0, "delta_color": "off",
                                                "delta_description": "same as before"}
    assert change(KPIS["cost_usd"], -0.5) == {"delta": "-$0.50", "delta_color": "inverse"}
    assert change(KPIS["frt_p50_s"], 3.0) == {"delta": "+3 s", "delta_color": "inverse"}
    assert change(KPIS["containment_rate"], 0.025) == {"delta": "+2.5 pts", "delta_color": "normal"}
    assert change(KPIS["csat_avg"], -0.2)["delta"] == "-0.20"
    assert change(KPIS["csat_avg"], None) == {"delta": None}


def test_period_text():
    assert period_text("2026-11-07", "2026-12-06") == "7 Nov – 6 Dec 2026 (30 days)"
    assert period_text("2025-12-31", "2026-01-01") == "31 Dec 2025 – 1 Jan 2026 (2 days)"
    assert period_text("2026-01-01", "2026-01-01") == "1 Jan – 1 Jan 2026 (1 day)"
