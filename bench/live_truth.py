"""Day-in-the-life check: are the dashboard's numbers true on live traffic? ``python -m bench.live_truth``

For SQLite and PostgreSQL: build two KB versions (the bundled MiniLM embedder), start an
experiment of the second against the first through the CLI (``supportloop experiment start``),
start the API (uvicorn on 127.0.0.1, a real HTTP server in a subprocess, rate limits off since
every request comes from one address) and a local SMTP server (aiosmtpd) that receives the
post-booking survey e-mails. Then drive ``--conversations`` conversations through HTTP only:

- web chat (``POST /api/v1/chat``, one or two turns) and the OpenAI-compatible route
  (``POST /v1/chat/completions`` with a thread header), both answered through the experiment;
  some get a human agent's reply through the ingest API (``POST /api/v1/conversations/{id}/messages``,
  role ``agent``), some a thumbs vote (the widget's signed JSON vote, or the e-mail footer link);
- channel ingest (``POST /api/v1/conversations``) of e-mail, SMS, phone, Facebook and Instagram
  conversations started over the last 7 days, with model answers that carry a cost, human agent
  replies (in the body, or appended later) and known first-response times;
- booking outcomes (``POST /api/v1/outcomes``), a survey e-mail for some, answered through the
  survey page (``POST /survey/{token}``, the token read from the received e-mail);
- about a third closed explicitly (``POST /api/v1/conversations/{id}/close``), the rest left to
  the idle close: the task function ``conversation_idle_close`` is called **in-process** against
  the same database with a ``FixedClock`` set to now + ``conversation_idle_minutes`` + 2 minutes
  (the API keeps the real clock);
- the metrics roll-up runs through the CLI (``supportloop jobs run metrics``) once mid-way and
  once at the end (the second run is incremental).

The driver keeps its own record of what it did (which conversations it had an agent answer,
which answers the API said it handed over, what it closed, booked, rated, voted, what each
answer cost and when each message was sent) and computes every figure from that record -
never from the product's tables. It compares them with ``GET /api/v1/ai/metrics/dashboard``
(read key, ``days=7``): the KPIs of the whole window, of every day of the series and of every
channel, and the CSAT distribution; and with ``supportloop experiment compare --json`` for each
arm's containment (the driver assigns arms with the published rule, md5("salt:user") < share,
and checks it against the KB version each OpenAI-compatible answer reports). A mismatch is any
figure that differs after rounding to the API's precision (rates 4 digits, CSAT 3, FRT 0.1 s,
costs 6). The chat answers of the offline extractive responder cost nothing; their first
response time is under the request's round trip, which the driver measures: under 5 s it is in
the first histogram bin; a slower round trip (a busy machine) leaves it somewhere in (0, round
trip], counted as ``frt_unknown``, and the FRT percentiles of the periods holding one are then
checked to lie between the two extremes instead of to equal one value. It also reads back
every conversation (``GET /api/v1/conversations?status=...``) to check none is left open.

Writes bench/results/live_truth.json: ``{"sqlite": {"conversations", "figures_checked",
"mismatches", ...}, "postgresql": {...}, "mismatch_list": [...]}``. ``--quick`` drives 60
conversations (the smoke test in tests/bench).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email
import hashlib
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy import create_engine, text

from core.access import apikeys
from core.access.auth import create_user
from core.knowledge.chunks import chunk_by_external_id, import_chunks, update_chunk
from core.knowledge.versions import activate_version, build_version
from core.ops.tasks import TaskContext, conversation_idle_close
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock, SystemClock
from core.platform.config import Settings
from core.platform.db import make_engine, session_factory, session_scope, upgrade
from core.platform.embeddings import get_embedder
from core.platform.models import FRT_BIN_EDGES_S, Experiment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "live_truth.json"
PG_ADMIN = os.environ.get("SUPPORTLOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
INGEST_CHANNELS = ("email", "sms", "phone", "facebook", "instagram")
OA_CHANNEL = "sms"
DAYS = 7
ADMIN_NAME = "bench-admin"
PRECISION = {  # decimals the API rounds each figure to (core.ops.metric_sql.kpis)
    "conversations": 0, "containment_rate": 4, "escalation_rate": 4, "csat_avg": 3, "csat_responses": 0,
    "conversion_rate": 4, "bookings": 0, "booking_value_usd": 2, "frt_p50_s": 1, "frt_p90_s": 1,
    "cost_usd": 6, "cost_per_conversation_usd": 6, "cost_per_resolution_usd": 6, "feedback_rate": 4,
    "successful_outcome_rate": 4,
}
CHUNKS = [
    ("price-adult", "Adult price", "pricing",
     "The adult price is sixty dollars per adult guest and includes salad, rice and two proteins."),
    ("price-kids", "Kids price", "pricing",
     "The kids price is thirty dollars per child aged four to twelve."),
    ("minimum", "Party minimum", "pricing", "Every party has a food minimum of six hundred dollars."),
    ("travel", "Travel fee", "travel", "Travel within 30 miles is free; beyond that the travel fee is "
     "two dollars per mile."),
    ("deposit", "Deposit", "booking", "A deposit of one hundred dollars holds your date; it is refundable "
     "up to seven days before the party."),
    ("rain", "Rain plan", "events", "If it rains we cook under a covered patio or garage; you provide the "
     "cover."),
    ("vegetarian", "Vegetarian", "menu", "Vegetarian guests can choose tofu and extra vegetables instead "
     "of meat."),
    ("area", "Service area", "travel", "We serve Los Angeles, Orange County, San Diego and the Inland "
     "Empire."),
]
QUESTIONS = [
    "How much is the adult price per guest?", "What do kids pay?", "Is there a food minimum for a party?",
    "How much is the travel fee?", "Which areas do you serve?", "How much deposit to hold a date?",
    "What if it rains on the day?", "Do you have a vegetarian option?",
    "Can you cook for 25 people next Saturday?", "Do you bring the grill and the chef?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now() -> dt.datetime:
    return SystemClock().now()


# --- the driver's own record ---------------------------------------------------------------
@dataclass
class Truth:
    """What the driver did to one conversation: the source of every expected figure."""

    kind: str  # widget | openai | ingest
    channel: str
    user: str
    started: dt.datetime
    cid: int | None = None
    handed_off: bool = False  # an agent replied, or the API said the answer went to a human
    booked: bool = False
    value: float = 0.0
    csat: int | None = None
    voted: bool = False
    down: bool = False
    closed: bool = False  # closed explicitly or by the idle task (the driver ran both)
    cost_micro: int = 0
    frt_s: float | None = None
    frt_known: bool = True
    frt_max: float | None = None  # FRT not known exactly: somewhere in (0, frt_max] (the round trip)
    arm: str | None = None
    arm_seen: str | None = None  # the arm the API's answer showed (OpenAI-compatible: KB version)

    @property
    def day(self) -> dt.date:
        return self.started.date()


@dataclass
class Plan:
    kind: str
    channel: str
    turns: int
    agent: str | None  # None | "reply" (appended) | "first" (ingest: the agent answers first)
    vote: str | None
    outcome: str | None  # None | "booked" | "not_booked"
    csat: int | None
    close: str  # explicit | idle
    day: int = 0
    frt: float = 0.0
    costs: list[int] = field(default_factory=list)


def _frt_for(rng: random.Random, room_s: float) -> float:
    """A first response time inside one histogram bin, away from its edges, that fits ``room_s``."""
    edges = (0.0, *map(float, FRT_BIN_EDGES_S))
    bins = [(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False) if hi + 60 < room_s] or [(0.0, 5.0)]
    lo, hi = rng.choice(bins[:12] * 3 + bins)  # most answers are fast
    return round(lo + (hi - lo) * rng.uniform(0.1, 0.9), 3)


def make_plans(n: int, rng: random.Random) -> list[Plan]:
    plans = []
    for _ in range(n):
        r = rng.random()
        kind = "widget" if r < 0.3 else "openai" if r < 0.5 else "ingest"
        channel = {"widget": "web", "openai": OA_CHANNEL}.get(kind) or rng.choice(INGEST_CHANNELS)
        turns = 1 if rng.random() < 0.6 else 2
        agent = None
        if rng.random() < 0.25:
            agent = "first" if kind == "ingest" and rng.random() < 0.5 else "reply"
        vote = None
        if kind != "ingest" and rng.random() < 0.35:
            vote = "down" if rng.random() < 0.3 else "up"
        x = rng.random()
        outcome = "booked" if x < 0.2 else "not_booked" if x < 0.27 else None
        csat = rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if outcome == "booked" and rng.random() < 0.6 else None
        close = "explicit" if rng.random() < 0.35 else "idle"
        costs = [rng.randint(40, 4000) for _ in range(turns)] if kind == "ingest" else []
        plans.append(Plan(kind, channel, turns, agent, vote, outcome, csat, close,
                          day=rng.randint(0, DAYS - 1) if kind == "ingest" else 0, costs=costs))
    return plans


# --- expected figures (computed from the driver's record only) ---------------------------------
def _percentile(frts: list[float], q: float) -> float | None:
    """The dashboard's documented estimate: the histogram of FRT_BIN_EDGES_S, linear inside a bin."""
    edges = list(FRT_BIN_EDGES_S)
    counts = [0] * (len(edges) + 1)
    for f in frts:
        counts[next((i for i, e in enumerate(edges) if f <= e), len(edges))] += 1
    total = sum(counts)
    if not total:
        return None
    rank, cum = q * total, 0
    for i, c in enumerate(counts):
        if c and cum + c >= rank:
            lo = 0.0 if i == 0 else float(edges[i - 1])
            if i >= len(edges):
                return lo
            return lo + (float(edges[i]) - lo) * max(0.0, rank - cum) / c
        cum += c
    return float(edges[-1])


