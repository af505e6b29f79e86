"""The alert rules tab of the Alerts and jobs page: the rules in plain words, try one now
(would it fire?), edit, add and delete (``edit_alerts`` right). UI only: ``core.ops.alerts``."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.ops import alerts, tasks
from core.platform.actors import Actor
from core.platform.clock import SystemClock
from core.platform.models import CHANNELS, SEVERITIES
from core.platform.statuses import AlertRuleKind
from pages.format import plain
from pages.resources import query, run_action, session, settings

COMPARE = {"<": "falls below", ">": "rises above"}
VERDICT = {"fires": st.error, "quiet": st.success, "not enough data": st.info}


def _window(r: dict[str, Any]) -> str:
    w, top = alerts.window_text(r["window_minutes"]), alerts.window_text(r["max_window_minutes"])
    return w if w == top else f"{w}, widened up to {top} for enough data"


def rules_table(rules: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Rule": r["title"], "Watches": alerts.metric_label(r["metric"]) if r["kind"] == AlertRuleKind.METRIC
        else "Event: " + r["metric"], "Alert when": alerts.condition_text(r), "Over": _window(r),
        "Channel": plain(r["channel"]) if r["channel"] else "every channel",
        "Needs at least": r["min_volume"],
        "Quiet after resolving": alerts.window_text(r["cooldown_minutes"]) if r["cooldown_minutes"] else "–",
        "Severity": plain(r["severity"]), "On": "yes" if r["enabled"] else "no",
    } for r in rules])


def rules_tab(user: Actor) -> None:
    clock = SystemClock()
    rules = query(alerts.list_rules)
    st.dataframe(rules_table(rules), hide_index=True, width="stretch")
    if not rules:
        st.caption("No rules yet: the job runner adds the default rules at its first check.")
    names = {r["name"]: r for r in rules}
    if rules:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        name = c1.selectbox("Rule", list(names), format_func=lambda n: names[n]["title"])
        if c2.button("Try it now", icon=":material/science:", help="Check the rule now without firing it"):
            with session() as s:
                got = alerts.try_rule(s, name, settings(), clock, tasks.job_health(s, settings(), clock))
            VERDICT[got["verdict"]](f"Would {'fire' if got['verdict'] == 'fires' else 'not fire'}"
                                    f"{' (not enough data)' if got['verdict'] == 'not enough data' else ''}: "
                                    f"{got['text']}")
        if user.can("edit_alerts"):
            _edit(names[name], clock, user)
    if user.can("edit_alerts"):
        _add(clock, user)


def _edit(r: dict[str, Any], clock: SystemClock, user: Actor) -> None:
    with st.form(f"rule-{r['name']}"):
        title = st.text_input("Title", r["title"])
        c = st.columns(6)
        comparison = c[0].selectbox("Alert when the value", list(COMPARE), format_func=COMPARE.get,
                                    index=list(COMPARE).index(r["comparison"]))
        threshold = c[1].number_input("Threshold", value=r["threshold"], format="%.4f")
        window = c[2].number_input("Window (minutes)", 1, r["max_window_minutes"], r["window_minutes"])
        cooldown = c[3].number_input("Quiet after resolving (minutes)", 0, value=r["cooldown_minutes"])
        severity = c[4].selectbox("Severity", SEVERITIES, index=SEVERITIES.index(r["severity"]),
                                  format_func=plain)
        enabled = c[5].checkbox("On", r["enabled"])
        if st.form_submit_button("Save rule", type="primary"):
            if run_action("Save rule", alerts.update_rule, r["name"], clock, actor=user, title=title,
                          comparison=comparison, threshold=threshold, window_minutes=int(window),
                          cooldown_minutes=int(cooldown), severity=severity, enabled=enabled):
                st.toast(f"Rule “{title}” saved")
                st.rerun()
    sure = st.checkbox(f"Delete “{r['title']}” and its alert history", key=f"del-{r['name']}")
    if st.button("Delete rule", disabled=not sure, icon=":material/delete:"):
        if run_action("Delete rule", alerts.delete_rule, r["name"], clock, actor=user):
            st.toast(f"Rule “{r['title']}” deleted")
            st.rerun()


def _add(clock: SystemClock, user: Actor) -> None:
    with st.expander("Add a rule", icon=":material/add_alert:"), st.form("new-rule", clear_on_submit=False):
        c = st.columns(3)
        name = c[0].text_input("Short name (letters, digits, _)", placeholder="sms_busy")
        title = c[1].text_input("Title", placeholder="More than 50 SMS conversations an hour")
        metric = c[2].selectbox("Watch", alerts.METRIC_NAMES, format_func=alerts.metric_label)
        d = st.columns(5)
        comparison = d[0].selectbox("Alert when the value", list(COMPARE), format_func=COMPARE.get)
        threshold = d[1].number_input("Threshold (rates as 0-1)", value=0.0, format="%.4f")
        window = d[2].number_input("Window (minutes)", 1, value=60)
        channel = d[3].selectbox("Channel", [None, *CHANNELS],
                                 format_func=lambda c: plain(c) if c else "every")
        severity = d[4].selectbox("Severity", SEVERITIES, index=1, format_func=plain)
        if st.form_submit_button("Add rule", type="primary"):
            made = run_action("Add rule", alerts.create_rule, clock, actor=user, name=name.strip(),
                              title=title.strip() or name.strip(), metric=metric, comparison=comparison,
                              threshold=threshold, window_minutes=int(window),
                              max_window_minutes=max(int(window), 1440), channel=channel, severity=severity)
            if made:
                st.toast(f"Rule “{made['title']}” added")
                st.rerun()
