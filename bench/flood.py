"""Flood benchmark of the public chat: ``python -m bench.flood``.

Starts the API with uvicorn on 127.0.0.1 (SQLite in a temporary folder, the demo knowledge
base, the real embedding model and PII scrubber, ``--workers`` processes) and, for
``--seconds`` (at most 60):

- one flooder sends ``POST /api/v1/chat`` at ``--flood-rate`` requests/s (open loop: requests
  leave on schedule whatever the server answers) from the source address 127.0.0.2;
- ``--users`` normal customers, each from a source address of their own (127.0.0.10,
  127.0.0.11, ...: every 127.x.y.z is a loopback address on Linux, so each user is another
  client address without trusting any header), chat at a normal pace (a message every
  ``--pace`` seconds, jittered, in one conversation) and vote on a third of the answers.

The limits are the settings' defaults (``SUPPORTLOOP_RATE_LIMIT_*``) unless given. It writes
``bench/results/flood.json``: the normal users' requests, errors (anything but 200) and latency
p50/p99/max, and the flood's requests, 200s, 429s and other answers against the most the
limit allows (per worker process: ``workers`` x a window's amount for each such window the run
spans, the tightest window deciding). Targets: normal users 0 errors and p99 < 1000 ms; the
flood answered 429 beyond the limit. The machine is shared (2 cores, other work running): the
figures are *under load* and the result records the load average and CPU count.

Before the flood, the same customers (from other addresses) chat alone on the same server for
``--baseline-seconds`` (30): ``normal_users_without_flood`` is what the shared machine gives
them at that moment, so the flood's effect reads as the difference. Each result also lists the
customers' five slowest requests with the number of flood chats answered beside each, and the
most flood chats answered at once: where the tail comes from (docs/security.md).

``--quick`` (the smoke test): 6 s, a 40/s flood, 3 users, 1 worker, no baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from limits import parse_many

from core.demo.knowledge import load_demo_knowledge
from core.platform.actors import SYSTEM
from core.platform.config import Settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from core.platform.embeddings import get_embedder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "flood.json"
FLOOD_ADDRESS = "127.0.0.2"
QUESTIONS = [
    "How much is it per adult?",
    "What do you charge for kids?",
    "Do you travel to Dallas? What is the travel fee?",
    "Is there a party minimum?",
    "What proteins are on the menu?",
    "Can you do a gluten free option?",
    "How much is the deposit and is it refundable?",
    "What do I need to set up for the chef?",
]


# --- a small HTTP/1.1 keep-alive client bound to one source address ---------------------------
class _StaleConnection(Exception):
    """The connection was closed before an answer started."""


class Client:
    """Keep-alive connections from one source address (a pool grown on demand)."""

    def __init__(self, host: str, port: int, source: str) -> None:
        self.host, self.port, self.source = host, port, source
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        if self.idle:
            try:
                return await self._send(self.idle.pop(), method, path, body)
            except _StaleConnection:
                pass  # the server closed an idle keep-alive connection: send on a fresh one
        conn = await asyncio.open_connection(self.host, self.port, local_addr=(self.source, 0))
        return await self._send(conn, method, path, body)

    async def _send(self, conn, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        reader, writer = conn
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + data)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise _StaleConnection
            status = int(status_line.split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            payload = await reader.readexactly(length) if length else b""
        except (ConnectionResetError, BrokenPipeError) as exc:
            writer.close()
            raise _StaleConnection from exc
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self.idle.append(conn)
        try:
            return status, json.loads(payload) if payload.startswith(b"{") else {}
        except ValueError:
            return status, {}

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # (sent, answered) in seconds since the load started: normal users' requests, the flood's 200s
    spans: list[tuple[float, float]] = field(default_factory=list)

    def count(self, status: int | str) -> None:
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


# --- the load -----------------------------------------------------------------------------------
async def flood(client: Client, rate: float, seconds: float, tally: Tally) -> None:
    """Open loop: request i leaves at start + i / rate."""
    start = time.perf_counter()
    tasks = []

    async def one(i: int) -> None:
        sent = time.perf_counter()
        try:
            status, _ = await client.request("POST", "/api/v1/chat", {"message": f"flood {i} price?"})
            tally.count(status)
        except Exception as exc:  # noqa: BLE001 - a refused connection is a result too
            tally.count(type(exc).__name__)
            return
        if status == 200:
            tally.spans.append((sent - LOAD_START[0], time.perf_counter() - LOAD_START[0]))

    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def customer(
    client: Client, n: int, pace: float, seconds: float, tally: Tally, rng: random.Random
) -> None:
    """A customer chatting in one conversation, voting on some answers."""
    session_id = f"customer-{n:03d}-{secrets.token_hex(4)}"
    conversation_id = None
    end = time.perf_counter() + seconds
    await asyncio.sleep(rng.uniform(0, pace))
    while time.perf_counter() < end:
        body = {"message": rng.choice(QUESTIONS), "session_id": session_id}
        if conversation_id:
            body["conversation_id"] = conversation_id
        answer = await _timed(client, "POST", "/api/v1/chat", body, tally)
        if answer and rng.random() < 0.33:
            conversation_id = answer["conversation_id"]
            vote = {"message_id": answer["message_id"], "vote": rng.choice(["up", "down"]),
                    "sig": answer["feedback_sig"]}
            await _timed(client, "POST", "/api/v1/ai/feedback", vote, tally)
        elif answer:
            conversation_id = answer["conversation_id"]
        await asyncio.sleep(pace * rng.uniform(0.7, 1.3))


async def _timed(client: Client, method: str, path: str, body: dict, tally: Tally) -> dict | None:
    t0 = time.perf_counter()
    try:
        status, data = await client.request(method, path, body)
    except Exception as exc:  # noqa: BLE001
        tally.count(type(exc).__name__)
        tally.errors.append(f"{path}: {exc!r}")
        return None
    t1 = time.perf_counter()
    tally.latencies_ms.append((t1 - t0) * 1000)
    tally.spans.append((t0 - LOAD_START[0], t1 - LOAD_START[0]))
    tally.count(status)
    if status != 200:
        tally.errors.append(f"{path}: {status} {data}")
        return None
    return data


def slowest(users: Tally, flood_tally: Tally, n: int = 5) -> list[dict]:
    """The ``n`` slowest normal requests and, for each, how many flood chats were being answered
    (sent before it was answered, answered after it was sent): the evidence of what slowed it."""
    out = []
    ranked = sorted(zip(users.spans, users.latencies_ms, strict=True), key=lambda x: -x[1])
    for (sent, done), ms in ranked[:n]:
        beside = sum(1 for a, b in flood_tally.spans if a < done and b > sent)
        out.append({"at_s": round(sent, 2), "ms": round(ms, 1), "flood_chats_running_beside": beside})
    return out


def most_flood_chats_at_once(flood_tally: Tally) -> int:
    """The most flood chats the server was answering at one time (answered 200)."""
    edges = sorted([(a, 1) for a, _ in flood_tally.spans] + [(b, -1) for _, b in flood_tally.spans])
    now = top = 0
    for _, step in edges:
        now += step
        top = max(top, now)
    return top


LOAD_START = [0.0]  # perf_counter when the measured load began


async def run_quiet(port: int, args) -> Tally:
    """The same customers (from other addresses) for ``--baseline-seconds`` with no flood: what
    the machine gives them at the moment, to read the flood's figures against."""
    rng = random.Random(args.seed + 1)
    tally = Tally()
    users = [Client("127.0.0.1", port, f"127.0.50.{10 + n}") for n in range(args.users)]
    await asyncio.gather(
        *(customer(c, n, args.pace, args.baseline_seconds, tally, random.Random(rng.random()))
          for n, c in enumerate(users))
    )
    for c in users:
        c.close()
    return tally


