"""Load test of the feedback endpoint: ``python -m bench.feedback_load``.

For SQLite (WAL, busy timeout) and PostgreSQL: seed conversations whose answers used KB
chunks, start the API with uvicorn (``--workers`` = settings.api_workers) on loopback, then

1. an open-loop load of ``--rate`` votes/s for ``--seconds`` s: requests leave on a fixed
   schedule whatever the server does, and latency counts from the *scheduled* send time, so
   a slow server (or a slow client) cannot hide a queue. Mostly first votes on distinct
   messages (each by its conversation's user, 30 % down), ~10 % exact replays and ~10 %
   changed votes of a request sent at least 400 requests earlier;
2. a ramp (``--ramp`` rates, ``--step-seconds`` each) to find the highest rate whose p99
   stays under 50 ms (and every request answered 200).

The client is a minimal asyncio HTTP/1.1 keep-alive client (``--client httpx`` uses
httpx.AsyncClient, several times the CPU per request), optionally split over ``--clients``
processes. It shares the machine with the server, so the result also reports the client's
CPU per request, how late requests left against their schedule (``client_lag_p99_ms``: large
means the client, not the server, is the bottleneck), the server's CPU per vote (the uvicorn
process tree) and how busy the whole machine was (other work included).

Then it checks the database: every expected (message, voter) vote is stored once with its
final value (``stored``/``expected``, ``lost``, ``wrong_final_vote``), the conversations'
down-vote counts equal the down votes stored and every chunk's rating count and sum equal the
votes on the answers that used it (``double_counted``, ``chunk_counters_wrong``). Prints the
numbers and writes bench/results/feedback_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import httpx
from sqlalchemy import case, create_engine, func, insert, select, text

from core.feedback import links
from core.knowledge import chunks as knowledge
from core.platform.actors import SYSTEM
from core.platform.config import Settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from core.platform.models import Chunk, Conversation, ConversationOutcome, Feedback, Message, MessageChunk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "feedback_load.json"
PG_ADMIN = os.environ.get("SUPPORTLOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + uuid.uuid4().hex
PATH = "/api/v1/ai/feedback"
CHUNKS = 200
CHUNKS_PER_ANSWER = 2
WARM_UP = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- data -----------------------------------------------------------------------------------
def seed(
    url: str, n: int, rng: random.Random, age_days: float = 30.0, days_ago: float = 0.0
) -> list[tuple[int, str]]:
    """``n`` closed conversations, started over ``age_days`` days ending ``days_ago`` days
    before now, with a question
    (90 distinct texts, so the review queue's demand counts find company) and an answer that
    used ``CHUNKS_PER_ANSWER`` of ``CHUNKS`` KB chunks; returns (answer id, voter)."""
    import datetime as dt

    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    starts = [now - dt.timedelta(days=days_ago + rng.uniform(0, age_days)) for _ in range(n)]
    with session_scope(session_factory(engine)) as s:
        chunk_ids = [
            knowledge.add_chunk(s, text=f"Fact {i}: hibachi for {10 + i} guests costs ${600 + 60 * i}.",
                                actor=SYSTEM).id
            for i in range(CHUNKS)
        ]
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
            for i, t in enumerate(starts)
        ]
        returning = insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True)
        ids = list(conn.scalars(returning, convs))
        common = {"pii_entity_types": [], "safe_for_training": True, "human_edited": False}
        rows = []
        for i, (cid, t) in enumerate(zip(ids, starts, strict=True)):
            question = f"How much for {i % 90 + 10} people?"
            rows.append(
                {**common, "conversation_id": cid, "role": "user", "raw_content": question,
                 "redacted_content": question, "created_at": t}
            )
            rows.append(
                {**common, "conversation_id": cid, "role": "assistant", "confidence": 0.9,
                 "raw_content": "$60 per adult.", "redacted_content": "$60 per adult.",
                 "created_at": t + dt.timedelta(seconds=20)}
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
                for cid, t in zip(ids, starts, strict=True)
            ],
        )
        answers = conn.execute(
            select(Message.id, Conversation.external_user_id)
            .join(Conversation)
            .where(Message.role == "assistant")
            .order_by(Message.id)
        ).all()
        links = [
            {"message_id": mid, "chunk_id": c, "rank": r, "score": 0.8, "used": True}
            for mid, _ in answers
            for r, c in enumerate(rng.sample(chunk_ids, CHUNKS_PER_ANSWER))
        ]
        conn.execute(insert(MessageChunk), links)
    if engine.dialect.name == "postgresql":  # planner statistics, as autovacuum would gather them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
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
            sigs[key] = links.sign_vote(settings, mid, voter, vote)
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


def check_db(url: str, final: dict[tuple[int, str], str]) -> dict:
    """Compare the stored votes with ``final`` and every counter with the stored votes."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Feedback.message_id, Feedback.voter, Feedback.vote)).all()
        found = {(m, v): vote for m, v, vote in rows}
        downs = conn.scalar(select(func.count()).select_from(Feedback).where(Feedback.vote == "down"))
        counted = conn.scalar(select(func.coalesce(func.sum(ConversationOutcome.down_votes), 0)))
        per_conv_wrong = conn.scalar(
            select(func.count())
            .select_from(ConversationOutcome)
            .where(
                ConversationOutcome.down_votes
                != select(func.count())
                .select_from(Feedback)
                .where(
                    Feedback.conversation_id == ConversationOutcome.conversation_id, Feedback.vote == "down"
                )
                .scalar_subquery()
            )
        )
        votes_per_chunk = (
            select(
                MessageChunk.chunk_id.label("cid"),
                func.count().label("n"),
                func.sum(case((Feedback.vote == "up", 5.0), else_=1.0)).label("total"),
            )
            .join(Feedback, Feedback.message_id == MessageChunk.message_id)
            .where(MessageChunk.used.is_(True))
            .group_by(MessageChunk.chunk_id)
            .subquery()
        )
        chunks = conn.execute(
            select(Chunk.rating_count, Chunk.rating_sum, votes_per_chunk.c.n, votes_per_chunk.c.total)
            .outerjoin(votes_per_chunk, votes_per_chunk.c.cid == Chunk.id)
        ).all()
    engine.dispose()
    chunk_wrong = sum(
        1
        for count, total, n, expected in chunks
        if (count or 0) != (n or 0) or abs((total or 0.0) - float(expected or 0.0)) > 1e-6
    )
    return {
        "expected": len(final),
        "stored": sum(1 for k in final if k in found),
        "rows": len(rows),
        "lost": sum(1 for k in final if k not in found),
        "wrong_final_vote": sum(1 for k, v in final.items() if found.get(k) not in (None, v)),
        "double_counted": abs(int(counted) - int(downs)) + int(per_conv_wrong or 0),
        "chunk_counters_wrong": chunk_wrong,
    }


# --- the client -----------------------------------------------------------------------------
class RawClient:
    """A minimal HTTP/1.1 keep-alive client (JSON POSTs only): a pool of idle connections,
    a new one when none is idle. Far lighter than httpx, so it leaves the CPU to the server."""

    IDLE_S = 2.0  # uvicorn closes keep-alive connections idle for 5 s: never reuse one that old

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < self.IDLE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> int:
        reader, writer = await self._connection()
        try:
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s"
                % (path.encode(), self.host.encode(), self.port, len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("response without Content-Length")
            length = int(lower[at + 17 : lower.find(b"\r\n", at + 2)])
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if b"\r\nconnection: close" in lower:
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status

    async def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


async def _open_loop(base: str, reqs: list[dict], start: float, rate: float, step: int, offset: int,
                     kind: str) -> dict:
    """Send every ``step``-th request from ``offset`` at ``start + i / rate`` (time.monotonic)."""
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    host, port = base.split("//")[1].split(":")
    if kind == "raw":
        client = RawClient(host, int(port))

        async def post(body: bytes) -> int:
            return await client.post(PATH, body)
    else:
        hx = httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=1000), timeout=60)

        async def post(body: bytes) -> int:
            resp = await hx.post(PATH, content=body, headers={"content-type": "application/json"})
            return resp.status_code

    bodies = [
        json.dumps({k: v for k, v in q.items() if k != "voter"}).encode() for q in reqs[offset::step]
    ]

    async def one(at: float, body: bytes) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append((time.monotonic() - at) * 1000)
        try:
            status = await post(body)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append((time.monotonic() - at) * 1000)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = [
        asyncio.create_task(one(start + (offset + j * step) / rate, body)) for j, body in enumerate(bodies)
    ]
    await asyncio.gather(*tasks)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if kind == "raw":
        await client.close()
    else:
        await hx.aclose()
    return {
        "latencies": latencies,
        "lags": lags,
        "statuses": statuses,
        "errors": errors,
        "cpu_s": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
        "end": time.monotonic(),
    }


