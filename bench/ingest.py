"""Ingest benchmark: import 20,000 messages (with PII scrubbing) into SQLite and PostgreSQL.

    .venv/bin/python -m bench.ingest [--messages 20000] [--sample 1000] [--skip-pg]

Generates realistic, varied hibachi-catering conversations (about a third of the customer
messages carry a name, phone, e-mail or street address) as one JSONL file, then times
``core.conversations.ingest.import_file`` end to end (read, validate, scrub, write, commit) into a fresh
SQLite file and a scratch PostgreSQL database (created and dropped here). Scrub time per
message (p50/p99) is measured by scrubbing a sample of the messages one at a time. Identical
texts are scrubbed once per batch (``distinct_texts`` in the results says how many were).
Writes bench/results/ingest.json. Target: >= 300 messages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from core.conversations.ingest import import_file  # noqa: E402
from core.platform.config import Settings  # noqa: E402
from core.platform.db import make_engine, session_factory, session_scope, upgrade  # noqa: E402
from core.platform.models import Message  # noqa: E402
from core.platform.pii import get_scrubber  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
PG_ADMIN_URL = os.environ.get("SUPPORTLOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

FIRST = [
    "Maria",
    "John",
    "Aisha",
    "Wei",
    "Priya",
    "Carlos",
    "Olga",
    "Kenji",
    "Fatima",
    "Liam",
    "Nguyen",
    "Sofia",
    "Mohammed",
    "Emily",
    "Tomasz",
    "Yuki",
    "Chinedu",
    "Isabella",
    "Dmitri",
    "Grace",
]
LAST = [
    "Gonzalez",
    "Smith",
    "Khan",
    "Zhang",
    "Patel",
    "Silva",
    "Ivanova",
    "Tanaka",
    "Hassan",
    "O'Brien",
    "Tran",
    "Rossi",
    "Al-Farsi",
    "Johnson",
    "Kowalski",
    "Sato",
    "Okafor",
    "Martinez",
    "Petrov",
    "Lee",
]
STREETS = ["Oak St", "Maple Avenue", "Sunset Blvd", "Elm Drive", "Lakeview Rd", "Cedar Lane", "Main Street"]
CITIES = ["Austin, TX 78701", "Round Rock, TX 78664", "San Marcos, TX 78666", "Cedar Park, TX 78613"]
EVENTS = [
    "birthday party",
    "graduation",
    "anniversary dinner",
    "company picnic",
    "wedding rehearsal",
    "backyard party",
    "retirement party",
    "baby shower",
]
ASKS = [
    "How much is hibachi for {n} adults and {k} kids?",
    "Do you travel to {city}? It's for a {event} on {date}.",
    "Is the filet mignon upgrade extra? We have {n} guests.",
    "What's your cancellation policy if it rains on {date}?",
    "Can you do a vegetarian option for {k} of our guests?",
    "What is the party minimum? We're only {n} people.",
    "How much space do you need to set up the grill?",
    "Do you bring plates and chopsticks, or do we?",
    "Is the $200 deposit refundable?",
    "Do we tip the chef separately?",
    "Can we add shrimp and scallops for {n} people?",
    "My daughter has a peanut allergy, is that ok?",
]
PII = [
    "I'm {name}, you can reach me at {phone}.",
    "Email me the quote at {email} please.",
    "The address is {addr}, {city}.",
    "This is {name}. My cell is {phone} and email {email}.",
    "Please call {phone} after 5pm, ask for {first}.",
]
REPLIES = [
    "Our hibachi is $60 per adult and $30 per child, with a $600 party minimum.",
    "Yes, we travel up to 50 miles; a travel fee of $1 per mile applies after the first 20 miles.",
    "Filet mignon is a $5 per person upgrade. Shrimp and scallops are $4 each.",
    "If it rains we can cook under a covered patio or garage; otherwise we reschedule at no cost.",
    "We need about 10 by 10 feet of flat outdoor space for the grill.",
    "You provide tables, chairs, plates and utensils; we bring the chef, grill and food.",
    "The deposit is refundable up to 7 days before the event.",
    "Tips are appreciated, 20% is customary, and go straight to the chef.",
    "Yes, we can accommodate allergies; please list them when you book.",
]
CHANNELS = ["email", "sms", "web", "instagram", "facebook", "phone"]


def _phone(r: random.Random) -> str:
    a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
    return r.choice(
        [
            f"({a}) {b}-{c:04d}",
            f"{a}-{b}-{c:04d}",
            f"+1 {a} {b} {c:04d}",
            f"{a}.{b}.{c:04d}",
            f"+44 20 7946 {c:04d}",
            f"{a}-{b}-{c:04d} ext. {r.randint(10, 999)}",
        ]
    )


GREETINGS = [
    "",
    "Hi!",
    "Hello,",
    "Hey there.",
    "Good morning!",
    "Hi team,",
    "Quick question:",
    "Hello again.",
]
SIGN_OFFS = ["", "Thanks!", "Thank you.", "Appreciate it!", "Let me know.", "Thanks so much :)"]


def _customer(r: random.Random) -> str:
    """A customer message: greeting, one or two questions, sometimes personal data, sign-off."""
    first, last = r.choice(FIRST), r.choice(LAST)
    domain = r.choice(["gmail.com", "yahoo.com", "outlook.com", "example.org"])
    fields = dict(
        n=r.randint(8, 60),
        k=r.randint(1, 12),
        city=r.choice(CITIES).split(",")[0],
        event=r.choice(EVENTS),
        date=f"{r.choice(['May', 'June', 'July', 'August'])} {r.randint(1, 28)}",
        first=first,
        name=f"{first} {last}",
        phone=_phone(r),
        email=f"{first.lower()}.{last.lower().replace(chr(39), '')}@{domain}",
        addr=f"{r.randint(10, 9999)} {r.choice(STREETS)}",
    )
    parts = [r.choice(GREETINGS), r.choice(ASKS).format(**fields)]
    if r.random() < 0.4:
        parts.append(r.choice(ASKS).format(**fields))
    if r.random() < 0.35:
        parts.insert(r.choice([1, len(parts)]), r.choice(PII).format(**fields))
    parts.append(r.choice(SIGN_OFFS))
    return " ".join(p for p in parts if p)


def _reply(r: random.Random) -> str:
    """Assistant/agent replies: KB answers, most of them addressed to the customer by name or
    with a computed quote (so texts repeat about as often as real templated answers do)."""
    text = r.choice(REPLIES)
    if r.random() < 0.6:
        n = r.randint(10, 60)
        text = (
            r.choice([f"Thanks {r.choice(FIRST)}! ", f"For {n} guests that comes to ${n * 60}. ", ""]) + text
        )
    return text


def make_file(path: Path, messages: int, seed: int = 11, all_distinct: bool = False) -> int:
    """Write conversations of 2-8 messages totalling ``messages`` messages; returns the count."""
    r = random.Random(seed)
    written, n = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while written < messages:
            size = min(r.randint(2, 8), messages - written)
            msgs = []
            for i in range(size):
                role = "user" if i % 2 == 0 else r.choice(["assistant"] * 4 + ["agent"])
                content = _customer(r) if role == "user" else _reply(r)
                if all_distinct:  # worst case: no two texts alike, nothing to deduplicate
                    content += f" (ref {n}-{i})"
                msgs.append(
                    {
                        "role": role,
                        "content": content,
                        "created_at": f"2025-05-{1 + n % 28:02d}T{10 + i // 6:02d}:{(i * 7) % 60:02d}:00Z",
                        "cost_usd": 0.002 if role == "assistant" else None,
                    }
                )
            fh.write(
                json.dumps(
                    {
                        "external_id": f"bench-{n}",
                        "channel": r.choice(CHANNELS),
                        "external_user_id": f"user-{r.randint(1, 3000)}",
                        "status": r.choice(["closed", "closed", "escalated", "ai"]),
                        "messages": msgs,
                    }
                )
                + "\n"
            )
            written += size
            n += 1
    return written


def run_import(url: str, path: Path, scrubber, settings: Settings) -> dict:
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    t0, c0 = time.perf_counter(), time.process_time()
    with session_scope(factory) as session:
        report = import_file(session, path, scrubber, settings)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Message))
    engine.dispose()
    return {
        "messages": stored,
        "seconds": round(seconds, 2),
        "messages_per_s": round(report.messages_created / seconds, 1),
        "scrub_share": round(report.scrub_seconds / seconds, 3),
        "distinct_texts": report.texts_scrubbed,
        # CPU seconds of this process (the PostgreSQL server's work is not in it): a figure
        # that moves less than wall time when other programs load the machine.
        "cpu_seconds": round(cpu, 2),
        "messages_per_cpu_s": round(report.messages_created / cpu, 1),
    }


def scrub_latencies(scrubber, texts: list[str]) -> tuple[float, float]:
    times = []
    for t in texts:
        t0 = time.perf_counter()
        scrubber.scrub(t)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return round(statistics.median(times), 2), round(times[min(len(times) - 1, int(len(times) * 0.99))], 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--sample", type=int, default=1000, help="messages scrubbed one by one for p50/p99")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--all-distinct", action="store_true", help="make every message text unique (worst case)")
    args = ap.parse_args()

    settings = Settings(_env_file=None)
    t0 = time.perf_counter()
    scrubber = get_scrubber(settings)
    scrubber.scrub_batch(["warm up the pipeline, call 512-555-0100"])
    print(f"scrubber loaded in {time.perf_counter() - t0:.1f}s (not counted)")

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        total = make_file(path, args.messages, all_distinct=args.all_distinct)
        texts = [m["content"] for line in path.open() for m in json.loads(line)["messages"]]
        p50, p99 = scrub_latencies(scrubber, random.Random(3).sample(texts, min(args.sample, len(texts))))
        print(f"{total} messages; scrub per message p50 {p50} ms, p99 {p99} ms (sample of {args.sample})")

        res = run_import(f"sqlite:///{tmp}/bench.db", path, scrubber, settings)
        results["sqlite"] = {**res, "scrub_ms_p50": p50, "scrub_ms_p99": p99}
        print(
            f"sqlite:     {res['messages_per_s']} messages/s ({res['seconds']}s, "
            f"{res['messages_per_cpu_s']} per CPU second, scrubbing "
            f"{res['scrub_share']:.0%} of it)"
        )

        if not args.skip_pg:
            name = f"supportloop_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                res = run_import(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", path, scrubber, settings)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
            results["postgresql"] = {**res, "scrub_ms_p50": p50, "scrub_ms_p99": p99}
            print(
                f"postgresql: {res['messages_per_s']} messages/s ({res['seconds']}s, "
                f"{res['messages_per_cpu_s']} per CPU second, scrubbing "
                f"{res['scrub_share']:.0%} of it)"
            )

    out = RESULTS.with_name("ingest_all_distinct.json") if args.all_distinct else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
