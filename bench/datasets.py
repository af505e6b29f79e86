"""Benchmark of the dataset builder and the local fine-tune (issue 6).

Bulk-inserts 50,000 synthetic training examples (varied intents, sources, ratings and quality;
some inactive, unverified, low-rated or near-duplicate) into a fresh SQLite database, builds a
chat dataset from them with the real PII scrubber (default filters, so at most
``dataset_max_examples`` = 10,000 are sampled, re-scrubbed, tokenised and written) and times it.
Then one local fine-tune epoch (MultipleNegativesRankingLoss, CPU) on 2,000 question/answer
pairs. Prints the numbers and writes bench/results/datasets.json:
``{"examples", "seconds", "examples_per_s", "skipped": {reason: count}, "local_finetune_epoch_s"}``
(plus details). Run: ``.venv/bin/python -m bench.datasets [--examples N] [--pairs N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sqlalchemy import insert  # noqa: E402

from core.platform.actors import SYSTEM  # noqa: E402
from core.platform.clock import FixedClock  # noqa: E402
from core.platform.config import Settings  # noqa: E402
from core.platform.db import make_engine, session_factory, upgrade  # noqa: E402
from core.platform.models import TrainingExample  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "datasets.json"
NOW = dt.datetime(2026, 6, 30, 12, 0)
CITIES = [
    "San Jose",
    "Fremont",
    "Oakland",
    "Napa",
    "Sacramento",
    "Palo Alto",
    "Gilroy",
    "Davis",
    "Tracy",
    "Santa Cruz",
    "Berkeley",
    "Monterey",
    "Vallejo",
    "Modesto",
    "Petaluma",
]
PROTEINS = ["chicken", "steak", "shrimp", "salmon", "scallops", "tofu", "filet mignon", "lobster tail"]
DAYS = ["Saturday", "Sunday", "Friday", "a weekday", "Memorial Day", "the Fourth of July", "New Year's Eve"]
EVENTS = ["birthday", "graduation", "wedding shower", "company picnic", "anniversary", "retirement party"]


def _pair(rng: random.Random, i: int) -> tuple[str, str, str]:
    adults, kids = rng.randint(6, 60), rng.randint(0, 12)
    city, protein, day, event = rng.choice(CITIES), rng.choice(PROTEINS), rng.choice(DAYS), rng.choice(EVENTS)
    kind = i % 5
    if kind == 0:
        return (
            "pricing",
            f"How much would a {event} for {adults} adults and {kids} kids cost on {day}?",
            f"For {adults} adults at $60 and {kids} kids at $30 the food total is "
            f"${max(600, adults * 60 + kids * 30):,}; the party minimum is $600 and a $100 deposit "
            f"holds {day}.",
        )
    if kind == 1:
        fee = rng.choice([0, 50, 100, 150])
        return (
            "travel",
            f"Do you travel to {city} for a {event}, and is there a fee for {adults} guests?",
            f"Yes, we cover {city}: the travel fee there is ${fee}, added to the food total for your "
            f"{adults} guests.",
        )
    if kind == 2:
        return (
            "menu",
            f"Can we add {protein} for {adults} people at our {event}?",
            f"Absolutely: {protein} is a ${rng.choice([5, 10, 15])} upgrade per person, so {adults} guests "
            f"would add ${adults * rng.choice([5, 10, 15]):,} to the order.",
        )
    if kind == 3:
        return (
            "booking",
            f"Is {day} still open for {adults} guests in {city}? It's a {event}.",
            f"{day} is available for {adults} guests in {city}. A $100 deposit through the booking link "
            f"holds the date; the balance is due on the day of the {event}.",
        )
    return (
        "policy",
        f"If we cancel the {event} {rng.randint(2, 30)} days before, do we get the deposit back?",
        f"The $100 deposit is refundable up to 7 days before the event; after that it can move to a new "
        f"date once within {rng.choice([3, 6, 12])} months.",
    )


def synthetic_rows(n: int, seed: int = 5) -> list[dict]:
    """``n`` example rows: ~6 % inactive, ~5 % unverified, ~4 % low quality, ~3 % thumbs down,
    ~5 % exact repeats of an earlier example (near-duplicates), the rest good."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        intent, q, a = _pair(rng, i)
        if rows and rng.random() < 0.05:
            prev = rows[rng.randrange(len(rows))]
            intent, q, a = prev["intent"], prev["question"] + " Thanks!", prev["answer"]
        roll = rng.random()
        rows.append(
            {
                "question": q,
                "answer": a,
                "intent": intent,
                "source": rng.choice(["approved", "approved", "edited", "imported", "generated"]),
                "human_verified": roll >= 0.05,
                "quality_score": 0.5 if 0.05 <= roll < 0.09 else 0.9,
                "rating": -1 if 0.09 <= roll < 0.12 else rng.choice([None, None, 1]),
                "led_to_booking": rng.random() < 0.3,
                "channel": rng.choice(["email", "sms", "web", "instagram"]),
                "active": not (0.12 <= roll < 0.18),
                "source_message_ids": [],
                "tags": [],
                "voice": False,
                "created_by": "bench",
                "created_at": NOW - dt.timedelta(minutes=i),
            }
        )
    return rows


