"""Load test of the feedback endpoint: ``python -m bench.feedback_load``.

For SQLite (WAL, busy timeout) and PostgreSQL: seed conversations with answers, start the
API with uvicorn (``--workers`` = settings.api_workers) on loopback, then

1. an open-loop load of ``--rate`` votes/s for ``--seconds`` s (requests leave on a fixed
   schedule whatever the server does; latency counts from the scheduled send time, so a
   slow server cannot hide its queue): mostly distinct messages and voters, some exact
   replays and some changed votes;
2. a ramp (``--ramp`` rates, ``--step-seconds`` each) to find the highest rate whose p99
   stays under 50 ms.

Then it checks the database: every expected (message, voter) vote is stored once with its
final value (``stored``/``expected``), and the conversations' down-vote counts equal the
down votes stored (nothing double-counted). Prints the numbers and writes
bench/results/feedback_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text

from core import feedback
from core.config import Settings
from core.db import make_engine, upgrade
from core.models import Conversation, ConversationOutcome, Feedback, Message

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "feedback_load.json"
PG_ADMIN = os.environ.get("SUPPORTLOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, n: int) -> list[tuple[int, str]]:
    """``n`` closed conversations with a question and an answer; returns (answer id, voter)."""
    import datetime as dt

    engine = make_engine(url)
    t = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        convs = [
            {
                "channel": "email",
                "external_user_id": f"voter{i}@example.com",
                "status": "closed",
                "channel_metadata": {},
                "created_at": t,
                "updated_at": t,
            }
            for i in range(n)
        ]
        returning = insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True)
        ids = list(conn.scalars(returning, convs))
        common = {"pii_entity_types": [], "safe_for_training": True, "human_edited": False, "created_at": t}
        rows = []
        for cid in ids:
            rows.append(
                {
                    **common,
                    "conversation_id": cid,
                    "role": "user",
                    "raw_content": "How much?",
                    "redacted_content": "How much?",
                }
            )
            rows.append(
                {
                    **common,
                    "conversation_id": cid,
                    "role": "assistant",
                    "confidence": 0.9,
                    "raw_content": "$60 per adult.",
                    "redacted_content": "$60 per adult.",
                }
            )
        conn.execute(insert(Message), rows)
        conn.execute(
            insert(ConversationOutcome),
            [
                {
                    "conversation_id": cid,
                    "booking_converted": False,
                    "down_votes": 0,
                    "total_cost_usd": 0.0,
                    "successful_outcome": True,
                    "updated_at": t,
                }
                for cid in ids
            ],
        )
        answers = conn.execute(
            select(Message.id, Conversation.external_user_id)
            .join(Conversation)
            .where(Message.role == "assistant")
            .order_by(Message.id)
        ).all()
    engine.dispose()
    return [(a, v) for a, v in answers]


def plan(answers: list[tuple[int, str]], count: int, rng: random.Random, settings: Settings):
    """``count`` vote requests: ~80 % first votes on distinct messages (each by its
    conversation's user), ~10 % exact replays and ~10 % changed votes of a request sent at
    least 400 requests earlier. Returns the requests in send order and the expected final
    vote per (message, voter) (the last one sent)."""
    pool = list(answers)
    rng.shuffle(pool)
    sigs: dict[tuple[int, str, str], str] = {}

    def req(mid: int, voter: str, vote: str) -> dict:
        key = (mid, voter, vote)
        if key not in sigs:
            sigs[key] = feedback.sign_vote(settings, mid, voter, vote)
        return {"message_id": mid, "vote": vote, "sig": sigs[key], "voter": voter}

    reqs: list[dict] = []
    fresh = 0
    for i in range(count):
        r = rng.random()
        if i > 400 and r < 0.2:
            old = reqs[rng.randrange(0, i - 400)]
            if r < 0.1:
                reqs.append(dict(old))  # an exact replay
            else:
                reqs.append(req(old["message_id"], old["voter"], "down" if old["vote"] == "up" else "up"))
        else:
            mid, voter = pool[fresh % len(pool)]
            fresh += 1
            reqs.append(req(mid, voter, "down" if rng.random() < 0.3 else "up"))
    final = {(q["message_id"], q["voter"]): q["vote"] for q in reqs}
    return reqs, final


async def open_loop(base: str, reqs: list[dict], rate: float) -> dict:
    """Send ``reqs`` at ``rate`` per second on a fixed schedule; latency from the schedule."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        # warm the connection pool a little
        await asyncio.gather(*(client.get("/healthz") for _ in range(20)))

        async def one(at: float, payload: dict) -> None:
            nonlocal errors
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {k: v for k, v in payload.items() if k != "voter"}
            try:
                resp = await client.post("/api/v1/ai/feedback", json=body)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append((time.perf_counter() - at) * 1000)

        start = time.perf_counter() + 0.2
        tasks = [asyncio.create_task(one(start + i / rate, q)) for i, q in enumerate(reqs)]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2) if latencies else 0.0

    return {
        "rps": round(len(reqs) / elapsed, 1),
        "target_rps": rate,
        "sent": len(reqs),
        "ok": statuses.get(200, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
    }


def check_db(url: str, final: dict[tuple[int, str], str]) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Feedback.message_id, Feedback.voter, Feedback.vote)).all()
        found = {(m, v): vote for m, v, vote in rows}
        downs = conn.scalar(select(func.count()).select_from(Feedback).where(Feedback.vote == "down"))
        counted = conn.scalar(select(func.coalesce(func.sum(ConversationOutcome.down_votes), 0)))
    engine.dispose()
    return {
        "expected": len(final),
        "stored": sum(1 for k in final if k in found),
        "rows": len(rows),
        "lost": sum(1 for k in final if k not in found),
        "wrong_final_vote": sum(1 for k, v in final.items() if found.get(k) not in (None, v)),
        "double_counted": int(counted) - int(downs),
    }