def expected(truths: list[Truth]) -> dict[str, float | None]:
    n = len(truths)
    closed = [t for t in truths if t.closed]
    contained = [t for t in closed if not t.handed_off]
    csats = [t.csat for t in truths if t.csat is not None]
    cost = sum(t.cost_micro for t in truths)
    happy = {id(t) for t in contained if not t.down and (t.csat is None or t.csat >= 4)}
    successful = [t for t in truths if t.booked or id(t) in happy]
    frts = [t.frt_s for t in truths if t.frt_s is not None]
    # an answer slower than 5 s round trip has an FRT somewhere in (0, round trip]: the
    # percentiles are then known to lie between the two extremes (they only grow with an FRT)
    unknown = [t.frt_max for t in truths if t.frt_s is None and t.frt_max is not None]

    def pct(q: float) -> float | tuple[float | None, float | None] | None:
        if not unknown:
            return _percentile(frts, q)
        return (_percentile(frts + [0.5] * len(unknown), q), _percentile(frts + unknown, q))

    def ratio(a: float, b: float) -> float | None:
        return a / b if b else None

    return {
        "conversations": n,
        "containment_rate": ratio(len(contained), len(closed)),
        "escalation_rate": ratio(sum(t.handed_off for t in truths), n),
        "csat_avg": ratio(sum(csats), len(csats)),
        "csat_responses": len(csats),
        "conversion_rate": ratio(sum(t.booked for t in truths), n),
        "bookings": sum(t.booked for t in truths),
        "booking_value_usd": round(sum(t.value for t in truths if t.booked), 2),
        "frt_p50_s": pct(0.5),
        "frt_p90_s": pct(0.9),
        "cost_usd": cost / 1e6,
        "cost_per_conversation_usd": ratio(cost / 1e6, n),
        "cost_per_resolution_usd": ratio(cost / 1e6, len(contained)),
        "feedback_rate": ratio(sum(t.voted or t.csat is not None for t in truths), n),
        "successful_outcome_rate": ratio(len(successful), n),
    }


