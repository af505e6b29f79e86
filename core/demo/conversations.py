"""The deterministic demo conversations of "Ember Grill Hibachi" (``core.demo.business``).

``generate_conversations(size, seed, now)``: 90 days of conversations ending at ``now`` across
the six channels, with week-day/hour patterns, a spring/summer growth trend, escalations,
bookings, CSAT, model costs and realistic personal data in the raw text (so scrubbing has
something to do). Everything comes from one ``random.Random(seed)``: the same size, seed and
``now`` give the same list. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from core.conversations.schemas import ConversationIn, MessageIn, OutcomeIn
from core.demo.business import (
    ADULT_PRICE,
    AGENT_REPLIES,
    AGENTS,
    ANSWER_PREFIX,
    ANSWER_SUFFIX,
    AREA_CODES,
    ASKS,
    CHANNEL_MIX,
    CITIES,
    DAYS,
    DEPOSIT,
    EMAIL_DOMAINS,
    ESCALATIONS,
    FIRST_NAMES,
    GREETINGS,
    HANDOFF_TEXT,
    HOUR_WEIGHTS,
    KID_PRICE,
    LAST_NAMES,
    MODELS,
    PARTY_MINIMUM,
    SIZES,
    STREETS,
    SWEARING,
    TEST_CARDS,
    THANKS,
    TRAVEL_FEES,
    UTC_OFFSET_H,
    WEEKDAY_WEIGHTS,
)
from core.demo.knowledge import demo_kb_entries
from core.platform.clock import SystemClock
from core.platform.errors import ValidationError
from core.platform.statuses import Channel, ConversationStatus, MessageRole


@dataclass
class _Customer:
    first: str
    last: str
    phone: str
    email: str
    address: str
    city: str
    user_id: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


def _phone(rng: random.Random, tier: int) -> str:
    area = rng.choice(AREA_CODES[tier])
    line = f"01{rng.randint(0, 99):02d}"  # 555-0100..0199 is reserved for fiction
    style = rng.random()
    if style < 0.4:
        return f"({area}) 555-{line}"
    if style < 0.65:
        return f"{area}-555-{line}"
    if style < 0.8:
        return f"{area}.555.{line}"
    if style < 0.92:
        return f"+1 {area} 555 {line}"
    return f"{area} 555 {line}"


def _email(rng: random.Random, first: str, last: str) -> str:
    f, ln = first.lower(), last.lower().replace("'", "")
    local = rng.choice([f"{f}.{ln}", f"{f}{ln}", f"{f[0]}{ln}", f"{f}_{ln}{rng.randint(1, 99)}",
                        f"{f}{rng.randint(70, 99)}"])
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _new_customer(rng: random.Random, channel: str, n: int) -> _Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city = rng.choices(list(CITIES), weights=[(4, 2.5, 1, 0.6)[t] for t in CITIES.values()])[0]
    tier = CITIES[city]
    unit = f", Apt {rng.randint(1, 30)}{rng.choice('ABCD')}" if rng.random() < 0.12 else ""
    address = f"{rng.randint(10, 9899)} {rng.choice(STREETS)}{unit}, {city}"
    prefix = {Channel.EMAIL: "em", Channel.SMS: "sms", Channel.WEB: "web", Channel.INSTAGRAM: "ig",
              Channel.FACEBOOK: "fb", Channel.PHONE: "call"}[channel]
    return _Customer(first, last, _phone(rng, tier), _email(rng, first, last), address, city,
                     f"{prefix}-{n:06d}")


def _thanks(rng: random.Random, extra: str = "") -> str:
    text = rng.choice(THANKS)
    return f"{text.rstrip('!.')}. {extra}" if extra else text


def _styled(rng: random.Random, channel: str, text: str, emoji: bool = True) -> str:
    if channel in (Channel.SMS, Channel.INSTAGRAM, Channel.FACEBOOK) and rng.random() < 0.35:
        text = text[0].lower() + text[1:]
        if text.endswith("?") and rng.random() < 0.5:
            text = text[:-1]
    if emoji and channel in (Channel.INSTAGRAM, Channel.FACEBOOK) and rng.random() < 0.25:
        text += rng.choice([" 🙏", " 🔥", " 😊", "!!"])
    return text


def _pii_intro(rng: random.Random, c: _Customer, channel: str) -> str:
    """A sentence with the customer's personal data (so scrubbing is visible)."""
    if channel == Channel.PHONE:
        return rng.choice([f"This is {c.full}, my number is {c.phone}.",
                           f"{c.full} calling, you can call me back at {c.phone}.",
                           f"My name is {c.full}."])
    if channel == Channel.EMAIL:
        return ""  # e-mails carry a signature instead
    if channel == Channel.WEB:
        return rng.choice([f"I'm {c.first}, my email is {c.email}.", f"This is {c.full}.",
                           f"Name's {c.first} {c.last}, email {c.email}.", ""])
    return rng.choice([f"This is {c.full}, my number is {c.phone}.", f"It's {c.first}!",
                       f"{c.full} here.", ""])