def bench_build(n: int, workdir: Path) -> dict:
    from core.platform.pii import get_scrubber
    from core.training.builder import build_dataset

    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    settings = Settings(_env_file=None, database_url=url, data_dir=workdir / "var", index_dir=workdir / "idx")
    t0 = time.perf_counter()
    rows = synthetic_rows(n)
    with factory() as s:
        for i in range(0, len(rows), 5000):
            s.execute(insert(TrainingExample), rows[i : i + 5000])
        s.commit()
    insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scrubber = get_scrubber(settings)
    scrubber.scrub("warm up the pipeline, call 408-555-0100")
    load_s = time.perf_counter() - t0
    with factory() as s:
        t0 = time.perf_counter()
        d = build_dataset(s, settings, scrubber, actor=SYSTEM, clock=FixedClock(NOW))
        s.commit()
        seconds = time.perf_counter() - t0
    engine.dispose()
    return {
        "examples": n,
        "seconds": round(seconds, 2),
        "examples_per_s": round(n / seconds, 1),
        "skipped": d.skipped,
        "written": d.examples,
        "train": d.train_examples,
        "validation": d.validation_examples,
        "tokens": d.tokens,
        "token_counter": d.token_counter,
        "texts_scrubbed": d.counts["texts_scrubbed"],
        "stage_seconds": d.counts["stage_seconds"],
        "insert_s": round(insert_s, 2),
        "scrubber_load_s": round(load_s, 2),
        "database": "sqlite",
    }


def bench_local_epoch(pairs: int, workdir: Path) -> dict:
    from core.training.finetune.local_provider import base_model_path, train_embedding_model

    rng = random.Random(11)
    data = [_pair(rng, i)[1:] for i in range(pairs)]
    t0 = time.perf_counter()
    facts = train_embedding_model(
        data, base_model_path(Settings(_env_file=None)), workdir / "model", epochs=1, batch_size=32
    )
    return {
        "local_finetune_epoch_s": round(time.perf_counter() - t0, 2),
        "local_finetune_pairs": pairs,
        "local_finetune_batch_size": 32,
        "local_finetune_train_loss": facts["train_loss"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=50_000)
    p.add_argument("--pairs", type=int, default=2_000)
    p.add_argument("--skip-finetune", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        out = bench_build(args.examples, Path(tmp))
        print(
            f"build: {out['examples']:,} examples in {out['seconds']}s ({out['examples_per_s']}/s), "
            f"{out['written']:,} written, {out['texts_scrubbed']:,} texts scrubbed; skipped {out['skipped']}"
        )
        if not args.skip_finetune:
            out.update(bench_local_epoch(args.pairs, Path(tmp)))
            print(f"local fine-tune: 1 epoch on {args.pairs:,} pairs in {out['local_finetune_epoch_s']}s")
        elif RESULTS.exists():  # keep the last measured fine-tune figures
            old = json.loads(RESULTS.read_text(encoding="utf-8"))
            out.update({k: v for k, v in old.items() if k.startswith("local_finetune")})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