def compare(scope: str, want: dict[str, Any], got: dict[str, Any], out: list[dict]) -> int:
    """Append a mismatch for every figure of ``want`` that ``got`` does not show; returns how many
    figures were checked."""
    checked = 0
    for name, value in want.items():
        digits = PRECISION.get(name, 4)
        checked += 1
        if isinstance(value, tuple):  # known only within bounds
            lo, hi = (round(float(v), digits) for v in value)
            have = got.get(name)
            if have is None or not lo <= have <= hi:
                out.append({"scope": scope, "figure": name, "expected": [lo, hi], "got": have})
            continue
        exp = None if value is None else round(float(value), digits)
        have = got.get(name)
        have = None if have is None else round(float(have), digits)
        # a value on a rounding tie (x.5 in the last digit) may round either way in float sums
        tie = exp is not None and have is not None and abs(float(value) - have) <= 0.5 * 10**-digits + 1e-9
        if exp != have and not tie:
            out.append({"scope": scope, "figure": name, "expected": exp, "got": have})
    return checked


# --- set-up: knowledge base, accounts, keys, experiment -------------------------------------------
def bench_settings(url: str, data: Path, secret: str, smtp_port: int, base: str) -> Settings:
    return Settings(_env_file=None, database_url=url, data_dir=data, index_dir=data / "indexes",
                    secret_key=secret, smtp_host="127.0.0.1", smtp_port=smtp_port, public_base_url=base,
                    rate_limit_chat="", rate_limit_chat_session="", rate_limit_public="")


