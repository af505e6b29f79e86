"""The Experiments page's tables and words (UI only, no queries): experiments, the per-arm
comparison, its tests and the shadow report in plain words, times in the admin's time zone to
the minute, never raw JSON or internal status words."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.experiments.candidates import CandidateOption
from pages.format import NONE, plain, when

KINDS = {"kb_version": "Knowledge base version", "chat_model": "Chat model",
         "embedding_model": "Embedding model (with its KB version)"}
MODES = {"split": "Split traffic", "shadow": "Shadow (answers too, never sent)"}
RECOMMENDATIONS = {"PROMOTE": "Promote the candidate", "ROLLBACK": "Roll back to production",
                   "CONTINUE_TESTING": "Keep testing", "STOP": "Stopped without a winner"}
STATUSES = {"running": "Running", "promoted": "Promoted", "rolled_back": "Rolled back", "stopped": "Stopped"}
TESTS = {"containment": "Containment", "conversion": "Conversion", "csat": "CSAT (1-5)",
         "confidence": "Confidence", "error_rate": "Error rate", "composite": "Composite score"}


def pct(v: float | None) -> str:
    return NONE if v is None else f"{v:.1%}"


def num(v: float | None, digits: int = 2) -> str:
    return NONE if v is None else f"{v:,.{digits}f}"


def interval(ci: Any, fmt: Any = pct) -> str:
    lo, hi = (ci or (None, None))[:2]
    return "" if lo is None or hi is None else f" ({fmt(lo)} to {fmt(hi)})"


def option_label(o: CandidateOption) -> str:
    """A candidate as the start form lists it, with when it was made."""
    made = o.details.get("built_at")
    return o.label + (f", made {when(made)}" if made else "")


def experiments_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The experiment list (``rows``: id, name, kind, mode, status, share, labels, times, decision)."""
    out = []
    for r in rows:
        out.append({
            "#": r["id"], "Name": r["name"], "What is tested": KINDS.get(r["kind"], plain(r["kind"])),
            "How": "Shadow" if r["mode"] == "shadow" else "Split traffic",
            "Status": STATUSES.get(r["status"], plain(r["status"])), "Candidate share": f"{r['share']:.0%}",
            "Production": r["control"], "Candidate": r["candidate"], "Started": when(r["started"]),
            "Planned end": when(r["planned_end"]), "Decision": RECOMMENDATIONS.get(r["decision"] or "", NONE),
        })
    return pd.DataFrame(out)


def arm_table(cmp: dict[str, Any]) -> pd.DataFrame:
    """Production (control) and the candidate side by side, one row per metric."""
    c, t = cmp["control"], cmp["candidate"]
    rows = [("Users", str(c["users"]), str(t["users"])),
            ("Conversations", str(c["conversations"]), str(t["conversations"])),
            ("Containment", pct(c["containment"]) + interval(c["containment_ci"]),
             pct(t["containment"]) + interval(t["containment_ci"])),
            ("Conversion", pct(c["conversion"]) + interval(c["conversion_ci"]),
             pct(t["conversion"]) + interval(t["conversion_ci"])),
            ("CSAT (1-5)", num(c["csat"]) + interval(c["csat_ci"], num),
             num(t["csat"]) + interval(t["csat_ci"], num)),
            ("Average confidence", num(c["avg_confidence"], 3), num(t["avg_confidence"], 3)),
            ("Error rate", pct(c["error_rate"]), pct(t["error_rate"])),
            ("Average response time (s)", num(c["avg_response_seconds"], 1),
             num(t["avg_response_seconds"], 1)),
            ("Model cost (USD)", num(c["cost_usd"], 4), num(t["cost_usd"], 4))]
    return pd.DataFrame(rows, columns=["Metric", f"Production: {cmp['control_label']}",
                                       f"Candidate: {cmp['candidate_label']}"])


def tests_table(cmp: dict[str, Any]) -> pd.DataFrame:
    """Each metric's difference (candidate minus production) with its interval and p-value."""
    rows = []
    for name, t in cmp["tests"].items():
        if t.get("diff") is None:
            continue
        lo, hi = t.get("ci_low"), t.get("ci_high")
        verdict = "no clear difference yet"
        if t.get("significant"):
            verdict = "candidate better" if t.get("direction", 0) > 0 else "candidate worse"
        rows.append({"Metric": TESTS.get(name, plain(name)), "Difference": f"{t['diff']:+.3f}",
                     "95% interval": NONE if lo is None or hi is None else f"{lo:+.3f} to {hi:+.3f}",
                     "p-value (always valid)": num(t.get("p_value"), 4), "Verdict": verdict})
    return pd.DataFrame(rows, columns=["Metric", "Difference", "95% interval", "p-value (always valid)",
                                       "Verdict"])


def shadow_table(sh: dict[str, Any]) -> pd.DataFrame:
    """The shadow report: how the candidate's unsent answers compare with the sent ones."""
    ans, judged = sh.get("answered") or {}, sh.get("judgement") or {}
    latency = sh.get("avg_latency_ms") or {}
    rows = [("Shadow answers", f"{sh['shadow_answers']:,} from {sh['users']:,} users"),
            ("Questions answered (not handed over)",
             f"production {pct(ans.get('control'))}, candidate {pct(ans.get('candidate'))}"),
            ("Used the same first KB chunk", pct(sh.get("same_chunk_rate"))),
            ("Average text similarity to the sent answer", num(sh.get("avg_similarity"))),
            ("Candidate errors", pct(sh.get("error_rate"))),
            ("Judged by reviewers", f"{judged.get('judged', 0)}: {judged.get('wins', 0)} better, "
                                    f"{judged.get('losses', 0)} worse"),
            ("Average answer time (ms)", f"production {num(latency.get('control'), 0)}, "
                                         f"candidate {num(latency.get('candidate'), 0)}")]
    return pd.DataFrame(rows, columns=["What", "Value"])