def _signature(rng: random.Random, c: _Customer) -> str:
    return rng.choice([f"\n\nThanks,\n{c.full}\n{c.phone}", f"\n\nBest,\n{c.first}\n{c.email}",
                       f"\n\n{c.full}\nCell: {c.phone}", f"\n\nThank you!\n{c.first} {c.last}"])


def _decap(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first in ("I", "I'm", "I'd", "I've") or first.isupper() or first in FIRST_NAMES:
        return text
    return text[:1].lower() + text[1:]


def _opening(rng: random.Random, channel: str, c: _Customer, intro: str, text: str) -> str:
    """The first customer message: greeting, maybe personal data, the question."""
    if channel == Channel.EMAIL:
        greeting = rng.choice(["Hello,", "Hi,", "Good morning,", "Hi there,", "Hello Ember Grill team,"])
        return f"{greeting}\n\n{text}{_signature(rng, c)}"
    greeting = rng.choice(GREETINGS)
    if greeting.endswith(","):  # "Hi, this is ..." reads better than "Hi, This is ..."
        if intro:
            intro = _decap(intro)
        else:
            text = _decap(text)
    return " ".join(p for p in (greeting, intro, text) if p)


def _cost(model: str, tin: int, tout: int) -> float:
    pin, pout = MODELS[model]
    return round((tin * pin + tout * pout) / 1_000_000, 6)


class _Builder:
    """Builds one conversation's messages with a running timestamp."""

    def __init__(self, rng: random.Random, channel: str, customer: _Customer, start: dt.datetime):
        self.rng, self.channel, self.c, self.at = rng, channel, customer, start
        self.messages: list[MessageIn] = []

    def user(self, text: str, gap_min: tuple[float, float] = (0.5, 20)) -> None:
        if self.messages:
            lo, hi = gap_min
            if self.channel == Channel.EMAIL:
                lo, hi = lo * 6, hi * 8
            self.at += dt.timedelta(minutes=self.rng.uniform(lo, hi))
        self.messages.append(MessageIn(MessageRole.USER, text, created_at=self.at))

    def assistant(self, text: str, confidence: float) -> None:
        rng = self.rng
        model = "gpt-4o" if rng.random() < 0.06 else "gpt-4o-mini"
        latency = rng.lognormvariate(math.log(1400), 0.35)
        self.at += dt.timedelta(milliseconds=latency + rng.uniform(200, 4000))
        tin = rng.randint(450, 1400) + 40 * len(self.messages)
        tout = max(20, int(len(text) / 4 + rng.randint(-5, 15)))
        self.messages.append(MessageIn(
            MessageRole.ASSISTANT, text, created_at=self.at, confidence=round(confidence, 3),
            model_used=model, latency_ms=round(latency, 1), tokens_in=tin, tokens_out=tout,
            cost_usd=_cost(model, tin, tout),
        ))

    def agent(self, text: str) -> None:
        self.at += dt.timedelta(minutes=self.rng.uniform(4, 180))
        self.messages.append(MessageIn(MessageRole.AGENT, text, created_at=self.at))


def _answer(rng: random.Random, kb: dict, first: str | None) -> str:
    prefix = rng.choice(ANSWER_PREFIX).format(name=f", {first}" if first and rng.random() < 0.5 else "")
    return prefix + kb["text"] + rng.choice(ANSWER_SUFFIX)


def _question(rng: random.Random, kb_id: str, kb_by_id: dict) -> str:
    if kb_id in ASKS:
        return rng.choice(ASKS[kb_id][1])
    return f"Can you tell me about {kb_by_id[kb_id]['title'].lower()}?"


def _day_weights(rng: random.Random, first_day: dt.date, days: int) -> list[float]:
    weights = []
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        growth = 1.0 + 0.6 * d / max(1, days - 1)
        season = 1.0 + 0.35 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 190) / 365)
        weights.append(growth * season * WEEKDAY_WEIGHTS[day.weekday()] * rng.uniform(0.85, 1.15))
    return weights


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` over days proportionally (largest remainder, exact total)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def generate_conversations(
    size: str = "small", seed: int = 7, now: dt.datetime | None = None
) -> list[ConversationIn]:
    """The demo conversations (not stored): 90 days ending at ``now`` (naive UTC).

    Pure and deterministic: the same ``size``, ``seed`` and ``now`` give the same list.
    """
    if size not in SIZES:
        raise ValidationError(f"Unknown demo size {size!r}; use one of {', '.join(SIZES)}.")
    now = (now or SystemClock().now()).replace(microsecond=0)
    rng = random.Random(seed)
    kb_by_id = {e["external_id"]: e for e in demo_kb_entries()}
    topics = list(kb_by_id)
    topic_w = [ASKS[t][0] if t in ASKS else 0.3 for t in topics]
    channels, channel_w = list(CHANNEL_MIX), list(CHANNEL_MIX.values())
    reasons = list(ESCALATIONS)
    reason_w = [ESCALATIONS[r][0] for r in reasons]

    local_now = now - dt.timedelta(hours=UTC_OFFSET_H)
    first_day = local_now.date() - dt.timedelta(days=DAYS - 1)
    counts = _allocate(SIZES[size], _day_weights(rng, first_day, DAYS))
    customers: dict[str, list[_Customer]] = {c: [] for c in Channel}
    out: list[ConversationIn] = []
    n_customers = 0

    for d, count in enumerate(counts):
        day = first_day + dt.timedelta(days=d)
        starts = []
        for _ in range(count):
            for _try in range(30):
                hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
                local = dt.datetime.combine(day, dt.time(hour)) + dt.timedelta(seconds=rng.randint(0, 3599))
                start = local + dt.timedelta(hours=UTC_OFFSET_H)
                if start <= now - dt.timedelta(minutes=20):
                    break
            else:
                start = now - dt.timedelta(minutes=rng.randint(20, 600))
            starts.append((start, hour))
        starts.sort()
        for start, hour in starts:
            channel = rng.choices(channels, weights=channel_w)[0]
            if channel == Channel.PHONE and not 9 <= hour < 21:
                channel = Channel.WEB
            pool = customers[channel]
            if pool and rng.random() < 0.15:
                cust = rng.choice(pool)
            else:
                n_customers += 1
                cust = _new_customer(rng, channel, n_customers)
                pool.append(cust)
            out.append(_conversation(rng, len(out) + 1, seed, channel, cust, start, now, kb_by_id,
                                     topics, topic_w, reasons, reason_w))
    _add_swearing(out)
    return out


def _add_swearing(convs: list[ConversationIn]) -> None:
    """Every other complaint (and at least three escalations in all) starts with a swear word."""
    complaints = [c for c in convs if c.escalation_reason == "complaint"]
    angry = complaints[::2]
    if len(angry) < 3:
        others = [c for c in convs if c.escalation_reason and c.escalation_reason != "complaint"]
        angry += (complaints[1::2] + others)[: 3 - len(angry)]
    for k, conv in enumerate(angry):
        i = next(i for i, m in enumerate(conv.messages)
                 if m.role == MessageRole.ASSISTANT and m.content == HANDOFF_TEXT)
        conv.messages[i - 1].content = SWEARING[k % len(SWEARING)] + conv.messages[i - 1].content


def _conversation(rng, n, seed, channel, cust, start, now, kb_by_id, topics, topic_w, reasons, reason_w):
    b = _Builder(rng, channel, cust, start)
    roll = rng.random()
    kind = "info" if roll < 0.55 else "booking" if roll < 0.73 else "escalation" if roll < 0.88 else "short"
    adults = rng.choice([8, 10, 10, 12, 12, 14, 15, 16, 18, 20, 22, 25, 28, 30])
    kids = rng.choice([0, 0, 0, 2, 3, 4, 5, 6])
    when = start + dt.timedelta(days=rng.randint(7, 60))
    event_day = f"{when:%A, %B} {when.day}"
    fmt = {"first": cust.first, "adults": adults, "city": cust.city, "day": event_day,
           "big": rng.choice([70, 80, 90, 120]), "small": rng.randint(4, 8)}

    n_q = {"info": rng.choice([1, 1, 2, 2, 3]), "booking": rng.choice([1, 2, 2]),
           "escalation": rng.choice([0, 0, 1]), "short": 1}[kind]
    asked = rng.choices(topics, weights=topic_w, k=n_q)
    intent = kb_by_id[asked[0]]["category"] if asked else None
    for i, kb_id in enumerate(asked):
        q = _styled(rng, channel, _question(rng, kb_id, kb_by_id))
        if i == 0:
            intro = _pii_intro(rng, cust, channel) if rng.random() < 0.75 else ""
            text = _opening(rng, channel, cust, intro, q)
        else:
            text = q
        b.user(text)
        known = cust.first if cust.first in b.messages[0].content else None
        b.assistant(_answer(rng, kb_by_id[kb_id], known), rng.betavariate(9, 2) * 0.35 + 0.62)

    booking_value = None
    reason = agent = escalated_at = None
    if kind == "booking":
        intent = "booking"
        tier = CITIES[cust.city]
        upgrades = rng.choice([0, 0, 0, 5, 15]) * rng.randint(0, adults // 2)
        food = max(PARTY_MINIMUM, adults * ADULT_PRICE + kids * KID_PRICE)
        booking_value = float(food + upgrades + TRAVEL_FEES[tier])
        kids_txt = f" and {kids} kids" if kids else ""
        b.user(_styled(rng, channel, rng.choice([
            f"Let's book it! {adults} adults{kids_txt} on {event_day}, 5pm. Address is {cust.address}.",
            f"Ok we'd like to reserve {event_day} for {adults} adults{kids_txt}. We're at {cust.address}.",
            f"Great, please put us down for {event_day}: {adults} adults{kids_txt}, party at "
            f"{cust.address}. My cell is {cust.phone}.",
        ])))
        travel = TRAVEL_FEES[tier]
        travel_txt = f" plus a ${travel} travel fee to {cust.city}" if travel else " with no travel fee"
        b.assistant(
            f"Wonderful! For {adults} adults{kids_txt} the food total is ${food:,}{travel_txt}. "
            f"A ${DEPOSIT} deposit holds {event_day}; here is your secure booking link: "
            f"https://embergrill.example/book/{rng.randrange(16**8):08x}",
            rng.uniform(0.82, 0.97),
        )
        if n_q == 1 and rng.random() < 0.08:
            card = rng.choice(TEST_CARDS)
            b.user(f"can I just give you my card here? {card} exp 09/27")
            b.assistant("Please don't share card numbers in messages: for your security, pay the deposit "
                        "through the booking link. We never ask for card details in chat.", 0.93)
        if rng.random() < 0.75:
            b.user(_thanks(rng, "Deposit paid."))
        else:
            booking_value = None  # they did not complete the booking
            b.user(rng.choice(THANKS))
    elif kind == "escalation":
        reason = rng.choices(reasons, weights=reason_w)[0]
        intent = {"complaint": "complaint", "pricing exception": "pricing"}.get(reason, intent or "other")
        text = rng.choice(ESCALATIONS[reason][1]).format(**fmt)
        if not b.messages:
            text = _opening(rng, channel, cust, _pii_intro(rng, cust, channel), text)
        b.user(_styled(rng, channel, text, emoji=reason != "complaint"))
        conf = rng.uniform(0.2, 0.45) if reason == "low confidence" else rng.uniform(0.5, 0.8)
        b.assistant(HANDOFF_TEXT, conf)
        escalated_at = b.at
        agent = rng.choice(AGENTS)
        b.agent(AGENT_REPLIES[reason].format(agent=agent.split()[0], **fmt))
        if rng.random() < 0.6:
            b.user(rng.choice(["ok thank you", "Thanks, that works.", "Appreciate it.",
                               f"Sounds good, you can reach me at {cust.phone}."]))
        if reason == "pricing exception" and rng.random() < 0.4:
            booking_value = float(max(PARTY_MINIMUM, adults * (ADULT_PRICE - 5) + kids * KID_PRICE)
                                  + TRAVEL_FEES[CITIES[cust.city]])
    elif kind == "info" and rng.random() < 0.5:
        b.user(_styled(rng, channel, rng.choice(THANKS)))

    # a few info conversations still end in a booking through the website
    if kind == "info" and rng.random() < 0.05:
        booking_value = float(max(PARTY_MINIMUM, adults * ADULT_PRICE + kids * KID_PRICE))

    last = b.at
    age = now - last
    if escalated_at and age < dt.timedelta(days=2) and rng.random() < 0.5:
        status, closed_at = ConversationStatus.ESCALATED, None
    elif not escalated_at and age < dt.timedelta(hours=6) and rng.random() < 0.6:
        status, closed_at = ConversationStatus.AI, None
    else:
        status = ConversationStatus.CLOSED
        closed_at = min(now, last + dt.timedelta(minutes=rng.uniform(15, 240)))
    # every timestamp stays in the past
    if any(m.created_at > now for m in b.messages):
        shift = max(m.created_at for m in b.messages) - now + dt.timedelta(minutes=1)
        for m in b.messages:
            m.created_at -= shift
        start -= shift
        escalated_at = escalated_at - shift if escalated_at else None
        if closed_at:
            closed_at = min(closed_at, now)

    csat = tone = None
    if status == ConversationStatus.CLOSED:
        tone = round(rng.uniform(0.1, 0.45) if reason == "complaint" else rng.uniform(0.55, 0.97), 3)
        if rng.random() < (0.55 if booking_value else 0.22):
            if reason == "complaint":
                csat = rng.choices([1, 2, 3, 4], weights=[3, 3, 2, 1])[0]
            else:
                csat = rng.choices([5, 4, 3, 2, 1], weights=[62, 25, 7, 3, 3])[0]

    meta = {
        Channel.EMAIL: {"subject": rng.choice(["Hibachi party question", "Booking inquiry", "Quote request",
                                               "Question about pricing", "Re: your hibachi catering"])},
        Channel.SMS: {"carrier": rng.choice(["verizon", "att", "tmobile"])},
        Channel.WEB: {"page": rng.choice(["/", "/pricing", "/menu", "/book", "/faq"])},
        Channel.INSTAGRAM: {"source": rng.choice(["dm", "story_reply", "post_comment"])},
        Channel.FACEBOOK: {"source": rng.choice(["messenger", "page_comment"])},
        Channel.PHONE: {"direction": "inbound", "duration_s": rng.randint(60, 900)},
    }[channel]
    return ConversationIn(
        channel=channel,
        external_user_id=cust.user_id,
        messages=b.messages,
        external_id=f"demo-{seed}-{n:06d}",
        status=status,
        channel_metadata=meta,
        created_at=start,
        escalated_at=escalated_at,
        closed_at=closed_at,
        escalation_reason=reason,
        assigned_agent=agent,
        intent=intent,
        outcome=OutcomeIn(booking_converted=booking_value is not None, booking_value_usd=booking_value,
                          csat=csat, tone_score=tone),
    )