def env_for(settings: Settings) -> dict[str, str]:
    return dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=settings.database_url,
        SUPPORTLOOP_SECRET_KEY=settings.secret_key,
        SUPPORTLOOP_DATA_DIR=str(settings.data_dir),
        SUPPORTLOOP_INDEX_DIR=str(settings.index_dir),
        SUPPORTLOOP_SMTP_HOST=settings.smtp_host,
        SUPPORTLOOP_SMTP_PORT=str(settings.smtp_port),
        SUPPORTLOOP_PUBLIC_BASE_URL=settings.public_base_url,
        SUPPORTLOOP_RATE_LIMIT_CHAT="",
        SUPPORTLOOP_RATE_LIMIT_CHAT_SESSION="",
        SUPPORTLOOP_RATE_LIMIT_PUBLIC="",
        SUPPORTLOOP_CONVERSATION_IDLE_MINUTES=str(settings.conversation_idle_minutes),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        TOKENIZERS_PARALLELISM="false",
    )


def cli(settings: Settings, *args: str) -> str:
    """Run ``supportloop ARGS`` in a subprocess on the bench database; returns its output."""
    exe = Path(sys.executable).with_name("supportloop")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from cli import main; main()"]
    done = subprocess.run([*cmd, *args], cwd=ROOT, env=env_for(settings), capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"supportloop {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def set_up(settings: Settings) -> dict[str, Any]:
    """Two KB versions (v1 active), an admin, API keys; then the experiment through the CLI."""
    upgrade(settings.database_url)
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    embedder = get_embedder(settings)
    with session_scope(factory) as s:
        import_chunks(s, [{"external_id": e, "title": t, "category": c, "text": x} for e, t, c, x in CHUNKS],
                      actor=SYSTEM)
        v1 = build_version(s, embedder, settings, actor=SYSTEM)
        activate_version(s, v1.id, settings, actor=SYSTEM, force=True)
        chunk = chunk_by_external_id(s, "price-adult")
        reworded = "Adults pay sixty dollars each; the adult price includes salad, rice and two proteins."
        update_chunk(s, chunk.id, actor=SYSTEM, text=reworded)
        v2 = build_version(s, embedder, settings, actor=SYSTEM)
        create_user(s, ADMIN_NAME, "admin", secrets.token_urlsafe(16), actor=SYSTEM)
        keys = {"read": apikeys.create_api_key(s, "read", "bench reader", actor=SYSTEM)[1]}
        for ch in (*INGEST_CHANNELS, "web"):
            scope = apikeys.scope_for(channel=ch)
            keys[ch] = apikeys.create_api_key(s, scope, f"bench {ch}", actor=SYSTEM)[1]
        versions = {v1.id: "control", v2.id: "candidate"}
        v1_id, v2_id, activated = v1.id, v2.id, now()
    out = cli(settings, "experiment", "start", "--kind", "kb_version", "--kb-version", str(v2_id), "--share",
              "0.5", "--name", "live truth", "--actor", ADMIN_NAME)
    exp_id = int(re.search(r"experiment (\d+) running", out).group(1))
    with factory() as s:
        exp = s.get(Experiment, exp_id)
        salt, share = exp.salt, exp.share
    engine.dispose()
    return {"keys": keys, "versions": versions, "experiment": exp_id, "salt": salt, "share": share,
            "v1": v1_id, "activated": activated}


def arm_for(salt: str, share: float, user: str) -> str:
    """The published assignment rule: md5("salt:user") as a fraction of 16**15, below the share."""
    bucket = int(hashlib.md5(f"{salt}:{user}".encode()).hexdigest()[:15], 16) / float(16**15)  # noqa: S324
    return "candidate" if bucket < share else "control"


# --- servers --------------------------------------------------------------------------------
class Inbox:
    """The aiosmtpd handler: keeps the survey link of every received e-mail by recipient."""

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201 - aiosmtpd hook
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        body = msg.get_body(("plain",))
        found = re.search(r"/survey/([A-Za-z0-9._~-]+)", body.get_content() if body else "")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                if found:
                    self.links[rcpt] = found.group(1)
        return "250 OK"


def start_api(settings: Settings, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(settings))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the API exited during start-up")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the API did not start within 120 s")