def _client_process(args: tuple) -> dict:
    return asyncio.run(_open_loop(*args))


async def _warm(base: str, connections: int) -> None:
    host, port = base.split("//")[1].split(":")
    writers = []
    for _ in range(connections):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    for w in writers:
        w.close()


def open_loop(base: str, reqs: list[dict], rate: float, clients: int = 1, kind: str = "raw",
              server_pid: int | None = None) -> dict:
    """Send ``reqs`` at ``rate`` per second on a fixed schedule from ``clients`` processes;
    latency is measured from each request's scheduled time."""
    asyncio.run(_warm(base, 4))
    cpu_server0, machine0 = process_tree_cpu(server_pid), machine_cpu()
    start = time.monotonic() + 0.3 + 0.2 * clients
    if clients == 1:
        parts = [asyncio.run(_open_loop(base, reqs, start, rate, 1, 0, kind))]
    else:
        with ProcessPoolExecutor(clients, mp_context=get_context("fork")) as pool:
            jobs = [(base, reqs, start, rate, clients, k, kind) for k in range(clients)]
            parts = list(pool.map(_client_process, jobs))
    cpu_server1, machine1 = process_tree_cpu(server_pid), machine_cpu()
    elapsed = max(p["end"] for p in parts) - start
    latencies = sorted(x for p in parts for x in p["latencies"])
    lags = sorted(x for p in parts for x in p["lags"])
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v

    def pct(values: list[float], p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2) if values else 0.0

    n = len(reqs)
    busy = machine1[0] - machine0[0]
    return {
        "rps": round(n / elapsed, 1),
        "target_rps": rate,
        "sent": n,
        "ok": statuses.get(200, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": pct(latencies, 0.50),
        "p90_ms": pct(latencies, 0.90),
        "p99_ms": pct(latencies, 0.99),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "client_lag_p99_ms": pct(lags, 0.99),
        "client_cpu_ms_per_request": round(sum(p["cpu_s"] for p in parts) / n * 1000, 3),
        "server_cpu_ms_per_vote": round((cpu_server1 - cpu_server0) / n * 1000, 3) if server_pid else None,
        "machine_cpu_busy": round(busy / max(1e-9, busy + machine1[1] - machine0[1]), 3),
    }


# --- measuring CPU --------------------------------------------------------------------------
def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (Linux)."""
    if pid is None or not Path("/proc").is_dir():
        return 0.0
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _ticks()
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo.extend(c for c, parent in parents.items() if parent == p and c not in tree)
    return sum(times.get(p, 0.0) for p in tree)


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU time of the whole machine so far, from /proc/stat (zeros elsewhere)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values[:8]) - idle), float(idle)


# --- the server -----------------------------------------------------------------------------
def start_api(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=url,
        SUPPORTLOOP_SECRET_KEY=SECRET,
        SUPPORTLOOP_DATA_DIR=str(data_dir),
        SUPPORTLOOP_INDEX_DIR=str(data_dir / "indexes"),
        SUPPORTLOOP_RATE_LIMIT_PUBLIC="",  # the load comes from one address: no per-address limit
        HF_HUB_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        TOKENIZERS_PARALLELISM="false",
    )
    cmd = [
        sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                if workers > 1:  # let every worker finish starting before the load
                    time.sleep(3)
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the API exited during start-up")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the API did not start within 90 s")


def run_backend(name: str, url: str, args, settings: Settings, data_dir: Path, workers: int) -> dict:
    upgrade(url)
    rng = random.Random(args.seed)
    answers = seed(url, args.conversations, rng, args.age_days, args.days_ago)
    proc, base = start_api(url, data_dir, workers)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        # warm-up: 200 first votes on answers of their own (checked with the rest), so the
        # measured load does not include the workers' first requests (connections, caches)
        warm, answers = answers[:WARM_UP], answers[WARM_UP:]
        warm_reqs, warm_final = plan(warm, WARM_UP, rng, settings)
        open_loop(base, warm_reqs, min(args.rate, 100.0), 1, args.client)
        reqs, final = plan(answers, int(args.rate * args.seconds), rng, settings)
        main = open_loop(base, reqs, args.rate, args.clients, args.client, proc.pid)
        main.update(check_db(url, {**warm_final, **final}))
        print(
            f"[{name}, {workers} worker(s)] {args.rate:.0f}/s x {args.seconds:.0f}s: "
            f"achieved {main['rps']}/s, "
            f"p50 {main['p50_ms']} ms, p99 {main['p99_ms']} ms, ok {main['ok']}/{main['sent']}, "
            f"stored {main['stored']}/{main['expected']}, lost {main['lost']}, "
            f"double-counted {main['double_counted']}, chunk counters wrong {main['chunk_counters_wrong']}; "
            f"server {main['server_cpu_ms_per_vote']} ms CPU/vote, client "
            f"{main['client_cpu_ms_per_request']} ms CPU/request (lag p99 {main['client_lag_p99_ms']} ms), "
            f"machine {main['machine_cpu_busy']:.0%} busy",
            flush=True,
        )
        ramp, best = [], 0.0
        for rate in args.ramp:
            reqs, _ = plan(answers, int(rate * args.step_seconds), rng, settings)
            step = open_loop(base, reqs, rate, args.clients, args.client, proc.pid)
            ramp.append(step)
            good = step["p99_ms"] < 50 and step["errors"] == 0 and step["ok"] == step["sent"]
            print(
                f"[{name}, {workers} worker(s)] ramp {rate:.0f}/s: achieved {step['rps']}/s, "
                f"p99 {step['p99_ms']} ms, server {step['server_cpu_ms_per_vote']} ms CPU/vote, "
                f"machine {step['machine_cpu_busy']:.0%} busy" + ("" if good else "  (over budget)"),
                flush=True,
            )
            if not good:
                break
            best = rate
        after = check_db(url, {})
        main["double_counted"] = max(main["double_counted"], after["double_counted"])
        main["chunk_counters_wrong"] = max(main["chunk_counters_wrong"], after["chunk_counters_wrong"])
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
        "workers": workers,
        "conversations": args.conversations,
        "age_days": args.age_days,
        "days_ago": args.days_ago,
        "load_average_1m_before": round(load_before, 2) if load_before is not None else None,
    }


def run_postgresql(args, settings: Settings, tmp: Path, workers: int) -> dict:
    dbname = f"supportloop_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    except Exception as exc:  # noqa: BLE001 - report and go on without PostgreSQL
        print(f"[postgresql] skipped: {str(exc).splitlines()[0]}")
        admin.dispose()
        return {"skipped": str(exc).splitlines()[0]}
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        return run_backend("postgresql", url, args, settings, tmp, workers)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    default_workers = Settings(_env_file=None).api_workers
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--ramp", type=float, nargs="*", default=[100, 200, 300, 400, 600, 800, 1000])
    p.add_argument("--step-seconds", type=float, default=10.0)
    p.add_argument(
        "--workers", type=int, nargs="+", default=[default_workers],
        help="uvicorn workers; several values compare them (the first fills the main figures)",
    )  # fmt: skip
    p.add_argument("--clients", type=int, default=1, help="client processes")
    p.add_argument("--client", choices=["raw", "httpx"], default="raw")
    p.add_argument("--conversations", type=int, default=20_000)
    p.add_argument(
        "--age-days", type=float, default=30.0,
        help="conversations started over this many days before now (recent ones make the review "
        "queue's demand count of a down vote scan them)",
    )  # fmt: skip
    p.add_argument(
        "--days-ago", type=float, default=0.0,
        help="the newest conversation is this many days old (60: none is in the review queue's "
        "30-day demand window)",
    )  # fmt: skip
    p.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args()
    settings = Settings(_env_file=None, secret_key=SECRET)
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_1m_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "rate": args.rate,
        "seconds": args.seconds,
        "client": args.client,
        "clients": args.clients,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for backend in args.backends:
            runs = {}
            for workers in args.workers:
                if backend == "sqlite":
                    url = f"sqlite:///{tmp / f'bench-{workers}.db'}"
                    runs[workers] = run_backend("sqlite", url, args, settings, tmp, workers)
                else:
                    runs[workers] = run_postgresql(args, settings, tmp, workers)
            first, *others = args.workers
            results[backend] = dict(runs[first])
            if others:
                results[backend]["other_workers"] = {
                    str(w): {k: v for k, v in runs[w].items() if k != "ramp"} for w in others
                }
    results["machine"]["load_average_1m_at_end"] = (
        round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
