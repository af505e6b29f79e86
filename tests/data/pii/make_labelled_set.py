"""Build the labelled PII test set (seeded, so the gold spans are exact and reproducible).

Run: ``.venv/bin/python -m tests.data.pii.make_labelled_set`` (writes dev.jsonl and heldout.jsonl
next to this file).

Each line: {"id", "channel", "split", "text", "entities": [{"type", "start", "end"}]}.

The two splits share NOTHING but the value formats' generators: the dev split (~60%) is built from
the ``DEV`` pool of names, streets, cities and sentence templates; the held-out split (~40%) from
the ``HELDOUT`` pool (different templates, different names and streets, and some phone / address
formats that never appear in dev). Recognizers are tuned on dev only.

Messages are assembled from a channel-specific opening, 1-4 body sentences and a channel-specific
sign-off. Slots in ``{BRACES}`` are filled with generated values; PII slots record a gold span,
hard-negative slots (prices, party sizes, event dates and times, menu items, order numbers,
distances, city names) do not.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHANNELS = ["email", "sms", "web", "instagram", "facebook", "phone"]

# --------------------------------------------------------------------------------------------
# value pools
# --------------------------------------------------------------------------------------------
DEV_NAMES = {
    "hispanic": (["Maria", "José", "Guadalupe", "Alejandro", "Sofía", "Carlos", "Ximena"],
                 ["Hernández", "Lopez", "García-Ruiz", "Ramírez", "Castillo", "Vega"]),
    "chinese": (["Wei", "Xiaoming", "Mei Ling", "Jun", "Yan"],
                ["Zhang", "Liu", "Chen", "Huang", "Zhou"]),
    "vietnamese": (["Thanh", "Linh", "Minh", "Huong", "Quang"],
                   ["Nguyen", "Tran", "Pham", "Le", "Vo"]),
    "indian": (["Priya", "Arjun", "Aditi", "Rahul", "Sanjana", "Venkatesh"],
               ["Patel", "Sharma", "Iyer", "Reddy", "Krishnamurthy"]),
    "arabic": (["Omar", "Fatima", "Yousef", "Layla", "Khalid"],
               ["Al-Sayed", "Haddad", "Mansour", "El-Amin", "Nasser"]),
    "nigerian": (["Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka"],
                 ["Okafor", "Adeyemi", "Eze", "Balogun", "Okonkwo"]),
    "slavic": (["Dmitri", "Katarzyna", "Olga", "Milan", "Zuzana"],
               ["Ivanova", "Kowalski", "Novak", "Petrovic", "Sokolov"]),
    "irish": (["Siobhan", "Ciaran", "Niamh", "Padraig", "Aoife"],
              ["O'Brien", "McCarthy", "Murphy", "Fitzgerald", "Byrne"]),
    "anglo": (["Jessica", "Tyler", "Brittany", "Kevin", "Ashley", "Brandon", "Megan"],
              ["Johnson", "Smith-Jones", "Williams", "Carter", "Anderson", "Brooks"]),
}
HELD_NAMES = {
    "hispanic": (["Fernanda", "Luis Miguel", "Yesenia", "Rodrigo", "Itzel"],
                 ["Gutiérrez", "Morales", "Delgado-Ortiz", "Sandoval", "Fuentes"]),
    "chinese": (["Jiahui", "Hao", "Lihua", "Zhiwei"], ["Wang", "Xu", "Lin", "Guo"]),
    "vietnamese": (["Bao", "Trang", "Duc", "Phuong"], ["Hoang", "Dang", "Bui", "Do"]),
    "indian": (["Lakshmi", "Rohan", "Deepika", "Siddharth", "Kavya"],
               ["Gupta", "Nair", "Chatterjee", "Subramanian"]),
    "arabic": (["Ahmed", "Mariam", "Tariq", "Noor"], ["Abdullah", "Khoury", "Al-Farsi", "Saleh"]),
    "nigerian": (["Tunde", "Chiamaka", "Ifeoma", "Babatunde"], ["Obi", "Nwosu", "Adebayo", "Uche"]),
    "slavic": (["Anastasia", "Bogdan", "Jelena", "Pavel"], ["Dvorak", "Volkov", "Horvat", "Zielinska"]),
    "irish": (["Saoirse", "Eoin", "Caoimhe", "Declan"], ["O'Sullivan", "Kavanagh", "Gallagher", "Doyle"]),
    "anglo": (["Heather", "Dustin", "Amber", "Cody", "Lauren"],
              ["Miller", "Taylor-Reed", "Davis", "Harrison", "Whitfield"]),
}
DEV_STREETS = ["Oak", "Maple", "Cedar Ridge", "Sunset", "Magnolia", "Lakeview", "Willow Creek", "Pine",
               "Main", "Bluebonnet", "Peachtree", "Elm", "Highland", "Riverbend", "Martin Luther King Jr"]
HELD_STREETS = ["Birchwood", "Cypress Point", "Harbor", "Juniper", "Quail Hollow", "Chestnut", "Prairie",
                "Meadowlark", "Summit", "Rolling Hills", "Sycamore", "Windsor", "Briarcliff"]
DEV_SUFFIX = ["St", "Street", "Ave", "Avenue", "Rd", "Road", "Dr", "Drive", "Ln", "Blvd", "Ct", "Way"]
HELD_SUFFIX = ["St.", "Avenue", "Rd.", "Drive", "Lane", "Boulevard", "Court", "Pkwy", "Cir", "Terrace",
               "Pl", "Trail", "Hwy"]
DEV_CITIES = [("Houston", "TX"), ("Austin", "TX"), ("Atlanta", "GA"), ("Orlando", "FL"), ("Phoenix", "AZ"),
              ("Charlotte", "NC"), ("San Jose", "CA"), ("Dallas", "TX")]
HELD_CITIES = [("Tampa", "FL"), ("Raleigh", "NC"), ("Sacramento", "CA"), ("Nashville", "TN"),
               ("Plano", "Texas"), ("Mesa", "AZ"), ("Savannah", "GA")]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "comcast.net", "protonmail.com", "company.co", "uni.edu"]
MENU = ["filet mignon", "hibachi chicken", "yakisoba", "fried rice", "shrimp tempura", "teriyaki salmon",
        "lobster tail", "scallops", "NY strip", "vegetable lo mein", "gyoza", "edamame", "yum yum sauce",
        "hibachi steak", "chicken teriyaki", "miso soup", "tofu", "garlic noodles"]
EVENT_DATES = ["June 5th", "Saturday, May 3", "this Saturday", "July 4th", "next Friday", "6/14",
               "Sept 21", "the 18th", "December 12", "10/26", "March 8th", "Sunday the 22nd",
               "Aug. 9", "New Year's Eve", "11/2/2025", "May 17, 2025"]
TIMES = ["6pm", "6:30 pm", "5:00", "7:15pm", "noon", "around 4", "8 PM", "2:30"]


def luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def gen_card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "amex", "disc"])
    if kind == "amex":
        body = rng.choice(["34", "37"]) + "".join(rng.choice("0123456789") for _ in range(12))
        num = body + luhn_digit(body)
        sep = rng.choice([" ", "-", ""])
        return sep.join([num[:4], num[4:10], num[10:]])
    prefix = {"visa": "4", "mc": rng.choice(["51", "53", "55", "2221"]), "disc": "6011"}[kind]
    body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
    num = body + luhn_digit(body)
    sep = rng.choice([" ", "-", "", " "])
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


def gen_ssn(rng: random.Random) -> str:
    area = rng.randint(1, 899)
    while area == 666:
        area = rng.randint(1, 899)
    s = f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
    return rng.choice(["-", "-", "-", " ", "."]).join(s)


IBAN_SPECS = {"DE": 18, "GB": 18, "FR": 23, "ES": 20, "NL": 14, "IT": 23, "IE": 18, "PL": 24}


def gen_iban(rng: random.Random) -> str:
    cc = rng.choice(list(IBAN_SPECS))
    n = IBAN_SPECS[cc]
    if cc in ("GB", "NL", "IE"):
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(rng.choice("0123456789") for _ in range(n - 4))
    elif cc == "IT":
        bban = rng.choice("ABCDEFGHIJ") + "".join(rng.choice("0123456789") for _ in range(n - 1))
    else:
        bban = "".join(rng.choice("0123456789") for _ in range(n))
    numeric = "".join(str(int(c, 36)) for c in bban + cc + "00")
    check = 98 - int(numeric) % 97
    iban = f"{cc}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    return iban


def gen_ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "2001:db8:" + ":".join(f"{rng.randint(0, 65535):x}" for _ in range(6))
    return ".".join(str(x) for x in [rng.choice([24, 73, 98, 172, 192, 203, 66, 10]),
                                     rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)])


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def gen_dob(rng: random.Random) -> str:
    y, m, d = rng.randint(1948, 2006), rng.randint(1, 12), rng.randint(1, 28)
    fmt = rng.randint(0, 5)
    if fmt == 0:
        return f"{m:02d}/{d:02d}/{y}"
    if fmt == 1:
        return f"{m}/{d}/{str(y)[2:]}"
    if fmt == 2:
        return f"{MONTHS[m - 1]} {d}, {y}"
    if fmt == 3:
        return f"{y}-{m:02d}-{d:02d}"
    if fmt == 4:
        return f"{d} {MONTHS[m - 1][:3]} {y}"
    return f"{m}-{d}-{y}"


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _us_parts(rng: random.Random) -> tuple[str, str, str]:
    return str(rng.randint(201, 989)), str(rng.randint(201, 989)), _d(rng, 4)


def phone_dev(rng: random.Random) -> str:
    a, b, c = _us_parts(rng)
    fmts = [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"{a}{b}{c}",
            f"+1 {a} {b} {c}", f"1-{a}-{b}-{c}", f"+1 ({a}) {b}-{c}", f"{a}-{b}-{c} ext. {_d(rng, 3)}",
            f"({a}) {b}-{c} x{_d(rng, 2)}", f"+44 20 {_d(rng, 4)} {_d(rng, 4)}",
            f"+91 {rng.randint(70, 99)}{_d(rng, 3)} {_d(rng, 5)}", f"+52 55 {_d(rng, 4)} {_d(rng, 4)}",
            f"+234 803 {_d(rng, 3)} {_d(rng, 4)}", f"+1.{a}.{b}.{c}"]
    return rng.choice(fmts)


def phone_held(rng: random.Random) -> str:
    a, b, c = _us_parts(rng)
    fmts = [f"({a}){b}-{c}", f"{a}/{b}-{c}", f"{a} - {b} - {c}", f"+1-{a}-{b}-{c}", f"1 ({a}) {b} {c}",
            f"{a}.{b}.{c} extension {_d(rng, 4)}", f"{a}-{b}-{c} #{_d(rng, 3)}", f"{a}-{b}-{c}",
            f"({a}) {b}-{c}", f"+86 138 {_d(rng, 4)} {_d(rng, 4)}", f"+84 90 {_d(rng, 3)} {_d(rng, 4)}",
            f"+971 50 {_d(rng, 3)} {_d(rng, 4)}", f"+49 30 {_d(rng, 8)}", f"+33 6 {_d(rng, 2)} {_d(rng, 2)} "
            f"{_d(rng, 2)} {_d(rng, 2)}", f"+353 87 {_d(rng, 3)} {_d(rng, 4)}", f"{a}{b}{c}",
            f"+1 {a}-{b}-{c} ext {_d(rng, 2)}"]
    return rng.choice(fmts)


def email_for(rng: random.Random, first: str, last: str) -> str:
    def clean(s: str) -> str:
        import unicodedata

        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z]", "", s.lower())

    f, la = clean(first) or "guest", clean(last) or "x"
    user = rng.choice([f"{f}.{la}", f"{f}{la}{rng.randint(1, 99)}", f"{f[0]}{la}", f"{f}_{la}",
                       f"{la}.{f}{rng.randint(70, 99)}", f"{f}+catering", f"{f}.{la}.events"])
    return f"{user}@{rng.choice(EMAIL_DOMAINS)}"


# --------------------------------------------------------------------------------------------
# templates. PII slots: NAME (full), FIRST, OTHER (another person's full name), EMAIL, PHONE,
# ADDR (street + city/state/zip), STREET (street line only), CARD, SSN, IBAN, IP, DOB.
# Hard-negative slots: PRICE, GUESTS, KIDS, EDATE, TIME, MENU, MENU2, ORDER, MILES, CITY.
# --------------------------------------------------------------------------------------------
DEV_T = {
    "open": {
        "email": ["Hi there,\n\n", "Hello,\n\n", "Good afternoon,\n\n", "Hi {AGENT},\n\n", "Dear team,\n\n",
                  "Hello, my name is {NAME}.\n\n"],
        "sms": ["hey ", "hi its {FIRST}. ", "Hi! ", "", "hello this is {FIRST} ", "yo "],
        "web": ["Hi, ", "Hello! ", "", "Hi, my name is {NAME} and ", "Question: "],
        "instagram": ["heyy 👋 ", "Hi!! ", "omg hi ", "", "hello 🙂 "],
        "facebook": ["Hi, ", "Hello there! ", "Good morning, ", "", "Hi this is {NAME}, "],
        "phone": ["Agent: Thank you for calling Hibachi Home, how can I help?\nCaller: Hi, ",
                  "Agent: Hibachi Home, this is {AGENT}.\nCaller: Yeah hi, ",
                  "Caller: Hello, yes, "],
    },
    "body": [
        "I'd like to book a hibachi party for {GUESTS} on {EDATE}.",
        "How much is it per person? I saw {PRICE} on your site.",
        "Can you add {MENU} and {MENU2} for the adults?",
        "You can reach me at {PHONE}.",
        "My cell is {PHONE} if you need anything.",
        "Please send the invoice to {EMAIL}.",
        "my email is {EMAIL}",
        "The party is at {ADDR}.",
        "Address for the event: {ADDR}",
        "We live at {STREET}, it's the house with the blue door.",
        "Is {MILES} from {CITY} too far for your chef?",
        "Our order number is {ORDER}, can you confirm the deposit went through?",
        "I'll pay the deposit with my card {CARD}, exp 09/27.",
        "Card number {CARD} cvv on the back, please charge the {PRICE} deposit.",
        "For the payroll form my SSN is {SSN}.",
        "The social security number on file should be {SSN}.",
        "For the wire transfer our IBAN is {IBAN}.",
        "My date of birth is {DOB} if you need it for the age check.",
        "DOB: {DOB}",
        "I was born on {DOB} so I qualify for the senior discount right?",
        "It's my son's birthday party on {EDATE}, he's turning 8.",
        "The web form gave an error, my IP address is {IP}.",
        "Also my husband {OTHER} will be the contact on the day, his number is {PHONE}.",
        "{OTHER} referred us, she had you guys for her wedding.",
        "We have {KIDS} and {GUESTS} total, does {PRICE} cover the kids?",
        "Start time would be {TIME}, is setup an hour before?",
        "Do you do {MENU} for people with shellfish allergies?",
        "What's the travel fee for {MILES}?",
        "we're in {CITY} near the lake",
        "Can I move the date from {EDATE} to {EDATE2}?",
        "Booking ref {ORDER}. Still good for {TIME}?",
        "Send the confirmation to {EMAIL} and text {PHONE}.",
        "Deliver to {ADDR} please, gate code is 4512.",
        "Minimum is {PRICE} right? We are only {GUESTS}.",
    ],
    "close": {
        "email": ["\n\nThanks,\n{NAME}", "\n\nBest regards,\n{NAME}\n{PHONE}", "\n\nThank you!\n{FIRST}",
                  "\n\nSincerely,\n{NAME}", "\n\nCheers,\n{FIRST}", "\n\nThanks"],
        "sms": ["", " thx", " - {FIRST}", " thanks!", ""],
        "web": ["", " Thanks!", " Name: {NAME}", " - {NAME}"],
        "instagram": ["", " 🙏", " thank u!!", " xo {FIRST}"],
        "facebook": ["", " Thanks, {FIRST}", " Thank you!", ""],
        "phone": ["\nAgent: Great, can I get a name for the booking?\nCaller: Sure, it's {NAME}.",
                  "\nAgent: Perfect, we'll call you back.",
                  "\nAgent: And who am I speaking with?\nCaller: {NAME}."],
    },
    "names": DEV_NAMES, "streets": DEV_STREETS, "suffix": DEV_SUFFIX, "cities": DEV_CITIES,
    "phone": phone_dev, "units": ["Apt 4B", "Apt. 12", "Unit 3", "#210", "Suite 100"],
    "agents": ["Kenji", "Dana", "Marcus"],
}

HELDOUT_T = {
    "open": {
        "email": ["Good evening,\n\n", "To whom it may concern,\n\n", "Hey folks,\n\n",
                  "Greetings,\n\n", "Hi again {AGENT},\n\n", "This is {NAME} writing about our booking.\n\n"],
        "sms": ["sup ", "{FIRST} here - ", "hiya ", "", "Hey it's {NAME}. ", "quick q: "],
        "web": ["Good day. ", "", "Hey, I'm {NAME}. ", "Inquiry: ", "Hello team, "],
        "instagram": ["✨ hi ✨ ", "helloo ", "", "Hey hey! ", "👋🏽 "],
        "facebook": ["Hey there, ", "", "Evening! ", "Hi folks, I'm {NAME}. "],
        "phone": ["Agent: Hibachi Home bookings.\nCaller: Hi there, ",
                  "Agent: Thanks for holding.\nCaller: No problem, so ",
                  "Caller: Good morning, my name's {NAME} and "],
    },
    "body": [
        "we want a chef out for {EDATE} around {TIME}, about {GUESTS}.",
        "Is {PRICE} the adult price or does that include tax and tip?",
        "Could the kids get {MENU} instead of {MENU2}?",
        "Best number to text is {PHONE}.",
        "Reach my wife on {PHONE} during the day.",
        "Drop me a line at {EMAIL} with the quote.",
        "the cc for the booking: {CARD}",
        "Use the Visa ending in the number {CARD} for the balance.",
        "HR asked me to include my social, it's {SSN}.",
        "SSN {SSN}",
        "Refund to IBAN {IBAN} please, I moved back to Europe.",
        "Bank account (IBAN): {IBAN}",
        "Event location is {ADDR}.",
        "Come to {ADDR} — park on the street.",
        "We're over at {STREET}, backyard setup.",
        "My birthday is {DOB}, do you do a free dessert for the birthday person?",
        "Date of birth {DOB}, in case you need it for the alcohol waiver.",
        "born {DOB}",
        "Our anniversary dinner is {EDATE} at {TIME}.",
        "Support asked for my IP, it says {IP}.",
        "Login failed from {IP} twice.",
        "My coworker {OTHER} is organizing, copy her please.",
        "Talked to {OTHER} on the phone last week about this.",
        "There will be {KIDS} plus {GUESTS}, do toddlers eat free?",
        "How far do you go? We're {MILES} out past {CITY}.",
        "Reference {ORDER} - was the tip included in {PRICE}?",
        "Is {MENU} gluten free?",
        "Do you bring the grill and propane or do we need to?",
        "Can we push it an hour to {TIME}?",
        "Text me the invoice at {PHONE} or mail it to {EMAIL}.",
        "Send the chef to {ADDR}, thanks.",
        "We moved the party from {EDATE} to {EDATE2} because of rain.",
        "Total came to {PRICE} for {GUESTS}, that right?",
    ],
    "close": {
        "email": ["\n\nWarm regards,\n{NAME}", "\n\nKind regards,\n{NAME}\nMobile: {PHONE}",
                  "\n\nTa,\n{FIRST}",
                  "\n\nAll the best,\n{NAME}", "\n\n-- \n{NAME}\n{EMAIL}", "\n\nThanks in advance"],
        "sms": ["", " ty", " -{FIRST}", " cheers", " thank u"],
        "web": ["", " Regards, {NAME}", " Contact: {NAME}", " Thanks much."],
        "instagram": ["", " ❤️", " tysm!!", " - {FIRST} 💕"],
        "facebook": ["", " Cheers, {NAME}", " Regards", " Best, {FIRST}"],
        "phone": ["\nAgent: Can I have your full name?\nCaller: Yeah it's {NAME}.",
                  "\nAgent: Okay, I'll send that over.",
                  "\nAgent: Name on the reservation?\nCaller: {NAME}, thanks."],
    },
    "names": HELD_NAMES, "streets": HELD_STREETS, "suffix": HELD_SUFFIX, "cities": HELD_CITIES,
    "phone": phone_held, "units": ["Apartment 7", "Apt #5C", "Unit B", "Ste 220", "#14"],
    "agents": ["Hana", "Luis", "Renee"],
}

PII_SLOTS = {"NAME": "PERSON", "FIRST": "PERSON", "OTHER": "PERSON", "AGENT": "PERSON",
             "EMAIL": "EMAIL_ADDRESS", "PHONE": "PHONE_NUMBER", "ADDR": "STREET_ADDRESS",
             "STREET": "STREET_ADDRESS", "CARD": "CREDIT_CARD", "SSN": "US_SSN", "IBAN": "IBAN_CODE",
             "IP": "IP_ADDRESS", "DOB": "DATE_OF_BIRTH"}


def _person(rng: random.Random, names: dict) -> tuple[str, str]:
    firsts, lasts = names[rng.choice(list(names))]
    return rng.choice(firsts), rng.choice(lasts)


def _street(rng: random.Random, pool: dict, held: bool) -> str:
    num = str(rng.randint(1, 29999)) if rng.random() < 0.9 else f"{rng.randint(1, 999)}{rng.choice('AB')}"
    direction = rng.choice(["", "", "", "N ", "S ", "E ", "W "])
    street = f"{num} {direction}{rng.choice(pool['streets'])} {rng.choice(pool['suffix'])}"
    if held and rng.random() < 0.15:
        street = f"{num} County Road {rng.randint(10, 600)}"
    if rng.random() < 0.3:
        street += rng.choice([", ", " "]) + rng.choice(pool["units"])
    return street


def _address(rng: random.Random, pool: dict, held: bool) -> str:
    street = _street(rng, pool, held)
    city, state = rng.choice(pool["cities"])
    zip5 = _d(rng, 5)
    if rng.random() < 0.15:
        zip5 += "-" + _d(rng, 4)
    form = rng.random()
    if form < 0.55:
        return f"{street}, {city}, {state} {zip5}"
    if form < 0.8:
        return f"{street}, {city} {state}"
    return f"{street} {city} {state} {zip5}"


def fill(template: str, rng: random.Random, pool: dict, held: bool, ctx: dict) -> tuple[str, list]:
    """Fill the slots of one template, returning text and gold spans relative to its start."""
    out, ents, pos = [], [], 0
    for piece in re.split(r"(\{[A-Z0-9]+\})", template):
        if not (piece.startswith("{") and piece.endswith("}")):
            out.append(piece)
            pos += len(piece)
            continue
        slot = piece[1:-1]
        value = _slot_value(slot, rng, pool, held, ctx)
        if slot in PII_SLOTS:
            ents.append({"type": PII_SLOTS[slot], "start": pos, "end": pos + len(value)})
        out.append(value)
        pos += len(value)
    return "".join(out), ents


def _slot_value(slot: str, rng: random.Random, pool: dict, held: bool, ctx: dict) -> str:
    first, last = ctx["person"]
    if slot == "NAME":
        return f"{first} {last}"
    if slot == "FIRST":
        return first
    if slot == "OTHER":
        f, la = _person(rng, pool["names"])
        return f"{f} {la}" if rng.random() < 0.7 else f
    if slot == "AGENT":
        return ctx["agent"]
    if slot == "EMAIL":
        return ctx["email"]
    if slot == "PHONE":
        return pool["phone"](rng)
    if slot == "ADDR":
        return _address(rng, pool, held)
    if slot == "STREET":
        return _street(rng, pool, held)
    if slot == "CARD":
        return gen_card(rng)
    if slot == "SSN":
        return gen_ssn(rng)
    if slot == "IBAN":
        return gen_iban(rng)
    if slot == "IP":
        return gen_ip(rng)
    if slot == "DOB":
        return gen_dob(rng)
    if slot == "PRICE":
        return rng.choice([f"${rng.randint(35, 75)} per person", f"${rng.randint(4, 30)}00",
                           f"${rng.randint(1, 3)},{rng.randint(100, 999)}", f"${rng.randint(20, 60)}/head",
                           f"{rng.randint(40, 60)} dollars a plate", f"${rng.randint(100, 500)}.00"])
    if slot == "GUESTS":
        return rng.choice([f"{rng.randint(10, 80)} guests", f"{rng.randint(10, 40)} people",
                           f"{rng.randint(12, 60)} adults", f"party of {rng.randint(10, 30)}"])
    if slot == "KIDS":
        return f"{rng.randint(2, 12)} kids"
    if slot in ("EDATE", "EDATE2"):
        return rng.choice(EVENT_DATES)
    if slot == "TIME":
        return rng.choice(TIMES)
    if slot in ("MENU", "MENU2"):
        return rng.choice(MENU)
    if slot == "ORDER":
        return rng.choice([f"#{rng.randint(10000, 99999)}", f"HB-{rng.randint(1000, 9999)}",
                           f"order {rng.randint(100000, 999999)}", f"BK2025-{rng.randint(100, 999)}"])
    if slot == "MILES":
        return rng.choice([f"{rng.randint(5, 80)} miles", f"{rng.randint(10, 90)} mi",
                           f"about {rng.randint(20, 60)} minutes"])
    if slot == "CITY":
        return rng.choice(pool["cities"])[0]
    raise KeyError(slot)


def make_message(rng: random.Random, pool: dict, held: bool, channel: str, idx: int, split: str) -> dict:
    ctx = {"person": _person(rng, pool["names"]), "agent": rng.choice(pool["agents"])}
    ctx["email"] = email_for(rng, *ctx["person"])
    n_body = {"email": rng.randint(2, 4), "phone": rng.randint(1, 3)}.get(channel, rng.randint(1, 2))
    parts = [rng.choice(pool["open"][channel])]
    sep = "\nCaller: " if channel == "phone" else " "
    parts += [b + ("" if i == n_body - 1 else sep) for i, b in enumerate(rng.sample(pool["body"], n_body))]
    parts.append(rng.choice(pool["close"][channel]))
    text, ents = "", []
    for tpl in parts:
        if re.search(r"(, |and |- |: )$", text) and tpl[:1].isupper() and tpl[1:2].islower():
            tpl = tpl[0].lower() + tpl[1:]
        piece, spans = fill(tpl, rng, pool, held, ctx)
        ents += [{"type": s["type"], "start": s["start"] + len(text), "end": s["end"] + len(text)}
                 for s in spans]
        text += piece
    if channel in ("sms", "instagram") and rng.random() < 0.4:
        lowered = text.lower()
        if len(lowered) == len(text):
            text = lowered
    return {"id": f"{split}-{idx:04d}", "channel": channel, "split": split, "text": text, "entities": ents}


def build(seed: int, pool: dict, held: bool, n: int, split: str) -> list[dict]:
    rng = random.Random(seed)
    return [make_message(rng, pool, held, CHANNELS[i % len(CHANNELS)], i, split) for i in range(n)]


def main() -> None:
    dev = build(20250301, DEV_T, False, 330, "dev")
    held = build(99173, HELDOUT_T, True, 220, "heldout")
    for name, rows in (("dev", dev), ("heldout", held)):
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                for e in row["entities"]:
                    assert row["text"][e["start"]:e["end"]].strip() == row["text"][e["start"]:e["end"]]
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} messages, {sum(len(r['entities']) for r in rows)} entities")


if __name__ == "__main__":
    main()
