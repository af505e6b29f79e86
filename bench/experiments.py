"""Operating characteristics of the experiment decision rule (core.experiments.decision) on synthetic
traffic with daily looks.

Run: ``.venv/bin/python -m bench.experiments`` (``--runs N`` for the A/A runs, default 1000).

1. A/A (identical arms, containment 60 %): how often a run of 14 daily looks ends in PROMOTE
   (the false-promotion rate, must be <= alpha = 0.05) or in ROLLBACK, at 50/50 and at the
   default 10 % share, 300 users a day.
2. +5 points containment (60 % -> 65 %), 50/50, 300 users a day, up to 60 daily looks: users
   per arm when the run promotes (median, 80th percentile) and the share promoted by 14 days.
3. The textbook fixed-horizon sample size for +5 points (alpha 0.05 two-sided, power 0.8) and
   the planning estimate ``sequential_users_needed`` the comparison uses for "days needed".

Results: bench/results/experiments.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from core.experiments.decision import Recommendation, StatsConfig, simulate
from core.experiments.sequential import sequential_users_needed
from core.experiments.stats import fixed_sample_size_per_arm

RESULTS = Path(__file__).resolve().parent / "results" / "experiments.json"
BASE = {"containment": 0.6}


def aa(runs: int, share: float, cfg: StatsConfig, seed0: int) -> dict:
    out = [simulate(seed0 + s, days=14, users_per_day=300, share=share, control=BASE, candidate=BASE, cfg=cfg)
           for s in range(runs)]
    promoted = sum(r.recommendation == Recommendation.PROMOTE for r in out)
    rolled = sum(r.recommendation == Recommendation.ROLLBACK for r in out)
    rate = promoted / runs
    se = math.sqrt(max(rate * (1 - rate), 1e-9) / runs)
    return {"runs": runs, "share": share, "false_promotion_rate": round(rate, 4),
            "false_promotion_ci95": [round(max(rate - 1.96 * se, 0), 4), round(rate + 1.96 * se, 4)],
            "rollback_rate": round(rolled / runs, 4),
            "guardrail_rate": round(sum(r.guardrail for r in out) / runs, 4)}


def power(runs: int, cfg: StatsConfig) -> dict:
    out = [simulate(50_000 + s, days=60, users_per_day=300, share=0.5, control=BASE,
                    candidate={"containment": 0.65}, cfg=cfg) for s in range(runs)]
    at = sorted(min(r.users_per_arm) for r in out if r.recommendation == Recommendation.PROMOTE)
    by14 = sum(r.recommendation == Recommendation.PROMOTE and r.day <= 14 for r in out) / runs
    return {"runs": runs, "promoted": len(at) / runs, "promoted_by_day_14": round(by14, 3),
            "users_per_arm_at_promotion_median": int(np.median(at)) if at else None,
            "users_per_arm_at_promotion_p80": int(np.percentile(at, 80)) if at else None,
            "wrong_rollbacks": sum(r.recommendation == Recommendation.ROLLBACK for r in out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    args = ap.parse_args()
    cfg = StatsConfig(min_users_per_arm=100, bootstrap_samples=200)
    started = time.perf_counter()
    res = {"alpha": cfg.alpha, "mde": cfg.mde, "min_users_per_arm": cfg.min_users_per_arm,
           "aa_50_50": aa(args.runs, 0.5, cfg, 0), "aa_10pct": aa(args.runs // 2, 0.1, cfg, 100_000),
           "plus_5_points": power(200, cfg)}
    sd = math.sqrt(0.6 * 0.4)
    res["fixed_horizon_users_per_arm"] = fixed_sample_size_per_arm(0.6, 0.05, alpha=0.05, power=0.8)
    res["sequential_planning_users_per_arm"] = {
        "50_50": math.ceil(sequential_users_needed(sd, sd, 0.5, 0.05, tau=0.05, alpha=0.05) / 2),
        "10pct_candidate_arm": math.ceil(
            sequential_users_needed(sd, sd, 0.1, 0.05, tau=0.05, alpha=0.05) * 0.1),
    }
    res["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