# --- the traffic --------------------------------------------------------------------------
class Driver:
    def __init__(self, base: str, setup: dict[str, Any], rng_seed: int) -> None:
        self.base, self.setup, self.keys = base, setup, setup["keys"]
        self.local = threading.local()
        self.errors: list[str] = []
        self.seed = rng_seed
        # first answers one at a time: their first response time must stay inside the round trip
        # the driver measures, under 5 s (the first histogram bin) however busy the machine is
        self.first_turn = threading.Lock()
        self.done = 0

    def http(self) -> httpx.Client:
        if getattr(self.local, "client", None) is None:
            self.local.client = httpx.Client(base_url=self.base, timeout=120)
        return self.local.client

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> httpx.Response:
        r = self.http().request(method, path, **kw)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def warm_up(self) -> None:
        """Requests that make the API load its embedder, scrubber and enricher but store nothing
        (an unknown conversation answers 404 after the dependencies are resolved)."""
        missing = 2**31 - 1
        self.call("POST", "/api/v1/chat", ok=(404,),
                  json={"message": "hello", "session_id": "warmup-session", "conversation_id": missing})
        self.call("POST", f"/api/v1/conversations/{missing}/messages", ok=(404,),
                  json={"role": "user", "content": "hello"}, headers=self.key("web"))

    def key(self, channel: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[channel]}

    # one conversation from start to its outcome (closing comes later)
    def run(self, i: int, plan: Plan) -> Truth:
        rng = random.Random(self.seed * 100_003 + i)
        self.local.current = None
        try:
            if plan.kind == "widget":
                t = self._widget(i, plan, rng)
            elif plan.kind == "openai":
                t = self._openai(i, plan, rng)
            else:
                t = self._ingest(i, plan, rng)
            if plan.outcome:
                self._outcome(i, plan, t, rng)
            self.done += 1
            if self.done % 250 == 0:
                print(f"  {self.done} conversations driven", flush=True)
            return t
        except Exception as exc:  # noqa: BLE001 - counted and reported; the run goes on
            self.errors.append(f"conversation {i} ({plan.kind}): {exc}")
            # what was done before the failed request stays true (a refused request did nothing)
            return self.local.current or Truth(plan.kind, plan.channel, "", now())

    def _first(self, turn: int) -> Any:
        return self.first_turn if turn == 0 else contextlib.nullcontext()

    def _agent_reply(self, t: Truth, at: dt.datetime | None = None) -> None:
        body: dict[str, Any] = {"role": "agent", "content": "A colleague here: I will call you to confirm."}
        if at is not None:
            body["created_at"] = at.isoformat()
        self.call("POST", f"/api/v1/conversations/{t.cid}/messages", json=body, headers=self.key(t.channel))
        t.handed_off = True

    def _widget(self, i: int, plan: Plan, rng: random.Random) -> Truth:
        session_id = f"live{self.seed}w{i:06d}"
        t = self.local.current = Truth("widget", "web", session_id, now())
        t.arm = arm_for(self.setup["salt"], self.setup["share"], session_id)
        first_msg = None
        for turn in range(plan.turns):
            body: dict[str, Any] = {"message": rng.choice(QUESTIONS), "session_id": session_id}
            if t.cid is not None:
                body["conversation_id"] = t.cid
            with self._first(turn):
                t0 = time.monotonic()
                out = self.call("POST", "/api/v1/chat", json=body).json()
                rtt = time.monotonic() - t0
            if turn == 0:
                t.cid, first_msg = out["conversation_id"], out
                t.frt_s, t.frt_known, t.frt_max = (1.0, True, None) if rtt < 4.9 else (None, False, rtt)
            t.handed_off |= bool(out["escalated"])
        if plan.agent:
            self._agent_reply(t)
        if plan.vote:
            self.call("POST", "/api/v1/ai/feedback", json={
                "message_id": first_msg["message_id"], "vote": plan.vote, "sig": first_msg["feedback_sig"]})
            t.voted, t.down = True, plan.vote == "down"
        return t

    def _openai(self, i: int, plan: Plan, rng: random.Random) -> Truth:
        user = f"live{self.seed}o{i:06d}"
        thread = f"thread-{self.seed}-{i}"
        t = self.local.current = Truth("openai", OA_CHANNEL, user, now())
        t.arm = arm_for(self.setup["salt"], self.setup["share"], user)
        history: list[dict] = [{"role": "system", "content": "You are the hibachi assistant."}]
        first = None
        for turn in range(plan.turns):
            history.append({"role": "user", "content": rng.choice(QUESTIONS)})
            with self._first(turn):
                t0 = time.monotonic()
                out = self.call("POST", "/v1/chat/completions",
                                json={"model": "supportloop", "messages": history, "user": user},
                                headers={**self.key(OA_CHANNEL), "X-Supportloop-Conversation": thread}).json()
                rtt = time.monotonic() - t0
            sl = out["supportloop"]
            history.append({"role": "assistant", "content": out["choices"][0]["message"]["content"]})
            if turn == 0:
                t.cid, first = sl["conversation_id"], sl
                t.frt_s, t.frt_known, t.frt_max = (1.0, True, None) if rtt < 4.9 else (None, False, rtt)
            t.handed_off |= bool(sl["escalated"])
            seen = self.setup["versions"].get(sl["kb_version_id"])
            if seen is not None and t.arm_seen is None:
                t.arm_seen = seen
        if plan.agent:
            self._agent_reply(t)
        if plan.vote:
            link = urlparse(first["feedback"][plan.vote])
            q = {k: v[0] for k, v in parse_qs(link.query).items()}
            self.call("POST", "/api/v1/ai/feedback", data={"id": q["id"], "vote": q["vote"], "sig": q["sig"]})
            t.voted, t.down = True, plan.vote == "down"
        return t

    def _ingest(self, i: int, plan: Plan, rng: random.Random) -> Truth:
        current = now()
        midnight = dt.datetime.combine(current.date(), dt.time())
        day_start = midnight - dt.timedelta(days=plan.day)
        latest = min(current - dt.timedelta(minutes=3), day_start + dt.timedelta(days=1))
        span = (latest - day_start).total_seconds()
        start = day_start + dt.timedelta(seconds=rng.uniform(0.05, 0.5) * span)
        start = start.replace(microsecond=0)
        room = (current - start).total_seconds() - 120
        frt = _frt_for(rng, room)
        user = f"live{self.seed}i{i:06d}"
        t = Truth("ingest", plan.channel, user, start, frt_s=frt)
        reply_at = start + dt.timedelta(seconds=frt)
        msgs = [{"role": "user", "content": rng.choice(QUESTIONS), "created_at": start.isoformat()}]
        if plan.agent == "first":
            msgs.append({"role": "agent", "content": "Hi, this is Sam from the office; yes we can.",
                         "created_at": reply_at.isoformat()})
            t.handed_off = True
        else:
            msgs.append({"role": "assistant", "content": "The adult price is sixty dollars per guest.",
                         "created_at": reply_at.isoformat(), "confidence": 0.9, "model_used": "gpt-4o-mini",
                         "tokens_in": 300, "tokens_out": 40, "cost_usd": plan.costs[0] / 1e6})
            t.cost_micro += plan.costs[0]
        last = reply_at
        if plan.turns > 1:
            gap = min(30.0, max(1.0, (current - last).total_seconds() / 4))
            q_at, a_at = last + dt.timedelta(seconds=gap), last + dt.timedelta(seconds=2 * gap)
            msgs.append({"role": "user", "content": "And for kids?", "created_at": q_at.isoformat()})
            msgs.append({"role": "assistant", "content": "Kids pay thirty dollars.",
                         "created_at": a_at.isoformat(), "model_used": "gpt-4o-mini",
                         "cost_usd": plan.costs[1] / 1e6})
            t.cost_micro += plan.costs[1]
            last = a_at
        body = {"external_user_id": user, "external_id": f"live-{self.seed}-{i}",
                "created_at": start.isoformat(), "messages": msgs}
        t.cid = self.call("POST", "/api/v1/conversations", json=body, headers=self.key(plan.channel)).json()[
            "conversation_id"]
        self.local.current = t
        if plan.agent == "reply":
            at = last + dt.timedelta(seconds=min(20.0, max(1.0, (current - last).total_seconds() / 4)))
            self._agent_reply(t, at)
        return t

    def _outcome(self, i: int, plan: Plan, t: Truth, rng: random.Random) -> None:
        booked = plan.outcome == "booked"
        value = round(rng.uniform(600, 2400), 2) if booked else None
        body = {"conversation_id": t.cid, "converted": booked, "value_usd": value,
                "email": f"customer-{self.seed}-{i}@example.com", "send_survey": plan.csat is not None}
        self.call("POST", "/api/v1/outcomes", json=body, headers=self.key(t.channel))
        t.booked, t.value = booked, value or 0.0

    def close(self, t: Truth) -> None:
        out = self.call("POST", f"/api/v1/conversations/{t.cid}/close", json={"resolution": "answered"},
                        headers=self.key(t.channel)).json()
        if out["status"] != "closed":
            self.errors.append(f"close {t.cid}: status {out['status']}")
        t.closed = True

    def answer_survey(self, token: str, score: int) -> None:
        self.call("POST", f"/survey/{token}", data={"score": str(score)})