def start_api(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=url,
        SUPPORTLOOP_SECRET_KEY=SECRET,
        SUPPORTLOOP_DATA_DIR=str(data_dir),
        SUPPORTLOOP_INDEX_DIR=str(data_dir / "indexes"),
        HF_HUB_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        TOKENIZERS_PARALLELISM="false",
    )
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the API exited during start-up")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the API did not start within 60 s")


def run_backend(name: str, url: str, args, settings: Settings, data_dir: Path) -> dict:
    upgrade(url)
    answers = seed(url, args.conversations)
    rng = random.Random(args.seed)
    proc, base = start_api(url, data_dir, args.workers)
    try:
        reqs, final = plan(answers, int(args.rate * args.seconds), rng, settings)
        main = asyncio.run(open_loop(base, reqs, args.rate))
        main.update(check_db(url, final))
        print(
            f"[{name}] {args.rate:.0f}/s x {args.seconds}s: p50 {main['p50_ms']} ms, "
            f"p99 {main['p99_ms']} ms, sent {main['sent']}, ok {main['ok']}, "
            f"stored {main['stored']}/{main['expected']}, "
            f"lost {main['lost']}, double-counted {main['double_counted']}",
            flush=True,
        )
        ramp, best = [], 0.0
        for rate in args.ramp:
            reqs, _ = plan(answers, int(rate * args.step_seconds), rng, settings)
            step = asyncio.run(open_loop(base, reqs, rate))
            ramp.append(step)
            good = step["p99_ms"] < 50 and step["errors"] == 0 and step["ok"] == step["sent"]
            print(
                f"[{name}] ramp {rate:.0f}/s: achieved {step['rps']}/s, p99 {step['p99_ms']} ms"
                + ("" if good else "  (over budget)"),
                flush=True,
            )
            if not good:
                break
            best = rate
        consistency = check_db(url, {})
        main["double_counted"] = max(main["double_counted"], consistency["double_counted"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        **main,
        "max_rps_p99_under_50ms": best,
        "ramp": ramp,
        "workers": args.workers,
        "conversations": args.conversations,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--ramp", type=float, nargs="*", default=[25, 50, 100, 150, 200, 300, 400, 600])
    p.add_argument("--step-seconds", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=Settings(_env_file=None).api_workers)
    p.add_argument("--conversations", type=int, default=20_000)
    p.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    settings = Settings(_env_file=None, secret_key=SECRET)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "rate": args.rate,
        "seconds": args.seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "sqlite" in args.backends:
            results["sqlite"] = run_backend("sqlite", f"sqlite:///{tmp / 'bench.db'}", args, settings, tmp)
        if "postgresql" in args.backends:
            dbname = f"supportloop_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{dbname}"'))
            except Exception as exc:  # noqa: BLE001 - report and go on without PostgreSQL
                print(f"[postgresql] skipped: {str(exc).splitlines()[0]}")
                results["postgresql"] = {"skipped": str(exc).splitlines()[0]}
            else:
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
                try:
                    results["postgresql"] = run_backend("postgresql", url, args, settings, tmp)
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            admin.dispose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
