"""Metrics roll-up and dashboard query benchmark on SQLite and PostgreSQL.

Run: ``.venv/bin/python -m bench.metrics`` (``--only sqlite|postgresql``, ``--reload`` to rebuild
the data, ``--conversations N`` for a smaller run).

1. Bulk-loads 200,000 already-redacted synthetic conversations with 1,000,000 messages spread
   over the last 365 days (executemany on SQLite, COPY on PostgreSQL; not the scrubbing
   ingest), with outcome rows and weekly KB versions. Data already there is reused.
2. Rolls everything up once (the first roll-up after an upgrade).
3. Adds five minutes of new traffic (at ten times the average rate) and late CSAT answers for
   conversations of the last 30 days, then times ONE incremental roll-up (``rollup_s``).
4. Times the dashboard query (core.ops.metrics.dashboard, a fresh session each time) for 7, 30 and
   365 days: p50/p95 milliseconds (``query_ms``). Target p95 < 300 ms.

Results: bench/results/metrics.json. The databases stay for later benchmarks:
var/bench/metrics.db and the PostgreSQL database ``supportloop_bench_metrics``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "metrics.json"
SQLITE_PATH = ROOT / "var" / "bench" / "metrics.db"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB = "supportloop_bench_metrics"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"

CHANNELS = ("email", "sms", "web", "instagram", "facebook", "phone")
CHANNEL_WEIGHTS = (25, 20, 30, 10, 8, 7)
INTENTS = ("pricing", "availability", "menu", "travel_fee", "booking", "deposit", "dietary",
           "cancellation", "kids_price", "other")
REASONS = ("low_confidence", "customer_request", "complaint", "pricing_exception")
MODELS = ("gpt-4o-mini", "extractive")
TEXTS = {
    "user": ("How much is it per person for [PERSON]'s party?", "Do you travel to [LOCATION]?",
             "Can we book for Saturday the [DATE]?", "Is there a kids menu?", "Thanks!"),
    "assistant": ("Adults are $60 per person with a 10 person minimum.",
                  "We travel within 50 miles; travel fees start at $50.",
                  "Saturday is available; a $100 deposit holds the date.",
                  "Kids under 12 are $30 and get the same menu."),
    "agent": ("Hi, this is [PERSON] from the team, I can help with that.",),
}
MESSAGES_PER_CONVERSATION = 5
BATCH = 10_000


def _fmt(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, dt.datetime) else value


def generate(n_conversations: int, end: dt.datetime, seed: int = 8):
    """Batches of (conversations, outcomes, messages) rows with explicit ids, deterministic."""
    start = end - dt.timedelta(days=365)
    span = (end - start).total_seconds()
    msg_id = 0
    for first in range(0, n_conversations, BATCH):
        rng = random.Random(seed * 1_000_003 + first)
        convs, outs, msgs = [], [], []
        for cid in range(first + 1, min(first + BATCH, n_conversations) + 1):
            created = start + dt.timedelta(seconds=rng.random() * span)
            convs_row, out_row, rows = _conversation(rng, cid, created, msg_id,
                                                     updated=min(created + dt.timedelta(minutes=30), end))
            msg_id += len(rows)
            convs.append(convs_row)
            outs.append(out_row)
            msgs.extend(rows)
        yield convs, outs, msgs


def _conversation(rng: random.Random, cid: int, created: dt.datetime, msg_id: int, updated=None):
    channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    r = rng.random()
    status = "closed" if r < 0.85 else "escalated" if r < 0.95 else "ai"
    escalated = status == "escalated" or (status == "closed" and rng.random() < 0.08)
    frt = rng.lognormvariate(2.5, 1.0) if channel != "email" else rng.lognormvariate(6.0, 1.2)
    intent = rng.choice(INTENTS) if rng.random() > 0.05 else None
    model = MODELS[0] if rng.random() < 0.7 else MODELS[1]
    booked = rng.random() < 0.12
    csat = rng.choices((1, 2, 3, 4, 5), (3, 4, 10, 35, 48))[0] if rng.random() < 0.25 else None
    down = 1 if rng.random() < 0.05 else 0
    contained = status == "closed" and not escalated
    touched = updated or created + dt.timedelta(minutes=30)
    conv = {
        "id": cid, "external_id": f"bench-{cid}", "channel": channel, "external_user_id": f"u{cid % 90_000}",
        "status": status, "channel_metadata": "{}", "created_at": created,
        "first_response_at": created + dt.timedelta(seconds=frt),
        "escalated_at": created + dt.timedelta(minutes=3) if escalated else None,
        "closed_at": created + dt.timedelta(minutes=20) if status == "closed" else None,
        "escalation_reason": rng.choice(REASONS) if escalated else None,
        "intent": intent, "updated_at": touched,
    }
    rows = []
    cost = 0.0
    at = created
    for k in range(MESSAGES_PER_CONVERSATION):
        role = "user" if k % 2 == 0 else "assistant"
        if k == MESSAGES_PER_CONVERSATION - 1 and escalated:
            role = "agent"
        gap = dt.timedelta(seconds=rng.randint(20, 600))
        at = created + dt.timedelta(seconds=frt) if k == 1 else at + gap
        c = round(rng.uniform(0.0005, 0.004), 6) if role == "assistant" and model == MODELS[0] else None
        cost += c or 0.0
        rows.append({
            "id": msg_id + k + 1, "conversation_id": cid, "role": role,
            "redacted_content": rng.choice(TEXTS[role]), "pii_entity_types": "[]",
            "safe_for_training": True, "human_edited": False,
            "confidence": round(rng.random(), 3) if role == "assistant" else None,
            "model_used": model if role == "assistant" else None,
            "latency_ms": round(rng.uniform(200, 2500), 1) if role == "assistant" else None,
            "cost_usd": c, "created_at": at,
        })
    out = {
        "conversation_id": cid, "booking_converted": booked,
        "booking_value_usd": round(rng.uniform(400, 2500), 2) if booked else None,
        "successful_outcome": booked or (contained and not down and (csat is None or csat >= 4)),
        "csat": csat, "down_votes": down, "first_response_time_seconds": round(frt, 3),
        "total_cost_usd": round(cost, 6), "updated_at": touched,
    }
    return conv, out, rows


def _kb_versions(end: dt.datetime) -> list[dict]:
    rows = []
    for i in range(53):
        at = end - dt.timedelta(days=365) + dt.timedelta(days=7 * i)
        rows.append({
            "id": i + 1, "status": "active" if i == 52 else "retired", "model_id": "minilm", "dim": 384,
            "index_kind": "exact", "index_file": f"kb-{i + 1}.faiss", "checksum": "0" * 64,
            "file_size": 0, "chunk_count": 80, "embedded_count": 3, "built_by": "bench", "reason": "",
            "created_at": at, "activated_at": at,
        })
    return rows


# --- loading ----------------------------------------------------------------------------------
def _fill(table, rows: list[dict]) -> list[str]:
    """Column names to insert: the given ones plus NOT NULL columns that only have a Python
    default (added by later issues), which are filled in place."""
    cols = list(rows[0])
    for col in table.columns:
        if col.name in cols or col.nullable or col.server_default is not None or col.default is None:
            continue
        arg = col.default.arg
        value = arg(None) if callable(arg) else arg
        if isinstance(value, dict | list):
            value = json.dumps(value)
        for r in rows:
            r[col.name] = value
        cols.append(col.name)
    return cols


def _tables():
    from core.platform.models import Conversation, ConversationOutcome, KBVersion, Message

    return Conversation.__table__, ConversationOutcome.__table__, Message.__table__, KBVersion.__table__


def load_sqlite(engine, n: int, end: dt.datetime, progress) -> None:
    conv_t, out_t, msg_t, kb_t = _tables()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")

        def put(table, rows):
            cols = _fill(table, rows)
            sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
            cur.executemany(sql, [tuple(_fmt(r[c]) for c in cols) for r in rows])

        put(kb_t, _kb_versions(end))
        for convs, outs, msgs in generate(n, end):
            put(conv_t, convs)
            put(out_t, outs)
            put(msg_t, msgs)
            raw.commit()
            progress(len(convs))
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_postgresql(engine, n: int, end: dt.datetime, progress) -> None:
    conv_t, out_t, msg_t, kb_t = _tables()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def put(table, rows):
            cols = _fill(table, rows)
            with cur.copy(f'COPY "{table.name}" ({", ".join(cols)}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row(tuple(r[c] for c in cols))

        put(kb_t, _kb_versions(end))
        for convs, outs, msgs in generate(n, end):
            put(conv_t, convs)
            put(out_t, outs)
            put(msg_t, msgs)
            raw.commit()
            progress(len(convs))
        for table in ("conversation", "message", "kb_version"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()


def new_traffic(factory, end: dt.datetime, seed: int = 99) -> dict:
    """Five minutes of conversations at ten times the average rate, and late CSAT answers
    (Core inserts of the bench's own columns, so columns later issues add do not matter)."""
    from sqlalchemy import insert, update

    from core.platform.models import Conversation, ConversationOutcome, Message

    rng = random.Random(seed)
    n_new, n_msgs = 20, 0
    with factory() as s:
        for i in range(n_new):
            created = end - dt.timedelta(seconds=rng.uniform(0, 300))
            c, o, msgs = _conversation(rng, 0, created, 0, updated=end)
            c.pop("id")
            c["external_id"] = f"bench-new-{end.isoformat()}-{i}"
            c["channel_metadata"] = {}
            cid = s.execute(insert(Conversation.__table__).values(**c).returning(Conversation.id)).scalar()
            o["conversation_id"] = cid
            s.execute(insert(ConversationOutcome.__table__).values(**o))
            for row in msgs:
                row.pop("id")
                row.update(conversation_id=cid, pii_entity_types=[])
                s.execute(insert(Message.__table__).values(**row))
                n_msgs += 1
        # late CSAT answers for 20 conversations of the last 30 days
        recent = s.scalars(
            select(Conversation.id).where(Conversation.created_at >= end - dt.timedelta(days=30))
            .order_by(Conversation.id).limit(2000)
        ).all()
        late = rng.sample(list(recent), 20)
        for cid in late:
            s.execute(update(ConversationOutcome.__table__)
                      .where(ConversationOutcome.__table__.c.conversation_id == cid)
                      .values(csat=rng.randint(1, 5), updated_at=end))
        s.commit()
    return {"new_conversations": n_new, "new_messages": n_msgs, "late_csat": len(late)}


# --- the run --------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def bench_backend(name: str, url: str, n: int, reload: bool, repeats: int) -> dict:
    from tqdm import tqdm

    from core.ops import metrics
    from core.ops.rollup import rollup
    from core.platform.clock import FixedClock, SystemClock
    from core.platform.db import make_engine, session_factory, upgrade
    from core.platform.models import Conversation, Message

    if name == "sqlite":
        if reload and SQLITE_PATH.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    else:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": PG_DB}).first()
            if reload and exists:
                conn.execute(text(f'DROP DATABASE "{PG_DB}" WITH (FORCE)'))
                exists = None
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    result: dict = {"url": url.replace(str(ROOT) + "/", "")}
    with factory() as s:
        have = s.scalar(select(func.count()).select_from(Conversation))
    # the data ends "now"; an existing data set is reused with its own end time
    end = SystemClock().now().replace(microsecond=0)
    if have < n:
        if have:
            raise SystemExit(f"{name}: {have} conversations already there; run with --reload.")
        print(f"[{name}] loading {n:,} conversations / {n * MESSAGES_PER_CONVERSATION:,} messages ...")
        t0 = time.perf_counter()
        with tqdm(total=n, unit="conv", desc=f"{name} load") as bar:
            (load_sqlite if name == "sqlite" else load_postgresql)(engine, n, end, bar.update)
        result["load_s"] = round(time.perf_counter() - t0, 1)
    else:
        with factory() as s:
            end = max(end, s.scalar(select(func.max(Conversation.created_at))) + dt.timedelta(seconds=1))
    if name == "postgresql":  # fresh statistics (and a visibility map) for the planner
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with factory() as s:
        result["rows"] = {"conversations": s.scalar(select(func.count()).select_from(Conversation)),
                          "messages": s.scalar(select(func.count()).select_from(Message))}

    clock = FixedClock(end)
    t0 = time.perf_counter()
    with factory() as s:
        full = rollup(s, clock, full=True)
        s.commit()
    result["full_rollup_s"] = round(time.perf_counter() - t0, 2)
    result["full_rollup_days"] = full["days_rebuilt"]
    print(f"[{name}] full roll-up (as after an upgrade): {result['full_rollup_s']} s, "
          f"{full['days_rebuilt']} days")

    clock.advance(minutes=5)
    result["new_traffic"] = new_traffic(factory, clock.now())
    clock.advance(seconds=5)
    t0 = time.perf_counter()
    with factory() as s:
        inc = rollup(s, clock)
        s.commit()
    result["rollup_s"] = round(time.perf_counter() - t0, 3)
    result["rollup_days_rebuilt"] = inc["days_rebuilt"]
    print(f"[{name}] incremental roll-up after 5 minutes of traffic: {result['rollup_s']} s "
          f"({inc['days_rebuilt']} days rebuilt)")

    result["query_ms"] = {}
    for days in (7, 30, 365):
        times = []
        for i in range(repeats + 3):
            t0 = time.perf_counter()
            with factory() as s:
                board = metrics.dashboard(s, days, clock=clock)
            if i >= 3:  # the first three warm caches
                times.append((time.perf_counter() - t0) * 1000)
        result["query_ms"][str(days)] = {"p50": round(statistics.median(times), 1),
                                         "p95": round(_pct(times, 0.95), 1)}
        result.setdefault("conversations_in_period", {})[str(days)] = board["kpis"]["conversations"]["value"]
        print(f"[{name}] dashboard {days:>3} days: p50 {result['query_ms'][str(days)]['p50']} ms, "
              f"p95 {result['query_ms'][str(days)]['p95']} ms")
    with factory() as s:
        result["rollup_rows"] = {
            t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("metric_bucket", "metric_day", "metric_split", "metric_escalation")
        }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--reload", action="store_true", help="drop and reload the bench data")
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=40, help="timed dashboard queries per period")
    args = parser.parse_args()
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    targets = {"sqlite": f"sqlite:///{SQLITE_PATH}", "postgresql": PG_URL}
    for name, url in targets.items():
        if args.only and name != args.only:
            continue
        out[name] = bench_backend(name, url, args.conversations, args.reload, args.repeats)
    out["target"] = {"query_p95_ms": 300}
    out["data"] = {"conversations": args.conversations,
                   "messages": args.conversations * MESSAGES_PER_CONVERSATION, "days": 365}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    print(f"bench databases kept for later benchmarks: {SQLITE_PATH} and {PG_URL}")


if __name__ == "__main__":
    main()
