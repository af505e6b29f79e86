"""Generated, realistic knowledge-base chunks and customer questions for bench/search.py.

Deterministic for a seed: FAQ-style chunks of a catering business (prices, travel, menus,
policies, logistics) built from many templates, places, dishes and numbers, so that 100k
chunks are distinct texts of 30-70 words like a real KB.
"""

from __future__ import annotations

import random

CITIES = (
    "San Jose Santa Clara Sunnyvale Fremont Oakland Berkeley Palo Alto Mountain View Napa Sonoma "
    "Petaluma Walnut Creek Concord Livermore Pleasanton Dublin Hayward San Mateo Redwood City "
    "Half Moon Bay Santa Cruz Gilroy Morgan Hill Milpitas Cupertino Saratoga Los Gatos Campbell "
    "Vallejo Benicia Martinez Danville San Ramon Novato San Rafael Mill Valley Sausalito Tiburon "
    "Daly City Pacifica Burlingame Foster City Menlo Park Los Altos Union City Newark Alameda"
).split(" ")
CITIES = [c for c in CITIES if c]
PROTEINS = [
    "chicken",
    "steak",
    "shrimp",
    "salmon",
    "scallops",
    "filet mignon",
    "lobster tail",
    "tofu",
    "calamari",
    "vegetable medley",
    "teriyaki chicken",
    "garlic shrimp",
]
SIDES = [
    "fried rice",
    "noodles",
    "side salad",
    "miso soup",
    "grilled zucchini",
    "onion volcano",
    "edamame",
    "gyoza",
    "mushrooms",
    "broccoli",
]
EVENTS = [
    "birthday party",
    "wedding rehearsal",
    "corporate lunch",
    "graduation party",
    "anniversary dinner",
    "backyard barbecue",
    "team offsite",
    "holiday party",
    "baby shower",
    "retirement party",
]
TOPICS = ["pricing", "travel", "menu", "policy", "logistics", "booking", "dietary"]

TEMPLATES = {
    "pricing": [
        "For a {event} of {n} guests in {city}, the {protein} package is ${p} per adult and ${k} per child. "
        "It includes {side1} and {side2}, and the minimum food order is ${m}.",
        "Upgrading to {protein} adds ${u} per person. Parties over {n} guests in the {city} area get "
        "{side1} at no extra cost, and the {event} package starts at ${p} per adult.",
    ],
    "travel": [
        "We travel to {city} for a fee of ${t}. Parties within {d} miles of our kitchen travel free, and "
        "the chef arrives {a} minutes early to set up the grill for your {event}.",
        "Events in {city} beyond {d} miles carry a travel charge of ${t}; toll bridges and parking over "
        "${u} are added to the final bill for the {event}.",
    ],
    "menu": [
        "Our {event} menu features {protein} with {side1}, {side2} and our house sauces. Guests can swap "
        "one protein for {protein2} for ${u} extra; kids plates come with {side1}.",
        "The chef cooks {protein} and {protein2} at the table, served with {side1} and {side2}. A {event} "
        "in {city} can add a dessert course for ${u} per guest.",
    ],
    "policy": [
        "A deposit of ${t} holds your {event} date. Cancel {d} days before the event for a full refund; "
        "later cancellations in {city} keep the deposit as credit for twelve months.",
        "Gratuity is not included. For a {event} of {n} guests we suggest {a} percent, paid to the chef "
        "in cash or by card after the meal in {city}.",
    ],
    "logistics": [
        "The chef needs a flat space of {d} by {d} feet near your {event}, outdoors or in a garage with "
        "open doors. We bring the grill, propane and utensils; you provide tables for {n} guests.",
        "Setup takes {a} minutes and cooking for {n} guests about {d} minutes. In {city} we can cook on a "
        "balcony only if the building allows open-flame propane grills.",
    ],
    "booking": [
        "To book a {event} in {city}, send the date, guest count ({n} or more) and address through the "
        "booking form. We confirm within {a} hours and hold the date once the ${t} deposit is paid.",
        "Changes to a {event} booking are free up to {d} days before; add guests until {a} hours before "
        "the chef leaves for {city}.",
    ],
    "dietary": [
        "Guests with a {protein} allergy can order {protein2} cooked first on a cleaned grill. Our "
        "{side1} contains soy and egg; gluten-free sauce is available for your {event} on request.",
        "Vegetarian and vegan guests get {protein2} with {side1} and {side2}. Tell us about allergies "
        "when booking your {event} in {city} so the chef can plan the cooking order.",
    ],
}

QUESTIONS = {
    "pricing": "How much is the {protein} package per adult for a {event} in {city}?",
    "travel": "What is the travel fee to {city} for a {event}?",
    "menu": "Can we get {protein} with {side1} for our {event}?",
    "policy": "What is the cancellation policy and deposit for a {event} in {city}?",
    "logistics": "How much space does the chef need for a {event} with {n} guests?",
    "booking": "How do I book a {event} in {city}?",
    "dietary": "Can you handle a {protein} allergy at our {event}?",
}


def _fill(rng: random.Random, template: str) -> str:
    p1, p2 = rng.sample(PROTEINS, 2)
    s1, s2 = rng.sample(SIDES, 2)
    return template.format(
        event=rng.choice(EVENTS),
        city=rng.choice(CITIES),
        protein=p1,
        protein2=p2,
        side1=s1,
        side2=s2,
        n=rng.randrange(8, 120),
        p=rng.randrange(45, 95),
        k=rng.randrange(20, 45),
        m=rng.randrange(4, 12) * 100,
        u=rng.randrange(5, 30),
        t=rng.randrange(25, 250),
        d=rng.randrange(3, 60),
        a=rng.randrange(10, 90),
    )


def chunks(n: int, seed: int = 7) -> list[dict]:
    """n distinct chunk records (external_id, title, text, category)."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        topic = TOPICS[len(out) % len(TOPICS)]
        text = _fill(rng, rng.choice(TEMPLATES[topic]))
        if text in seen:
            continue
        seen.add(text)
        out.append(
            {
                "external_id": f"bench-{len(out)}",
                "title": f"{topic.title()} note {len(out)}",
                "text": text,
                "category": topic,
            }
        )
    return out


def questions(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [_fill(rng, QUESTIONS[TOPICS[i % len(TOPICS)]]) for i in range(n)]
