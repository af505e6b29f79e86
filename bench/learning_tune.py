"""The learning benchmark's settings, tuned on a validation split of train.csv (never test.csv).

``split(data, ...)`` holds out ``val_share`` of each intent's training questions as the
validation split (they never arrive as traffic and never enter a KB) and picks ``oos_intents``
intents as out-of-scope for the out-of-scope variant (their questions never enter that
variant's KB or traffic). ``tune(...)`` then chooses the decision settings on the validation
split with the product's own decision (``core.knowledge.confidence.decide``) over the chunks of
a KB of the remaining training questions (what the learning loop's KB tends to):

- for each method / k / temperature / relevance floor and ceiling of a small grid, validation
  accuracy@1 and the lowest threshold whose answered precision on the validation questions is
  >= ``precision``; the setting with the best accuracy wins (ties: more containment): the
  closed-world variants run with it;
- on a KB without the out-of-scope intents, for each setting the lowest threshold that
  escalates ``oos_escalation`` of their validation questions (train.csv questions of intents the
  KB does not hold); the one that contains the most in-scope questions wins: the
  ``out_of_scope`` variant runs with it.

All numbers here are validation numbers; the benchmark reports the test split weekly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from bench.learning_sim import Banking77, answer_text
from core.knowledge.confidence import decide

GRID = [("vote", k, t, f, c) for k in (5, 10) for t in (0.02, 0.05) for f, c in ((0.25, 0.65), (0.5, 0.9))]
GRID += [("margin", 5, 0.05, 0.25, 0.65)]
THRESHOLDS = [round(float(x), 2) for x in np.arange(0.30, 0.96, 0.05)]


def chunk_title(question: str, limit: int = 300) -> str:
    """A question as a chunk title (cut like ``core.knowledge.chunks.propose_chunk`` cuts long ones)."""
    return question if len(question) <= limit else question[: limit - 1].rstrip() + "…"


@dataclass
class Split:
    train: list[int]  # rows of data.train used by the benchmark (traffic, seeds, gate)
    val: list[int]  # validation rows (tuning only)
    oos: list[str]  # out-of-scope intents of the out-of-scope variant


def split(data: Banking77, *, seed: int, val_share: float = 0.1, oos_intents: int = 20) -> Split:
    """Per intent, ``val_share`` of its training questions to validation; ``oos_intents``
    intents (seeded choice) out of scope."""
    rng = random.Random(seed * 7919 + 1)
    by_intent: dict[str, list[int]] = {}
    for i, (_, y) in enumerate(data.train):
        by_intent.setdefault(y, []).append(i)
    val: list[int] = []
    for y in data.intents:
        rows = by_intent.get(y, [])[:]
        rng.shuffle(rows)
        val += rows[: max(1, round(len(rows) * val_share))] if len(rows) > 4 else []
    held = set(val)
    oos = sorted(rng.sample(list(data.intents), min(oos_intents, max(0, len(data.intents) - 2))))
    return Split([i for i in range(len(data.train)) if i not in held], sorted(val), oos)


@dataclass
class _Hit:
    score: float
    category: str


class _St:
    """The decision settings ``decide`` reads (the product's defaults for the rest)."""

    def __init__(self, base, method: str, k: int, temperature: float, floor: float, ceiling: float):
        self.kb_score_floor, self.kb_score_ceiling = floor, ceiling
        self.kb_margin_scale = base.kb_margin_scale
        self.kb_confidence_method, self.kb_search_k, self.kb_vote_temperature = method, k, temperature


def _decisions(kb_vecs, kb_cats, q_vecs, method, k, temperature, floor, ceiling,
               base) -> tuple[np.ndarray, list]:
    st = _St(base, method, k, temperature, floor, ceiling)
    scores = q_vecs @ kb_vecs.T
    top = np.argsort(-scores, axis=1)[:, :k]
    conf, cats = [], []
    for i in range(len(q_vecs)):
        d = decide([_Hit(float(scores[i, j]), kb_cats[j]) for j in top[i]], st)
        conf.append(d.confidence)
        cats.append(d.category)
    return np.array(conf), cats


def _threshold_for_precision(conf, right, precision) -> float:
    for t in THRESHOLDS:
        ans = conf >= t
        if ans.any() and right[ans].mean() >= precision:
            return t
    return THRESHOLDS[-1]


def tune(data: Banking77, sp: Split, embedder, base_settings, *, precision: float = 0.95,
         oos_escalation: float = 0.85) -> dict:
    """The tuned decision settings and the validation numbers behind them."""
    kb_rows = sp.train
    kb_text = [f"{chunk_title(data.train[i][0])}\n{answer_text(data.train[i][1])}" for i in kb_rows]
    kb_vecs = embedder.encode(kb_text)
    kb_cats = [data.train[i][1] for i in kb_rows]
    val_q = embedder.encode([data.train[i][0] for i in sp.val])
    val_y = [data.train[i][1] for i in sp.val]
    oos = set(sp.oos)
    keep = [j for j, c in enumerate(kb_cats) if c not in oos]
    o_idx = [n for n, y in enumerate(val_y) if y in oos]
    i_idx = [n for n, y in enumerate(val_y) if y not in oos]
    rows, oos_rows = [], []
    for method, k, t, floor, ceiling in GRID:
        conf, cats = _decisions(kb_vecs, kb_cats, val_q, method, k, t, floor, ceiling, base_settings)
        right = np.array([c == y for c, y in zip(cats, val_y, strict=True)])
        thr = _threshold_for_precision(conf, right, precision)
        setting = {"method": method, "k": k, "temperature": t, "floor": floor, "ceiling": ceiling}
        rows.append(setting | {"threshold": thr, "val_accuracy": round(float(right.mean()), 4),
                               "val_containment": round(float((conf >= thr).mean()), 4)})
        if not o_idx or not i_idx:
            continue
        # out of scope: a KB without the held-out intents; their validation questions must escalate
        conf, cats = _decisions(kb_vecs[keep], [kb_cats[j] for j in keep], val_q, method, k, t, floor,
                                ceiling, base_settings)
        ok = [x for x in THRESHOLDS if (conf[o_idx] < x).mean() >= oos_escalation]
        if ok:
            thr = ok[0]
            ins_right = np.array([cats[n] == val_y[n] for n in i_idx])
            ins_ans = conf[i_idx] >= thr
            oos_rows.append(setting | {
                "threshold": thr, "oos_escalation": round(float((conf[o_idx] < thr).mean()), 4),
                "in_scope_accuracy": round(float(ins_right.mean()), 4),
                "in_scope_containment": round(float(ins_ans.mean()), 4),
                "in_scope_answered_precision": (round(float(ins_right[ins_ans].mean()), 4)
                                                if ins_ans.any() else None),
            })
    best = max(rows, key=lambda r: (r["val_accuracy"], r["val_containment"]))
    best_oos = max(oos_rows, key=lambda r: r["in_scope_containment"]) if oos_rows else None
    return {
        "kb_confidence_method": best["method"],
        "kb_search_k": best["k"],
        "kb_vote_temperature": best["temperature"],
        "kb_score_floor": best["floor"],
        "kb_score_ceiling": best["ceiling"],
        "kb_escalation_threshold": best["threshold"],
        "out_of_scope": best_oos,
        "validation": {"questions": len(sp.val), "grid": rows, "out_of_scope_grid": oos_rows,
                       "oos_intents": sp.oos},
    }