async def run_load(port: int, args) -> tuple[Tally, Tally]:
    LOAD_START[0] = time.perf_counter()
    rng = random.Random(args.seed)
    flood_tally, user_tally = Tally(), Tally()
    flooder = Client("127.0.0.1", port, FLOOD_ADDRESS)
    users = [Client("127.0.0.1", port, f"127.0.0.{10 + n}") for n in range(args.users)]
    await asyncio.gather(
        flood(flooder, args.flood_rate, args.seconds, flood_tally),
        *(customer(c, n, args.pace, args.seconds, user_tally, random.Random(rng.random()))
          for n, c in enumerate(users)),
    )
    for c in [flooder, *users]:
        c.close()
    return flood_tally, user_tally


# --- setup ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_knowledge(settings: Settings) -> None:
    upgrade(settings.database_url)
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            load_demo_knowledge(session, get_embedder(settings), settings, actor=SYSTEM)
    finally:
        engine.dispose()


def start_api(settings: Settings, workers: int, env_extra: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=settings.database_url,
        SUPPORTLOOP_SECRET_KEY=settings.secret_key,
        SUPPORTLOOP_DATA_DIR=str(settings.data_dir),
        SUPPORTLOOP_INDEX_DIR=str(settings.index_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        TOKENIZERS_PARALLELISM="false",
        **env_extra,
    )
    cmd = [
        sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the API exited during start-up")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the API did not start within 120 s")


def warm_up(port: int, workers: int) -> int:
    """Load the models in every worker before the measured load (a process loads the embedding
    model, the PII scrubber and the enrichment models on its first chats), from addresses the
    load does not use: one chat alone, then rounds of concurrent chats until a round answers
    every chat with 200 within 3 s. Returns the rounds it took."""

    async def round_(n: int, size: int) -> tuple[bool, float]:
        clients = [Client("127.0.0.1", port, f"127.0.{n + 1}.{i + 1}") for i in range(size)]
        t0 = time.perf_counter()
        answers = await asyncio.gather(
            *(c.request("POST", "/api/v1/chat", {"message": "how much per adult?"}) for c in clients),
            return_exceptions=True,
        )
        for c in clients:
            c.close()
        ok = all(not isinstance(a, BaseException) and a[0] == 200 for a in answers)
        return ok, time.perf_counter() - t0

    asyncio.run(round_(0, 1))
    for n in range(1, 11):
        ok, took = asyncio.run(round_(n, 2 * workers))
        if ok and took < 3.0:
            return n
    return n


def allowed_max(limit: str, workers: int, seconds: float) -> int | None:
    """The most requests one address may get answered in ``seconds``: per process, each window's
    amount for each window the run spans (the tightest window decides)."""
    if not limit.strip():
        return None
    return min(workers * item.amount * math.ceil(seconds / item.get_expiry()) for item in parse_many(limit))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration (at most 60)")
    parser.add_argument("--flood-rate", type=float, default=200.0, help="flood requests per second")
    parser.add_argument("--users", type=int, default=8, help="normal customers beside the flood")
    parser.add_argument("--pace", type=float, default=4.0, help="seconds between a customer's messages")
    parser.add_argument("--workers", type=int, default=Settings(_env_file=None).api_workers)
    parser.add_argument("--rate-limit-chat", default=None, help="SUPPORTLOOP_RATE_LIMIT_CHAT for the run")
    parser.add_argument("--baseline-seconds", type=float, default=30.0,
                        help="first, the customers alone for this long (no flood; 0: skip)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smoke-test size (6 s, 40/s, 3 users, 1 worker)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.flood_rate, args.users, args.workers, args.pace = 6.0, 40.0, 3, 1, 2.0
        args.baseline_seconds = 0.0
    args.seconds, args.baseline_seconds = min(args.seconds, 60.0), min(args.baseline_seconds, 60.0)

    env_extra = {}
    if args.rate_limit_chat is not None:
        env_extra["SUPPORTLOOP_RATE_LIMIT_CHAT"] = args.rate_limit_chat
    with tempfile.TemporaryDirectory(prefix="supportloop-flood-") as tmp:
        data = Path(tmp)
        settings = Settings(
            _env_file=None,
            data_dir=data,
            index_dir=data / "indexes",
            database_url=f"sqlite:///{data / 'flood.db'}",
            secret_key="bench-" + secrets.token_hex(32),
        )
        seed_knowledge(settings)
        limit = args.rate_limit_chat if args.rate_limit_chat is not None else settings.rate_limit_chat
        proc, port = start_api(settings, args.workers, env_extra)
        try:
            warm_rounds = warm_up(port, args.workers)
            quiet = asyncio.run(run_quiet(port, args)) if args.baseline_seconds else None
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            flood_tally, user_tally = asyncio.run(run_load(port, args))
            elapsed = time.perf_counter() - t0
            load_after = os.getloadavg()[0]
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    flood_ok = flood_tally.statuses.get("200", 0)
    flood_429 = flood_tally.statuses.get("429", 0)
    flood_sent = sum(flood_tally.statuses.values())
    cap = allowed_max(limit, args.workers, elapsed)
    user_requests = sum(user_tally.statuses.values())
    user_errors = user_requests - user_tally.statuses.get("200", 0)
    p99 = percentile(user_tally.latencies_ms, 0.99)
    result = {
        "benchmark": "flood",
        "label": ("quiet" if load_before < 1.5 else "under load") + ": client and server on one host",
        "machine": {"cpus": os.cpu_count(), "loadavg_1m_before": round(load_before, 2),
                    "loadavg_1m_after": round(load_after, 2)},
        "config": {"seconds": round(elapsed, 1), "flood_rate_per_s": args.flood_rate, "users": args.users,
                   "user_pace_s": args.pace, "workers": args.workers, "rate_limit_chat": limit,
                   "quick": args.quick, "warm_up_rounds": warm_rounds},
        "normal_users": {
            "requests": user_requests,
            "errors": user_errors,
            "statuses": user_tally.statuses,
            "p50_ms": percentile(user_tally.latencies_ms, 0.5),
            "p90_ms": percentile(user_tally.latencies_ms, 0.9),
            "p99_ms": p99,
            "max_ms": round(max(user_tally.latencies_ms), 1) if user_tally.latencies_ms else None,
            "first_errors": user_tally.errors[:5],
            "slowest": slowest(user_tally, flood_tally),
        },
        # the same customers on the same server just before, without the flood (the machine's share)
        "normal_users_without_flood": None if quiet is None else {
            "seconds": args.baseline_seconds,
            "requests": sum(quiet.statuses.values()),
            "errors": sum(quiet.statuses.values()) - quiet.statuses.get("200", 0),
            "p50_ms": percentile(quiet.latencies_ms, 0.5),
            "p90_ms": percentile(quiet.latencies_ms, 0.9),
            "p99_ms": percentile(quiet.latencies_ms, 0.99),
            "max_ms": round(max(quiet.latencies_ms), 1) if quiet.latencies_ms else None,
        },
        "flood": {
            "requests": flood_sent,
            "answered_200": flood_ok,
            "answered_429": flood_429,
            "other": flood_sent - flood_ok - flood_429,
            "allowed_max": cap,
            "most_answered_at_once": most_flood_chats_at_once(flood_tally),
            "statuses": flood_tally.statuses,
        },
    }
    result["targets"] = {
        "normal_users_0_errors": user_errors == 0,
        "normal_users_p99_under_1000ms": p99 is not None and p99 < 1000,
        "flood_429_beyond_limit": cap is not None and flood_ok <= cap and flood_429 == flood_sent - flood_ok,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    u, f, q = result["normal_users"], result["flood"], result["normal_users_without_flood"] or {}
    print(
        f"[flood, {args.workers} worker(s), loadavg {load_before:.1f}->{load_after:.1f}] "
        f"normal users: {u['requests']} requests, {u['errors']} errors, p50 {u['p50_ms']} ms, "
        f"p99 {u['p99_ms']} ms (without the flood just before: p50 {q.get('p50_ms')} ms, "
        f"p99 {q.get('p99_ms')} ms) | flood {args.flood_rate:.0f}/s: {f['requests']} sent, "
        f"{f['answered_200']} answered (limit allows <= {cap}), {f['answered_429']} x 429, "
        f"{f['other']} other -> {args.out}"
    )
    return result


if __name__ == "__main__":
    main()