# --- one backend --------------------------------------------------------------------------
def run_backend(name: str, url: str, args: argparse.Namespace, tmp: Path) -> tuple[dict, list[dict]]:
    from aiosmtpd.controller import Controller  # reason: only the benchmark runs an SMTP server

    t_start = time.monotonic()
    port, smtp_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = bench_settings(url, tmp / name, secrets.token_urlsafe(48), smtp_port, base)
    setup = set_up(settings)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    proc = start_api(settings, port)
    driver = Driver(base, setup, args.seed)
    rng = random.Random(args.seed)
    plans = make_plans(args.conversations, rng)
    mismatches: list[dict] = []
    try:
        # 1. the traffic: conversations, agent replies, votes, outcomes (surveys sent by e-mail).
        # The API loads its models on first use; warm it with requests that store nothing, then
        # run the first conversation of each path alone before the concurrent load.
        driver.warm_up()
        kinds = {p.kind for p in plans}
        firsts = sorted({next(i for i, p in enumerate(plans) if p.kind == k) for k in kinds})
        done = {i: driver.run(i, plans[i]) for i in firsts}
        rest = [i for i in range(len(plans)) if i not in done]
        with ThreadPoolExecutor(args.concurrency) as pool:
            done.update(zip(rest, pool.map(lambda i: driver.run(i, plans[i]), rest), strict=True))
        truths = [done[i] for i in range(len(plans))]
        t_traffic = time.monotonic()
        # 2. survey answers through the survey page, with the token from the received e-mail
        deadline = time.monotonic() + 60
        wanted = {f"customer-{args.seed}-{i}@example.com": i
                  for i, p in enumerate(plans) if p.csat is not None}
        sent = sum(1 for i in wanted.values() if truths[i].booked)
        while time.monotonic() < deadline and len(inbox.links) < sent:
            time.sleep(0.5)
        for address, i in wanted.items():
            token = inbox.links.get(address)
            if token is None:
                if truths[i].booked:
                    driver.errors.append(f"no survey e-mail for conversation {truths[i].cid}")
                continue
            driver.answer_survey(token, plans[i].csat)
            truths[i].csat = plans[i].csat
        # 3. the roll-up while conversations are still open (the incremental path runs next time)
        cli(settings, "jobs", "run", "metrics")
        # 4. explicit closes; the idle close (in-process, FixedClock) closes the rest
        explicit = [t for t, p in zip(truths, plans, strict=True) if p.close == "explicit" and t.cid]
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(driver.close, explicit))
        engine = make_engine(url)
        idle_clock = FixedClock(now() + dt.timedelta(minutes=settings.conversation_idle_minutes + 2))
        ctx = TaskContext(session_factory(engine), settings, clock=idle_clock)
        idle = conversation_idle_close(ctx)
        engine.dispose()
        for t in truths:
            t.closed = t.cid is not None  # every conversation is now closed: explicitly or idle
        # 5. read back: nothing may be left open past the idle window
        left_open = 0
        for status in ("ai", "escalated"):
            cursor = None
            while True:
                params = {"status": status, "limit": 200, **({"cursor": cursor} if cursor else {})}
                page = driver.call("GET", "/api/v1/conversations", params=params,
                                   headers=driver.key("read")).json()
                left_open += len(page["items"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        # 6. the roll-up again, then every figure
        cli(settings, "jobs", "run", "metrics")
        dash = driver.call("GET", "/api/v1/ai/metrics/dashboard", params={"days": DAYS},
                           headers=driver.key("read")).json()
        truths = [t for t in truths if t.cid is not None]
        checked = compare("window", expected(truths), {k: v["value"] for k, v in dash["kpis"].items()},
                          mismatches)
        for day in dash["series"]:
            day_truths = [t for t in truths if t.day.isoformat() == day["date"]]
            checked += compare(f"day {day['date']}", expected(day_truths), day, mismatches)
        for row in dash["by_channel"]:
            of_channel = [t for t in truths if t.channel == row["channel"]]
            checked += compare(f"channel {row['channel']}", expected(of_channel), row, mismatches)
        seen_channels = {row["channel"] for row in dash["by_channel"]}
        for channel in sorted({t.channel for t in truths} - seen_channels):
            mismatches.append({"scope": f"channel {channel}", "figure": "conversations", "expected":
                               sum(t.channel == channel for t in truths), "got": None})
        # the KB version split (metric_split): the version active when a conversation started -
        # v1 for the chats (activated before the traffic), none for ingest back-dated before it
        split = {row["kb_version_id"]: row for row in dash["by_kb_version"]}
        for version, of_version in ((setup["v1"], [t for t in truths if t.started >= setup["activated"]]),
                                    (None, [t for t in truths if t.started < setup["activated"]])):
            if of_version or version in split:
                checked += compare(f"kb_version {version}", expected(of_version), split.get(version, {}),
                                   mismatches)
        dist = {str(k): sum(t.csat == k for t in truths) for k in range(1, 6)}
        checked += compare("window csat_distribution", dist, dash["csat_distribution"], mismatches)
        # 7. each experiment arm's containment (supportloop experiment compare --json)
        cmp = json.loads(cli(settings, "experiment", "compare", str(setup["experiment"]), "--json"))
        for arm in ("control", "candidate"):
            routed = [t for t in truths if t.arm == arm]
            exp_arm = expected(routed)
            want = {"containment": exp_arm["containment_rate"], "conversion": exp_arm["conversion_rate"],
                    "conversations": len(routed), "closed": len(routed)}
            checked += compare(f"experiment {arm}", want, cmp[arm], mismatches)
        wrong_arm = [t.cid for t in truths if t.arm_seen is not None and t.arm_seen != t.arm]
        checked += 1
        if wrong_arm:
            mismatches.append({"scope": "experiment", "figure": "arm assignment", "expected": 0,
                               "got": len(wrong_arm), "conversations": wrong_arm[:20]})
        t_end = time.monotonic()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        smtp.stop()
    result = {
        "conversations": len(truths),
        "figures_checked": checked,
        "mismatches": len(mismatches),
        "left_open_after_idle_close": left_open,
        "closed_explicitly": len(explicit),
        "closed_by_idle_task": idle.get("closed"),
        "by_path": {k: sum(t.kind == k for t in truths) for k in ("widget", "openai", "ingest")},
        "handed_off": sum(t.handed_off for t in truths),
        "booked": sum(t.booked for t in truths),
        "csat_answers": sum(t.csat is not None for t in truths),
        "votes": sum(t.voted for t in truths),
        "frt_unknown": sum(not t.frt_known for t in truths),
        "driver_errors": len(driver.errors),
        "driver_error_samples": driver.errors[:10],
        "traffic_seconds": round(t_traffic - t_start, 1),
        "total_seconds": round(t_end - t_start, 1),
        "idle_clock": "conversation_idle_close called in-process with FixedClock(now + idle minutes + 2)",
    }
    print(f"[{name}] {result['conversations']} conversations, {checked} figures checked, "
          f"{len(mismatches)} mismatches, {left_open} left open, {len(driver.errors)} driver errors, "
          f"{result['total_seconds']} s", flush=True)
    for m in mismatches[:20]:
        print(f"  mismatch {m}", flush=True)
    return result, [{"backend": name, **m} for m in mismatches]


def run_postgresql(args: argparse.Namespace, tmp: Path) -> tuple[dict, list[dict]]:
    dbname = f"supportloop_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    except Exception as exc:  # noqa: BLE001 - report and go on without PostgreSQL
        admin.dispose()
        print(f"[postgresql] skipped: {str(exc).splitlines()[0]}")
        return {"skipped": str(exc).splitlines()[0]}, []
    try:
        return run_backend("postgresql", PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}", args, tmp)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--conversations", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="60 conversations (the smoke test)")
    p.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"],
                   choices=["sqlite", "postgresql"])
    p.add_argument("--concurrency", type=int, default=4, help="client threads")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.conversations = 60
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    results: dict[str, Any] = {"conversations_asked": args.conversations, "seed": args.seed,
                               "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    all_mismatches: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            if backend == "sqlite":
                res, mm = run_backend("sqlite", f"sqlite:///{Path(tmp) / 'live.db'}", args, Path(tmp))
            else:
                res, mm = run_postgresql(args, Path(tmp))
            results[backend] = res
            all_mismatches += mm
            results["mismatch_list"] = all_mismatches
            args.output.parent.mkdir(parents=True, exist_ok=True)  # written after each backend
            args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
