"""Deterministic demo data: "Ember Grill Hibachi", a private hibachi chef caterer in San Jose.

- ``demo_kb_entries()``: the knowledge base (core/demo/data/demo_kb.jsonl, one price list).
- ``demo_eval_questions()``: golden customer questions with the KB entry that answers them
  (core/demo/data/demo_eval.jsonl), the evaluation set of the knowledge base.
- ``generate_conversations(size, seed, now)``: 90 days of conversations ending at ``now``
  across the six channels, with week-day/hour patterns, a spring/summer growth trend,
  escalations, bookings, CSAT, model costs and realistic personal data in the raw text.
- ``load_demo(session, scrubber, settings, ..., embedder=...)``: stores them through
  ``core.conversations.ingest``; with an embedder it also runs the learning loop over them (see
  ``load_demo``), so every dashboard page has something to show.

Everything comes from one ``random.Random(seed)``: the same seed and the same ``now`` give
the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.conversations.ingest import ConversationIn, MessageIn, OutcomeIn, store_conversations
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import is_empty
from core.platform.errors import ValidationError
from core.platform.models import CHANNELS, Conversation

DATA_DIR = Path(__file__).resolve().parent / "data"
BUSINESS = "Ember Grill Hibachi"
SIZES = {"small": 150, "full": 5400}
DAYS = 90
UTC_OFFSET_H = 7  # the business runs on Pacific time; stored timestamps are naive UTC

ADULT_PRICE, KID_PRICE, PARTY_MINIMUM, DEPOSIT = 60, 30, 600, 100
TRAVEL_FEES = {0: 0, 1: 50, 2: 100, 3: 150}
CITIES = {  # city -> travel tier (matches kb-travel-* entries)
    "San Jose": 0, "Santa Clara": 0, "Sunnyvale": 0, "Mountain View": 0, "Cupertino": 0,
    "Campbell": 0, "Los Gatos": 0, "Milpitas": 0, "Fremont": 0, "Palo Alto": 0,
    "San Francisco": 1, "Oakland": 1, "Berkeley": 1, "San Mateo": 1, "Redwood City": 1,
    "Hayward": 1, "Walnut Creek": 1, "Pleasanton": 1, "Santa Cruz": 1, "Gilroy": 1,
    "Napa": 2, "Vallejo": 2, "Monterey": 2, "Stockton": 2, "Tracy": 2, "Modesto": 2,
    "Sacramento": 3, "Davis": 3, "Santa Rosa": 3, "Petaluma": 3,
}
AREA_CODES = {0: ["408", "669", "650"], 1: ["415", "510", "650", "925", "831"],
              2: ["707", "209", "831"], 3: ["916", "530", "707"]}

MODELS = {  # model -> (USD per 1M input tokens, USD per 1M output tokens)
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
}
AGENTS = ["Jenna Park", "Luis Ortega", "Aiko Tanaka", "Marcus Reed", "Priya Nair"]

CHANNEL_MIX = {"web": 30, "sms": 22, "instagram": 15, "email": 13, "facebook": 10, "phone": 10}
# local hour weights 0..23: quiet nights, lunch bump, busy evenings
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.5, 4, 4.5,
                5, 4.5, 4, 4, 4.5, 5.5, 7, 8, 8, 7, 5, 2.5]
WEEKDAY_WEIGHTS = [0.85, 0.8, 0.85, 0.95, 1.15, 1.35, 1.3]  # Monday .. Sunday

FIRST_NAMES = [
    "Maria", "James", "Wei", "Priya", "Carlos", "Aisha", "Kenji", "Olivia", "Mohammed", "Sofia",
    "Daniel", "Mei", "Rahul", "Emily", "Jose", "Fatima", "Hiroshi", "Grace", "Luis", "Ananya",
    "Michael", "Ngozi", "Thanh", "Sarah", "Diego", "Yuki", "Kwame", "Jessica", "Arjun", "Leila",
    "David", "Camila", "Minh", "Rachel", "Omar", "Hannah", "Tomasz", "Ashley", "Jin", "Valentina",
    "Brandon", "Chiara", "Kofi", "Lauren", "Ravi", "Elena", "Tyler", "Sakura", "Mateo", "Nadia",
]
LAST_NAMES = [
    "Gonzalez", "Smith", "Zhang", "Patel", "Hernandez", "Okafor", "Tanaka", "Johnson", "Rahman",
    "Rossi", "Kim", "Chen", "Sharma", "Williams", "Ramirez", "Hassan", "Yamamoto", "Nguyen",
    "Garcia", "Iyer", "Brown", "Adeyemi", "Tran", "Miller", "Lopez", "Sato", "Mensah", "Davis",
    "Reddy", "Haddad", "Wilson", "Torres", "Pham", "Cohen", "Khan", "Schmidt", "Kowalski",
    "Martinez", "Park", "Bianchi", "Asante", "Anderson", "Singh", "Petrov", "Thompson", "Ito",
    "Flores", "Novak", "O'Brien", "Castillo",
]
STREETS = [
    "Oak St", "Maple Ave", "Alvarado Rd", "Sunnyslope Dr", "Bascom Ave", "Lincoln Ave",
    "Willow Glen Way", "Mission Blvd", "Cedar Ln", "Redwood Ct", "Park Ave", "Stevens Creek Blvd",
    "El Camino Real", "Meridian Ave", "Hillview Dr", "Valley Oak Cir", "Magnolia Way",
    "Almaden Expy", "Chestnut St", "Vista Del Mar", "Pine Ridge Rd", "Laurel Dr", "Bay St",
    "Foothill Blvd", "Camino Alto",
]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "comcast.net"]
TEST_CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881"]

# Customer phrasings per KB entry (different from demo_eval.jsonl, which stays held out),
# with a popularity weight. Entries not listed are asked with a generic phrasing, rarely.
ASKS: dict[str, tuple[float, list[str]]] = {
    "kb-price-adult": (10, ["How much is it per person?", "what's your pricing for adults",
                            "What do you charge per guest?", "price per head?",
                            "Can you tell me how much a hibachi party costs per adult?"]),
    "kb-price-kids": (6, ["Do kids cost less?", "what's the price for children",
                          "are little ones free? we have a 3 year old and a 7 year old",
                          "How much for kids under 12?"]),
    "kb-party-minimum": (6, ["Is there a minimum number of guests?", "we're a small group of 7, is that ok",
                             "what's the minimum order", "Do you have a minimum for parties?"]),
    "kb-price-example": (4, ["Can you give me a ballpark for 15 adults and 3 kids?",
                             "what would 20 people cost total", "rough total for 10 adults 5 kids?"]),
    "kb-upgrade-filet": (4, ["Do you offer filet mignon?", "how much to upgrade to filet",
                             "is filet available as a protein"]),
    "kb-upgrade-lobster": (4, ["Do you do lobster?", "lobster tail price?",
                               "Can we upgrade to lobster for a few guests?"]),
    "kb-upgrade-scallops": (2, ["do you have scallops", "What does the scallop upgrade cost?"]),
    "kb-extra-protein": (2, ["can guests get more than 2 proteins", "How much for an extra protein?"]),
    "kb-appetizers": (3, ["Do you offer appetizers?", "can we add gyoza", "any add ons like edamame?"]),
    "kb-holiday-fee": (2, ["Are you open on Father's Day? any extra cost?",
                           "do you work on New Year's Eve"]),
    "kb-second-chef": (3, ["We have 40 guests, how does that work?",
                           "how many people can one chef cook for"]),
    "kb-discounts": (2, ["Any discounts available?", "do you have a military discount"]),
    "kb-tipping": (4, ["Is tip included?", "how much should we tip the chef",
                       "Do we tip the chef separately?"]),
    "kb-payment-methods": (4, ["What forms of payment do you accept?", "can I pay cash on the day",
                               "do you take credit cards"]),
    "kb-gift-cards": (2, ["Do you sell gift cards?", "I want to gift a party to my sister, possible?"]),
    "kb-corporate": (2, ["Do you do corporate events?", "Looking for an office party caterer for 30"]),
    "kb-travel-fee": (7, ["Do you charge for travel?", "how does the travel fee work",
                          "What's the delivery/travel charge?"]),
    "kb-travel-free-cities": (3, ["We're in Campbell, is there a travel fee?",
                                  "Is Mountain View within your free area?"]),
    "kb-travel-50-cities": (3, ["How much to come to Berkeley?", "travel fee for San Mateo?"]),
    "kb-travel-100-cities": (2, ["Do you come to Davis? how much?", "trip charge to Monterey?"]),
    "kb-service-area": (5, ["What areas do you serve?", "do you come to Santa Rosa",
                            "Do you service the East Bay?"]),
    "kb-parking": (1, ["where should the chef park?", "we have a gated driveway, is that ok"]),
    "kb-booking-steps": (8, ["How do I book?", "how do we make a reservation",
                             "What's the process to book a chef?", "how do I sign up for a date"]),
    "kb-deposit": (5, ["Is there a deposit?", "how much is the deposit", "do I pay anything upfront?"]),
    "kb-cancellation": (5, ["What's your cancellation policy?", "what if we need to cancel",
                            "Is the deposit refundable?"]),
    "kb-reschedule": (3, ["Can we change the date later?", "we may need to reschedule, is that allowed"]),
    "kb-final-headcount": (3, ["When do you need the final head count?",
                               "can I add a few guests last minute"]),
    "kb-lead-time": (4, ["How far in advance should we book?", "can you do a party tomorrow?"]),
    "kb-availability": (8, ["Do you have availability on Saturday the 21st?",
                            "Are you free next Sunday evening?", "is the 3rd of next month open",
                            "Any openings this Friday night?"]),
    "kb-start-times": (3, ["What times can the party start?", "can we start at 7:30pm"]),
    "kb-contact-hours": (1, ["What are your hours?", "can I call you tonight"]),
    "kb-modify-booking": (3, ["I need to change the time of my booking",
                              "how do I update my order"]),
    "kb-choose-proteins": (2, ["do all guests need to choose proteins now?",
                               "when do I send everyone's meat choices"]),
    "kb-chef-request": (1, ["can I request the same chef as last year?"]),
    "kb-setup-space": (5, ["How much space do you need?", "will the grill fit on our patio",
                           "what kind of space does the chef need"]),
    "kb-what-we-bring": (4, ["What do you bring?", "do we need to provide anything for the grill"]),
    "kb-tables-chairs": (4, ["Do you provide tables?", "do I need to rent chairs"]),
    "kb-plates-utensils": (2, ["Do you bring plates?", "do you provide chopsticks"]),
    "kb-chef-arrival": (3, ["When does the chef arrive?", "how early does the chef come to set up"]),
    "kb-duration": (4, ["How long is the party?", "how long does the chef stay"]),
    "kb-cleanup": (3, ["Do you clean up?", "Who cleans up after"]),
    "kb-rain-plan": (5, ["What happens if it rains?", "whats the bad weather plan",
                         "rain in the forecast, are we still on?"]),
    "kb-indoor": (3, ["Can you cook indoors?", "can the chef set up in our living room"]),
    "kb-venues": (2, ["can you come to a park for the party", "Do you cook at Airbnbs or venues?"]),
    "kb-lighting": (1, ["our party is at night, anything we need?"]),
    "kb-overtime": (2, ["what if we start late", "Can the chef stay extra time?"]),
    "kb-smoke-noise": (1, ["Is it smoky?", "will our HOA complain"]),
    "kb-pets": (1, ["We have a dog, is that a problem?"]),
    "kb-leftovers": (1, ["Do we get leftovers?"]),
    "kb-menu-included": (7, ["What's on the menu?", "what's included in the meal",
                             "What food comes with the party?"]),
    "kb-proteins": (6, ["What proteins do you have?", "what meat options are there",
                        "Do you have salmon?"]),
    "kb-sauces": (3, ["Do you bring yum yum sauce?", "what sauces come with it"]),
    "kb-fried-rice": (2, ["how is the fried rice made?", "Does the rice have egg in it?"]),
    "kb-noodles": (3, ["Do you have noodles?", "can we swap rice for noodles"]),
    "kb-kids-menu": (3, ["what do kids eat?", "Is there a kids menu?"]),
    "kb-drinks-byob": (4, ["Do you provide drinks?", "can we bring our own sake",
                           "is alcohol included"]),
    "kb-dessert": (2, ["Do you do dessert?", "can we bring our own cake"]),
    "kb-entertainment": (3, ["Does the chef do tricks?", "is there a show with the dinner"]),
    "kb-birthday": (3, ["It's for a birthday, anything special?", "We're celebrating my dad's 60th!"]),
    "kb-allergy-gluten": (4, ["Do you have gluten free options?", "one guest is gluten free, ok?"]),
    "kb-allergy-shellfish": (4, ["We have a shellfish allergy in the group",
                                 "my wife is allergic to shellfish, is that a problem?"]),
    "kb-allergy-soy": (2, ["Can you do soy free?", "one kid has a soy allergy"]),
    "kb-allergy-nuts-sesame": (2, ["do you use nuts?", "Sesame allergy - can you accommodate?"]),
    "kb-dairy-egg": (2, ["Can you cook dairy free?", "one guest can't have eggs"]),
    "kb-vegetarian": (5, ["Do you have vegetarian options?", "any vegan options?",
                          "we have 3 vegetarians coming"]),
    "kb-halal": (2, ["Do you have halal meat?", "is the beef halal"]),
    "kb-low-carb": (1, ["I'm low carb, any options?"]),
    "kb-allergy-disclaimer": (1, ["how do you handle food allergies?"]),
    "kb-complaints": (0.5, ["I'd like to give feedback about our party"]),
    "kb-refund-timing": (1, ["When will my deposit refund show up?"]),
    "kb-insurance": (1, ["Are you licensed and insured?"]),
    "kb-referral": (1, ["do you have referral discounts"]),
    "kb-weddings": (1, ["Do you do weddings?"]),
    "kb-about": (1, ["Where are you located?", "are you a restaurant?"]),
}

ESCALATIONS = {  # reason -> (weight, customer message templates)
    "pricing exception": (3, [
        "We're a group of {adults}, can you do a better price than $60 a head?",
        "Could you waive the travel fee? We're just past the {city} line.",
        "Is there any way to get the party minimum lowered? We're only {small} people.",
    ]),
    "complaint": (2, [
        "Our chef arrived 45 minutes late to our party on {day} and the rice was cold. Not happy.",
        "We were charged twice for the deposit, please fix this.",
        "The chef forgot the lobster tails we paid for. I want a refund for those.",
    ]),
    "complex request": (2, [
        "We're planning a rehearsal dinner for {big} guests at a winery in {city}, two seatings. "
        "Can you do it?",
        "Can you do a surprise party at a rented Airbnb, set up on a rooftop terrace, with a halal menu?",
        "We need three chefs at three different houses the same evening, is that possible?",
    ]),
    "low confidence": (2, [
        "Can the chef make sushi rolls too?",
        "Do you rent out the grill without a chef?",
        "Can you cook for a boat party on the bay?",
    ]),
    "asked for a human": (2, [
        "Can I talk to a real person please?",
        "I'd rather speak with someone on your team, please call me.",
    ]),
    "date unavailable": (1, [
        "The booking page says {day} is full but we really need that date. Anything you can do?",
    ]),
}
# Some angry customers swear: enrichment flags these messages (core.enrichment.enrich), they stay out of
# training data, and the answers to them enter the review queue.
SWEARING = ["This is fucking ridiculous. ", "What the fuck? ", "Seriously, this is shitty service. "]
HANDOFF_TEXT = ("I want to make sure you get the right answer, so I'm passing this to our team. "
                "Someone will reply here shortly.")
AGENT_REPLIES = {
    "pricing exception": "Hi {first}, this is {agent} from Ember Grill. For {adults} guests I can take "
    "$5 off per adult on a weekday; for weekends our regular price applies. Want me to hold a date?",
    "complaint": "Hi {first}, this is {agent}, the manager at Ember Grill. I'm very sorry about this. "
    "I've issued a partial refund to your card and added a $50 credit to your account.",
    "complex request": "Hi {first}, {agent} here from our events team. We can definitely plan this. "
    "I'll e-mail you a custom quote today and we can set up a quick call.",
    "low confidence": "Hi {first}, {agent} from Ember Grill here. Good question: we only offer our "
    "hibachi menu with a chef on site, but I'm happy to suggest options for your event.",
    "asked for a human": "Hi {first}, this is {agent} from Ember Grill. Happy to help, what can I do "
    "for you?",
    "date unavailable": "Hi {first}, {agent} here. I found a chef who can do {day} at 4:00 pm or "
    "7:30 pm. Shall I hold one for you?",
}
GREETINGS = ["Hi!", "Hello,", "hey", "Hi there,", "Good evening,", "Hey there!", "Hello!", "Hi,"]
THANKS = ["Thanks!", "thank you!!", "Perfect, thanks", "great thanks", "ok got it, thank you",
          "Awesome, appreciate it", "Sounds good!"]
ANSWER_PREFIX = ["", "Great question! ", "Thanks for reaching out{name}! ", "Happy to help{name}. ",
                 "Sure! ", "Good question{name}. "]
ANSWER_SUFFIX = ["", " Anything else I can help with?", " Let me know if you have other questions!",
                 " Would you like me to check a date for you?"]


@dataclass
class DemoReport:
    """What ``load_demo`` did (or that it skipped a non-empty database)."""

    size: str
    seed: int
    skipped: bool = False
    conversations: int = 0
    messages: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    escalated: int = 0
    bookings: int = 0
    booking_value_usd: float = 0.0
    csat_responses: int = 0
    cost_usd: float = 0.0
    unsafe_messages: int = 0
    conversations_skipped: int = 0
    seconds: float = 0.0
    scrub_seconds: float = 0.0
    loop: dict = field(default_factory=dict)  # what the learning loop over the demo made

    def summary(self) -> str:
        """One human-readable paragraph."""
        if self.skipped:
            return "The database already has conversations; demo data not loaded."
        chans = ", ".join(f"{c} {n}" for c, n in sorted(self.by_channel.items()))
        return (
            f"Demo ({self.size}, seed {self.seed}): {self.conversations} conversations, "
            f"{self.messages} messages in {self.seconds:.1f}s (scrubbing {self.scrub_seconds:.1f}s)\n"
            f"channels: {chans}\n"
            f"{self.escalated} escalated, {self.bookings} bookings (${self.booking_value_usd:,.0f}), "
            f"{self.csat_responses} CSAT responses, model cost ${self.cost_usd:,.2f}"
            + ("\nlearning loop: " + ", ".join(f"{k} {v}" for k, v in self.loop.items()) if self.loop else "")
        )


# --- data files --------------------------------------------------------------------------
def _read_jsonl(name: str) -> list[dict]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@lru_cache(maxsize=1)
def _kb() -> tuple[dict, ...]:
    return tuple(_read_jsonl("demo_kb.jsonl"))


def demo_kb_entries() -> list[dict]:
    """The demo knowledge base: ``{external_id, title, text, category}`` per entry."""
    return [dict(e) for e in _kb()]


def demo_eval_questions() -> list[dict]:
    """Golden customer questions: ``{question, expected_external_id}`` per line."""
    return _read_jsonl("demo_eval.jsonl")


# --- generation ---------------------------------------------------------------------------
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
    prefix = {"email": "em", "sms": "sms", "web": "web", "instagram": "ig", "facebook": "fb",
              "phone": "call"}[channel]
    return _Customer(first, last, _phone(rng, tier), _email(rng, first, last), address, city,
                     f"{prefix}-{n:06d}")


def _thanks(rng: random.Random, extra: str = "") -> str:
    text = rng.choice(THANKS)
    return f"{text.rstrip('!.')}. {extra}" if extra else text


def _styled(rng: random.Random, channel: str, text: str, emoji: bool = True) -> str:
    if channel in ("sms", "instagram", "facebook") and rng.random() < 0.35:
        text = text[0].lower() + text[1:]
        if text.endswith("?") and rng.random() < 0.5:
            text = text[:-1]
    if emoji and channel in ("instagram", "facebook") and rng.random() < 0.25:
        text += rng.choice([" 🙏", " 🔥", " 😊", "!!"])
    return text


def _pii_intro(rng: random.Random, c: _Customer, channel: str) -> str:
    """A sentence with the customer's personal data (so scrubbing is visible)."""
    if channel == "phone":
        return rng.choice([f"This is {c.full}, my number is {c.phone}.",
                           f"{c.full} calling, you can call me back at {c.phone}.",
                           f"My name is {c.full}."])
    if channel == "email":
        return ""  # e-mails carry a signature instead
    if channel == "web":
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
    if channel == "email":
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
            if self.channel == "email":
                lo, hi = lo * 6, hi * 8
            self.at += dt.timedelta(minutes=self.rng.uniform(lo, hi))
        self.messages.append(MessageIn("user", text, created_at=self.at))

    def assistant(self, text: str, confidence: float) -> None:
        rng = self.rng
        model = "gpt-4o" if rng.random() < 0.06 else "gpt-4o-mini"
        latency = rng.lognormvariate(math.log(1400), 0.35)
        self.at += dt.timedelta(milliseconds=latency + rng.uniform(200, 4000))
        tin = rng.randint(450, 1400) + 40 * len(self.messages)
        tout = max(20, int(len(text) / 4 + rng.randint(-5, 15)))
        self.messages.append(MessageIn(
            "assistant", text, created_at=self.at, confidence=round(confidence, 3), model_used=model,
            latency_ms=round(latency, 1), tokens_in=tin, tokens_out=tout, cost_usd=_cost(model, tin, tout),
        ))

    def agent(self, text: str) -> None:
        self.at += dt.timedelta(minutes=self.rng.uniform(4, 180))
        self.messages.append(MessageIn("agent", text, created_at=self.at))


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
    kb_by_id = {e["external_id"]: e for e in _kb()}
    topics = list(kb_by_id)
    topic_w = [ASKS[t][0] if t in ASKS else 0.3 for t in topics]
    channels, channel_w = list(CHANNEL_MIX), list(CHANNEL_MIX.values())
    reasons = list(ESCALATIONS)
    reason_w = [ESCALATIONS[r][0] for r in reasons]

    local_now = now - dt.timedelta(hours=UTC_OFFSET_H)
    first_day = local_now.date() - dt.timedelta(days=DAYS - 1)
    counts = _allocate(SIZES[size], _day_weights(rng, first_day, DAYS))
    customers: dict[str, list[_Customer]] = {c: [] for c in CHANNELS}
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
            if channel == "phone" and not 9 <= hour < 21:
                channel = "web"
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
                 if m.role == "assistant" and m.content == HANDOFF_TEXT)
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
        status, closed_at = "escalated", None
    elif not escalated_at and age < dt.timedelta(hours=6) and rng.random() < 0.6:
        status, closed_at = "ai", None
    else:
        status, closed_at = "closed", min(now, last + dt.timedelta(minutes=rng.uniform(15, 240)))
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
    if status == "closed":
        tone = round(rng.uniform(0.1, 0.45) if reason == "complaint" else rng.uniform(0.55, 0.97), 3)
        if rng.random() < (0.55 if booking_value else 0.22):
            if reason == "complaint":
                csat = rng.choices([1, 2, 3, 4], weights=[3, 3, 2, 1])[0]
            else:
                csat = rng.choices([5, 4, 3, 2, 1], weights=[62, 25, 7, 3, 3])[0]

    meta = {
        "email": {"subject": rng.choice(["Hibachi party question", "Booking inquiry", "Quote request",
                                         "Question about pricing", "Re: your hibachi catering"])},
        "sms": {"carrier": rng.choice(["verizon", "att", "tmobile"])},
        "web": {"page": rng.choice(["/", "/pricing", "/menu", "/book", "/faq"])},
        "instagram": {"source": rng.choice(["dm", "story_reply", "post_comment"])},
        "facebook": {"source": rng.choice(["messenger", "page_comment"])},
        "phone": {"direction": "inbound", "duration_s": rng.randint(60, 900)},
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


# --- loading ------------------------------------------------------------------------------
class _MemoScrubber:
    """Scrubs each distinct text once: demo texts repeat a lot (KB answers, "Thanks!"), and
    scrubbing is nearly all of the loading time. Results are the wrapped scrubber's."""

    def __init__(self, inner):
        self.inner = inner
        self.cache: dict[str, object] = {}

    def scrub(self, text: str):
        if text not in self.cache:
            self.cache[text] = self.inner.scrub(text)
        return self.cache[text]

    def scrub_batch(self, texts: list[str]) -> list:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            self.cache.update(zip(todo, self.inner.scrub_batch(todo), strict=True))
        return [self.cache[t] for t in texts]


def load_demo(
    session: Session,
    scrubber,
    settings: Settings,
    size: str = "small",
    seed: int | None = None,
    clock: Clock | None = None,
    *,
    if_empty: bool = False,
    batch_size: int = 200,
    progress: Callable[[int, int], None] | None = None,
    embedder=None,
    on_stage: Callable[[str], None] | None = None,
) -> DemoReport:
    """Store the demo conversations (scrubbed) in batches of ``batch_size``; the caller commits.

    ``seed`` defaults to ``settings.demo_seed``; the period ends at ``clock.now()``. With
    ``if_empty`` nothing happens when the database already has conversations.
    ``progress(done, total)`` is called with conversation counts after every batch.
    Conversations already stored (same demo external id) are skipped and counted; the
    other counts are of what this call stored.

    With an ``embedder`` the learning loop runs over the demo (``run_learning_loop``): the demo
    KB, enrichment, votes, held drafts, the review queue, knowledge gaps, alert rules and the
    metrics roll-up. ``on_stage(name)`` is called as each step starts. Safe to run again.
    """
    started = time.perf_counter()
    seed = settings.demo_seed if seed is None else seed
    report = DemoReport(size=size, seed=seed)
    if if_empty and not is_empty(session):
        report.skipped = True
        return report
    convs = generate_conversations(size, seed, (clock or SystemClock()).now())
    stored = set(session.scalars(
        select(Conversation.external_id).where(Conversation.external_id.like(f"demo-{seed}-%"))
    ))
    report.conversations_skipped = sum(1 for c in convs if c.external_id in stored)
    convs = [c for c in convs if c.external_id not in stored]
    total = len(convs)
    memo = _MemoScrubber(scrubber)
    if progress:
        progress(0, total)
    for i in range(0, total, batch_size):
        batch = convs[i: i + batch_size]
        res = store_conversations(session, batch, memo, settings, clock)
        report.unsafe_messages += res.unsafe_messages
        report.scrub_seconds += res.scrub_seconds
        if progress:
            progress(min(total, i + batch_size), total)
    session.flush()

    report.conversations = total
    report.messages = sum(len(c.messages) for c in convs)
    report.by_channel = dict(Counter(c.channel for c in convs))
    report.escalated = sum(1 for c in convs if c.escalated_at)
    report.bookings = sum(1 for c in convs if c.outcome and c.outcome.booking_converted)
    report.booking_value_usd = sum(c.outcome.booking_value_usd or 0 for c in convs if c.outcome)
    report.csat_responses = sum(1 for c in convs if c.outcome and c.outcome.csat)
    report.cost_usd = round(sum(m.cost_usd or 0 for c in convs for m in c.messages), 4)
    if embedder is not None:
        report.loop = run_learning_loop(session, settings, embedder, clock, seed=seed, on_stage=on_stage)
    report.seconds = time.perf_counter() - started
    return report


# --- the learning loop over the demo --------------------------------------------------------
def run_learning_loop(
    session: Session,
    settings: Settings,
    embedder,
    clock: Clock | None = None,
    *,
    seed: int = 7,
    on_stage: Callable[[str], None] | None = None,
) -> dict:
    """What the running system would have made of the demo conversations, so every dashboard
    page has something to show: the demo KB (built, evaluated, activated), the assistant answers
    linked to the chunks they quote (with the chunks' uses, bookings and CSAT), enrichment
    (intents, flags, tone scores), customer votes, a few held drafts, the review queue, the
    knowledge gaps, the default alert rules and the metrics roll-up. Idempotent. Returns counts.
    """
    from core.enrichment import enrich, gaps
    from core.knowledge import chunks as knowledge
    from core.ops import alerts, metrics
    from core.review import queue as review

    clock = clock or SystemClock()
    stage = on_stage or (lambda _name: None)
    out: dict = {}
    stage("knowledge base")
    kb = knowledge.load_demo_knowledge(session, embedder, settings, clock)
    out["kb_version"] = kb.active_version_id
    out["answers_linked"] = _link_answers(session, settings, clock)
    stage("enrichment")
    enricher = enrich.get_enricher(settings, embedder)
    rep = enrich.backfill(session, enricher, only_missing=True, clock=clock)
    out["enriched"], out["flagged"] = rep.messages, rep.flagged
    stage("votes and held drafts")
    out["votes"] = _votes(session, settings, random.Random(seed), clock)
    out["held_drafts"] = _held_drafts(session, settings, clock)
    stage("review queue and knowledge gaps")
    out["review_reasons"] = review.refresh_queue(session, settings, clock)
    out["gaps"] = gaps.refresh_gaps(session, embedder, settings, clock).gaps
    stage("alert rules and metrics")
    alerts.seed_default_rules(session, clock)
    metrics.rollup(session, clock, full=True)
    session.flush()
    return out


def _link_answers(session: Session, settings: Settings, clock: Clock) -> int:
    """Record which active chunk each demo answer quotes (``message_chunk``, used) and credit
    the chunks with those uses, the bookings and the CSAT of their conversations."""
    from sqlalchemy import exists, insert

    from core.knowledge import scoring
    from core.platform.models import Chunk, ConversationOutcome, Message, MessageChunk

    chunks = sorted(session.execute(select(Chunk.id, Chunk.text).where(Chunk.status == "active")).all(),
                    key=lambda c: -len(c.text))
    rows = session.execute(
        select(Message.id, Message.raw_content, Message.redacted_content,
               ConversationOutcome.booking_converted, ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == "assistant", Conversation.external_id.like("demo-%"),
               ~exists().where(MessageChunk.message_id == Message.id))
        .order_by(Message.id)
    ).all()
    links, uses, bookings, ratings = [], Counter(), Counter(), {}
    for mid, raw, redacted, booked, csat in rows:
        text = raw or redacted or ""
        cid = next((c.id for c in chunks if c.text in text), None)
        if cid is None:
            continue
        links.append({"message_id": mid, "chunk_id": cid, "rank": 1, "score": 1.0, "used": True})
        uses[cid] += 1
        bookings[cid] += bool(booked)
        if csat:
            n, total = ratings.get(cid, (0, 0.0))
            ratings[cid] = (n + 1, total + csat)
    if links:
        session.execute(insert(MessageChunk.__table__), links)
        for chunk in session.scalars(select(Chunk).where(Chunk.id.in_(list(uses)))):
            n, total = ratings.get(chunk.id, (0, 0.0))
            chunk.times_retrieved = (chunk.times_retrieved or 0) + uses[chunk.id]
            chunk.times_used_in_response = (chunk.times_used_in_response or 0) + uses[chunk.id]
            chunk.times_led_to_booking = (chunk.times_led_to_booking or 0) + bookings[chunk.id]
            chunk.rating_count = (chunk.rating_count or 0) + n
            chunk.rating_sum = (chunk.rating_sum or 0.0) + total
            chunk.last_user_feedback_at = clock.now()
        session.flush()
        scoring.rescore(session, list(uses), settings)
    return len(links)


def _votes(session: Session, settings: Settings, rng: random.Random, clock: Clock) -> int:
    """Customer thumbs on demo answers, a few minutes after each answer: down on the answers of
    complaints and low-CSAT conversations (a handful), up on a few percent of the others."""
    from core.feedback.votes import record_vote
    from core.platform.clock import FixedClock
    from core.platform.models import ConversationOutcome, Feedback, Message

    if session.scalar(select(Feedback.id).limit(1)) is not None:
        return 0  # voted already
    rows = session.execute(
        select(Message.id, Message.created_at, Conversation.external_user_id, Conversation.channel,
               Conversation.escalation_reason, ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == "assistant", Conversation.external_id.like("demo-%"))
        .order_by(Message.id)
    ).all()
    now = clock.now()
    source = {"email": "email", "web": "widget"}
    n = 0
    for mid, at, user, channel, reason, csat in rows:
        unhappy = reason == "complaint" or (csat is not None and csat <= 2)
        if unhappy and rng.random() < 0.5:
            vote = "down"
        elif not unhappy and rng.random() < 0.04:
            vote = "up"
        else:
            continue
        when = min(now, at + dt.timedelta(minutes=rng.uniform(1, 90)))
        record_vote(session, mid, vote, user, source=source.get(channel, "api"), settings=settings,
                    clock=FixedClock(when))
        n += 1
    return n


def _held_drafts(session: Session, settings: Settings, clock: Clock, limit: int = 5) -> int:
    """The newest risky drafts (low confidence, a risky intent, flagged) held for pre-send
    approval through ``core.review.delivery``, as the chat API would have held them."""
    from core.enrichment import enrich
    from core.platform.models import Delivery, Message
    from core.review import delivery
    from core.review import queue as review

    held = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "held")) or 0
    q = (
        select(Message, Conversation.intent)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.role == "assistant", Conversation.external_id.like("demo-%"))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(2000)
    )
    for msg, intent in session.execute(q):
        if held >= limit:
            break
        if review.risk_reasons(settings, msg.confidence, intent) or enrich.hold_reasons(msg):
            if delivery.delivery_for(session, msg.id) is None:
                held += delivery.queue_reply(session, msg.id, settings, clock=clock).status == "held"
    return held
