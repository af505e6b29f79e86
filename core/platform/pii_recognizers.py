"""The pattern recognizers of the PII scrubber: plain functions over a text.

Each ``find_*`` function returns ``(start, end, score)`` spans of one entity type (scores 0-1,
higher when a cue such as "call", "card" or "DOB" precedes the match); ``core.platform.pii``
wraps them as Presidio recognizers next to spaCy's NER and Presidio's own e-mail, IBAN and IP
recognizers:

- ``find_cards``: Luhn-valid payment card numbers (CREDIT_CARD)
- ``find_ssns``: US social security numbers (US_SSN)
- ``find_ibans``: IBANs in any letter case (IBAN_CODE)
- ``find_addresses``: US street addresses, routes and PO boxes (STREET_ADDRESS)
- ``find_dobs``: dates right after a birth cue (DATE_OF_BIRTH)
- ``find_context_names``: names introduced by context (PERSON)

``DOMAIN_WORDS`` and ``NAME_STOP_WORDS`` are the words never taken for part of a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# --- vocabulary ---------------------------------------------------------------------------------
_STATE_ABBR = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
               "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
_STATE_NAMES = ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
                "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
                "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota",
                "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey",
                "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon",
                "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas",
                "Utah", "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming"]
# USPS street suffixes (common subset).
_SUFFIXES = ("Street|St|Avenue|Ave|Av|Road|Rd|Drive|Dr|Lane|Ln|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
             "Parkway|Pkwy|Circle|Cir|Terrace|Ter|Trail|Trl|Highway|Hwy|Loop|Square|Sq|Plaza|Plz|"
             "Crossing|Xing|Cove|Cv|Path|Pike|Run|Row|Alley|Aly|Bend|Point|Pt|Ridge|Hollow|Walk|"
             "Commons|Creek|Heights|Hts|Grove|Glen|Manor|Mews|Expressway|Expy|Freeway|Fwy|Crescent|"
             "Cres|Close|Landing|Lndg|Pass|Vista|Green|Gardens|Estates|Meadows")
# Words that are never part of a name or a street name here: menu, business and support words.
DOMAIN_WORDS = set("""
hibachi chef chefs filet mignon yakisoba teriyaki tempura lo mein gyoza edamame miso tofu
salmon shrimp steak chicken lobster scallops scallop rice noodles noodle sauce yum sushi strip ny
vegetable vegetables veggie dessert sake grill propane catering caterer party parties booking
bookings deposit invoice quote menu guests guest people adults adult kids kid children toddlers
miles mile mi minutes minute hours hour dollars dollar plate plates head person per price total
tax tip gratuity order ref reference visa amex mastercard discover card cc cvv exp ssn dob iban ip
email e-mail phone cell mobile text number address zip agent caller home inquiry question team
callback callbacks voicemail reception venue billing
folks everyone everybody all guys friends there sir madam ma'am again support hr payroll wifi
saturday sunday monday tuesday wednesday thursday friday weekend tomorrow today tonight
january february march april may june july august september october november december
jan feb mar apr jul aug sep sept oct nov dec eve new year years christmas thanksgiving
yes yeah yep no nope ok okay sure great thanks thank thx ty hi hello hey dear regards best
cheers sincerely warm warmly kind love xo xoxo ta hiya lol omg pls please sorry wow cool awesome perfect
looking interested wondering trying hoping planning calling texting writing reaching checking
going getting having following regarding asking just still also really super very so excited
available free ready back here good fine glad happy new interested confused curious not
""".split())
NAME_STOP_WORDS = DOMAIN_WORDS | set("""
a an the and or but if of for to from in on at by with about as into like through after over
between out against during without before under around among i me my we us our you your he him
his she her it its they them their this that these those is am are was were be been being have
has had do does did will would shall should can could may might must what which who whom whose
where when why how any both each few more most other some such only own same than too very s t
one two three four five six seven eight nine ten hundred thousand many much
someone somebody anyone anybody nobody everything something nothing
""".split())

_SIGNOFF = (r"(?:thanks(?: so much| again| in advance)?|thank you(?: so much)?|thx|ty|tysm|cheers|"
            r"regards|best regards|kind regards|warm regards|warmest regards|many thanks|sincerely|"
            r"yours truly|best wishes|best|all the best|respectfully|ta|love|xo|xoxo|talk soon|"
            r"take care|blessings|warmly|warm wishes|with thanks|yours|cordially|gratefully|rgds|all best)")
# titles before a name; a title alone is no name
_TITLE_WORDS = ("dr|mr|mrs|ms|miss|mx|prof|professor|doctor|sr|sra|herr|frau|mme|mlle|capt|captain|col|"
                "sgt|lt|maj|rev|pastor|rabbi|imam|sheikh|sheikha|judge|officer|eng|engr")
TITLES = frozenset(_TITLE_WORDS.split("|"))
_NAME_WORD = r"[^\W\d_][^\W\d_'’‘.-]*(?:['’‘-][^\W\d_]+)*\.?"
_NAME = rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --- pattern recognizers --------------------------------------------------------------------
_CARD = re.compile(r"(?<![\d\w])(?:\d[ \-]?){11,18}\d(?![\d\w])")
_CARD_CUES = re.compile(r"(card|visa|master ?card|amex|american express|discover|cc|credit|debit|"
                        r"ending)\W*(?:\w+\W+){0,5}$", re.IGNORECASE)


_MAESTRO_12 = {"50", "56", "57", "58", "63", "67"}


def find_cards(text: str) -> list[tuple[int, int, float]]:
    """Payment card numbers of 13-19 digits (12 for Maestro; spaces or dashes allowed) passing the
    Luhn check."""
    out = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if not 12 <= len(digits) <= 19:
            continue
        if len(digits) < 13 and not (_luhn_ok(digits) and digits[:2] in _MAESTRO_12):
            continue  # 12 digits: Maestro only
        if _luhn_ok(digits) and digits[0] in "23456":
            out.append((m.start(), m.end(), 0.95))
        elif _CARD_CUES.search(text[max(0, m.start() - 50):m.start()]):
            out.append((m.start(), m.end(), 0.6 if _luhn_ok(digits) else 0.45))
    return out


_SSN = re.compile(
    r"(?<![\w\-.])(?!000|666)(\d{3})([ \-.])(?!00)(\d{2})\2(?!0000)(\d{4})(?![\w\-]|\.\d)"
)
_SSN_PLAIN = re.compile(r"(?<![\w\-])(?!000|666|9\d\d)\d{9}(?![\w\-])")
_SSN_CUES = re.compile(r"(ssn|social security|social|ss#|ss #|tax id|tin)\W*(?:\w+\W+){0,4}$", re.IGNORECASE)


def find_ssns(text: str) -> list[tuple[int, int, float]]:
    """US social security numbers: 3-2-4 digits with one consistent separator; 9 digits in a row
    only after an SSN cue."""
    out = []
    for m in _SSN.finditer(text):
        cue = _SSN_CUES.search(text[max(0, m.start() - 40):m.start()])
        # 9xx area numbers are ITINs or made up, but written like an SSN they are just as personal
        score = 0.95 if cue else 0.85 if m.group(2) == "-" else 0.8
        out.append((m.start(), m.end(), score - (0.1 if m.group(1)[0] == "9" and not cue else 0)))
    for m in _SSN_PLAIN.finditer(text):
        if _SSN_CUES.search(text[max(0, m.start() - 40):m.start()]):
            out.append((m.start(), m.end(), 0.9))
    return out


_IBAN_ANY_CASE = re.compile(
    r"(?<![\w-])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,4})?(?![\w-])"
)


def find_ibans(text: str) -> list[tuple[int, int, float]]:
    """IBANs in any letter case (Presidio's recognizer wants upper case), checked by mod 97."""
    out = []
    for m in _IBAN_ANY_CASE.finditer(text):
        iban = m.group(0).replace(" ", "").upper()
        if not 15 <= len(iban) <= 34:
            continue
        numeric = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
        if int(numeric) % 97 == 1:
            out.append((m.start(), m.end(), 0.9))
    return out


_STATE_RX = (r"(?:(?-i:" + "|".join(_STATE_ABBR) + r")\b|(?:" + "|".join(_STATE_NAMES) + r")\b)")
_STATE_ZIP_RX = r"(?:" + "|".join(_STATE_ABBR) + r")\.?\s+\d{5}(?:-\d{4})?\b"
_STREET = re.compile(
    r"(?<![\w$#/.,-])(?P<num>\d{1,6}[A-Za-z]?(?:-\d{1,4})?)\s+"
    r"(?P<dir>(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?\s+)?"
    r"(?P<name>(?:(?:\d{1,3}(?:st|nd|rd|th)|[^\W\d_][\w'’‘.-]*)\s+){0,4}?(?:\d{1,3}(?:st|nd|rd|th)|[^\W\d_][\w'’‘.-]*))"
    r"\s+(?P<suffix>" + _SUFFIXES + r")\b\.?"
    r"(?P<post>\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?",
    re.IGNORECASE,
)
_ROUTE = re.compile(
    r"(?<![\w$#/.,-])\d{1,6}\s+(?:County (?:Road|Rd\.?)|CR|Farm to Market Road|FM|"
    r"State (?:Route|Road|Highway)|"
    r"Route|Rte\.?|Highway|Hwy\.?|US(?:-| )?(?:Hwy|Highway|Route)?|SH)\s*-?\s*\d{1,4}[A-Za-z]?\b",
    re.IGNORECASE,
)
_MORE_SUFFIX = re.compile(r"\s+(?:" + _SUFFIXES + r")\b\.?", re.IGNORECASE)
_PO_BOX = re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d{1,7}\b", re.IGNORECASE)
_UNIT = re.compile(
    r"(?:\s*,)?\s*(?:(?:Apt|Apartment|Unit|Suite|Ste|Bldg|Building|Fl|Floor|Rm|Room|Lot|Trlr)\.?\s*#?\s*|#\s*)"
    r"[A-Za-z0-9][A-Za-z0-9-]{0,5}\b",
    re.IGNORECASE,
)
_CITY_STATE = re.compile(
    r"(?:\s*,)?\s+(?P<city>(?:[^\W\d_][\w'’‘.-]*\s+){0,2}[^\W\d_][\w'’‘.-]*)\s*,?\s+"
    r"(?:" + _STATE_ZIP_RX + r"|" + _STATE_RX + r"(?:\.?\s*,?\s*\d{5}(?:-\d{4})?\b)?)",
    re.IGNORECASE,
)
_ZIP = re.compile(r"(?:\s*,)?\s+\d{5}(?:-\d{4})?\b")


def _plain_words(words: Iterable[str]) -> bool:
    return not any(w.lower().strip(".'’‘") in NAME_STOP_WORDS or w.lower().strip(".'’‘") in DOMAIN_WORDS
                   for w in words)


def find_addresses(text: str) -> list[tuple[int, int, float]]:
    """US street addresses: number + street name + suffix (or county road / route / PO box),
    extended by a unit and a "City, ST 12345" tail when present."""
    out = []
    starts = []
    for m in _STREET.finditer(text):
        words = m.group("name").split()
        if not _plain_words(words):
            # a stop word inside: retry on the tail of the name (e.g. "at 12 Oak St" is fine)
            continue
        caps = {w[0].isupper() for w in words if not w[0].isdigit()}
        if m.group("suffix").islower() and (len(caps) > 1 or any("'" in w or "’" in w for w in words)):
            continue  # "14 ppl We'll drive": prose, not "12 oak st" nor "12 Oak drive"
        end = m.end()
        while True:  # "Cedar Ridge Avenue": the lazy match stopped at "Ridge"
            more = _MORE_SUFFIX.match(text, end)
            if not more:
                break
            end = more.end()
        starts.append((m.start(), end, 0.85))
    for rx in (_ROUTE, _PO_BOX):
        starts += [(m.start(), m.end(), 0.85) for m in rx.finditer(text)]
    for s, e, score in starts:
        u = _UNIT.match(text, e)
        if u:
            e = u.end()
        c = _CITY_STATE.match(text, e)
        if c and _plain_words(c.group("city").split()):
            e = c.end()
        else:
            z = _ZIP.match(text, e)
            if z:
                e = z.end()
        out.append((s, e, score))
    return out


_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    r"|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:\s*,?\s*\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:\s*,?\s*\d{{4}})?"
    r")(?![\w/-])",
    re.IGNORECASE,
)
_DOB_STRONG = re.compile(r"(?:\bdob\b|\bd\.o\.b\.?|date\s+of\s+birth|birth\s*date|\bborn\b)", re.IGNORECASE)
_DOB_WEAK = re.compile(r"(?:birthday|b-?day)", re.IGNORECASE)
_DOB_GAP = re.compile(r"^[\s:=\-–,]*(?:is|was|are|of|on|:|=|-|–|\s)*[\s:=\-–,]*$", re.IGNORECASE)
_HAS_YEAR = re.compile(r"(?:\d{4}|[/.\-]\d{2})$")


def find_dobs(text: str) -> list[tuple[int, int, float]]:
    """Dates of birth: a date right after a birth cue ("DOB", "date of birth", "born (on)",
    "my birthday is"). Event dates ("birthday party on June 5th") are not dates of birth."""
    out = []
    for m in _DATE.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        best = 0.0
        for cue_rx, strong in ((_DOB_STRONG, True), (_DOB_WEAK, False)):
            cues = list(cue_rx.finditer(before))
            if not cues:
                continue
            gap = before[cues[-1].end():]
            if not _DOB_GAP.match(gap):
                continue
            has_year = bool(_HAS_YEAR.search(m.group(0)))
            if strong:
                best = max(best, 0.9 if has_year else 0.7)
            else:
                # "birthday on June 5th" is usually the event; "my birthday is 3/4/1990" is a DOB
                is_form = re.search(r"\b(?:is|was|:|=)\s*$", gap.strip() + " ") or ":" in gap
                if has_year:
                    best = max(best, 0.85 if is_form else 0.6)
                elif is_form:
                    best = max(best, 0.4)
        if best:
            out.append((m.start(), m.end(), best))
    return out


# --- names from context ------------------------------------------------------------------
_CUE_RXS = [
    # (regex with group "name", score when capitalised)
    (rf"\b(?:my name is|my name's|name is|name's|names|i am|i'm|im|this is|it's|its|call me)"
     rf"\s+(?P<name>{_NAME})",
     0.85),
    (rf"\b(?:name|contact|customer|client|host|attn|attention|from)\s*:\s*(?P<name>{_NAME})", 0.85),
    (rf"(?:^|\n)\s*(?:hi|hello|hey|dear|hiya|howdy|good (?:morning|afternoon|evening)|hi again|hello again)"
     rf"[ \t]+(?P<name>{_NAME})\s*[,!.:\n]", 0.8),
    (rf"(?:^|\n|[.!?]\s)\s*{_SIGNOFF}\s*[,!.]*\s*(?:\n\s*)+(?P<name>{_NAME})\s*(?:\n|$)", 0.9),
    (rf"\b{_SIGNOFF}\s*[,!.]*[ \t]*[-–—,]?[ \t]*(?P<name>{_NAME})\s*[.!]?\s*(?:[^\w\s]\s*)*$", 0.8),
    (rf"(?:^|\s)(?:-|–|—|--)[ \t]*(?P<name>{_NAME})\s*(?:[^\w\s]\s*)*$", 0.8),
    (rf"(?:^|\n)--\s*\n(?P<name>{_NAME})\s*(?:\n|$)", 0.9),
    # a dash signature before an e-mail in brackets or a line end, or after a phone number
    (rf"(?:^|\s)(?:-|–|—|--)[ \t]*(?P<name>{_NAME})[ \t]*(?:\(|<|\n)", 0.8),
    (rf"\d[ \t]+(?:-|–|—|--)[ \t]+(?P<name>{_NAME})", 0.7),
    # labelled fields: "Name on the booking: X", "Guest name: X", "Callback request: X"
    (rf"\b(?:(?:full |first |last |guest |booking |customer |contact |your )?name\b[^:\n]{{0,25}}|"
     rf"call-?back(?: request)?|call back(?: request)?|point of contact|organi[sz]er|booked by|"
     rf"on-?site contact)\s*:\s*(?P<name>{_NAME})", 0.85),
    # who is coming: the first name of a list (the scrubber extends a found name over its list)
    (rf"\b(?:who's coming|who is coming|attending|attendees|guest list|guests of hono(?:u)?r(?: are| is)?|"
     rf"allergies|kids|children|invited)\s*:?[ \t]+(?P<name>{_NAME})", 0.7),
    (rf"\b(?:call back|ring back|get back to|call|text|ring|invoice|bill|remind|thank you|thanks|greet|"
     rf"congratulate)[ \t]+(?P<name>{_NAME})", 0.65),
    (rf"(?:^|[.!?,]\s+|\n)(?P<rname>{_NAME})[ \t]+here\b", 0.8),
    (rf"\b(?:contact|contact person|guest|host|organi[sz]er|attendee|customer|client)\s*:\s*"
     rf"(?P<name>{_NAME})", 0.85),
    # the contact person of a day or event: "Contact for the day: X (555...)"
    (rf"\bcontact (?:for|on|at) (?:the )?(?:day|night|event|party|venue|site|evening)\s*:\s*"
     rf"(?P<name>{_NAME})",
     0.85),
    # what only people do: "Crespo will bring the cake", "Can Erika pick up", "Is Ramona still the chef"
    (rf"(?P<rname>{_NAME})\s+(?:will|can|could|would|should|might|may)\s+(?:bring|meet|greet|pick|come|"
     rf"join|host|pay|call|text|email|help|handle|cook|arrive|attend|"
     rf"be (?:our|the|your|my|in charge|there))\b", 0.7),
    (rf"\b(?:can|could|will|would|is|does|did|has)\s+(?P<name>{_NAME})\s+(?:pick|bring|come|make|join|meet|"
     rf"attend|help|call|text|still (?:the|our|my|coming|going|joining|hosting|in charge))\b", 0.7),
    (rf"\b(?:put it under|booking under|reservation under|book it under|under the name)\s+(?P<name>{_NAME})",
     0.75),
    (rf"\b(?:add|cc|loop in|include)\s+(?P<name>{_NAME})\s+(?:to|on|in)\s+(?:this|the)\s+(?:thread|email|"
     rf"e-mail|chat|list|booking|conversation)\b", 0.75),
    (rf"\bboth\s+(?P<name>{_NAME})\s+and\b", 0.7),
    (rf"(?P<rname>{_NAME})\s+and\s+(?:i|me)\b", 0.7),
    (rf"\b(?:my|our|your|his|her|their)\s+(?:(?:event|wedding|party)\s+)?(?:husband|wife|partner|spouse|son|daughter|mom|mother|dad|father|friend|"
     rf"coworker|co-worker|colleague|boss|manager|sister|brother|fianc[eé]e?|assistant|neighbor|"
     rf"cousin|aunt|uncle|planner|boyfriend|girlfriend)(?:'s name is|\s+is|,)?\s+(?P<name>{_NAME})", 0.85),
    # roles at the event: "Our coordinator is X", "the florist is X", "account holder X"
    (rf"\b(?:coordinator|florist|photographer|officiant|bride|groom|best man|maid of honou?r|account holder|"
     rf"card ?holder|emcee|organi[sz]er|point person)(?:\s+is|,|:)?[ \t]+(?P<name>{_NAME})", 0.75),
    (rf"\b(?:talked|spoke|spoken|speaking|chatted|emailed|texted)\s+(?:to|with)\s+(?P<name>{_NAME})", 0.8),
    (rf"\b(?:booking for|reservation for|reserved for|table for|under the name(?: of)?|send it to|"
     rf"deliver it to|addressed to|recommended by|referred by|on behalf of|invoice to|made out to|"
     rf"invoice out to|"
     rf"paid by|booked by|organi[sz]ed by|hosted by|arranged by|sent by|signed by)"
     rf"\s+(?P<name>{_NAME})", 0.75),
    (rf"\b(?:{_TITLE_WORDS})\.?[ \t]+(?P<name>{_NAME})", 0.8),
    (rf"\bchef[ \t]+(?P<name>{_NAME})[ \t]*(?:[,.!?;]|thank|know|is|was|did|said|made|cooked|again|\n|$)",
     0.7),
    # "Khan party of 28", "the Okafor family reunion" (the name is no English word: not "Birthday party")
    (rf"(?:^|[.!?,;:]\s+|\n|\b(?:the|a)\s+)(?P<rname>{_NAME})\s+(?:party|family|household)\s+"
     rf"(?:of|for|reunion|dinner|wedding)\b", 0.7),
    (rf"\breach[ \t]+(?P<name>{_NAME})[ \t]+(?:on|at)[ \t]+[+(\d]", 0.7),
    (rf"(?:^|\n|[.!?]\s)\s*(?:thanks|thank you|cheers|regards|best),[ \t]+(?P<name>{_NAME})", 0.75),
    (rf"\b(?:ask for|cc|copy|thanks to|per)\s+(?P<name>{_NAME})", 0.7),
    (rf"(?P<rname>{_NAME})\s+(?:referred|recommended|told|sent|gave)\s+(?:us|me)\b", 0.8),
    (rf"(?P<rname>{_NAME})\s+(?:asked|texted|emailed|e-mailed|phoned|booked|paid|wants|wanted|said|says|"
     rf"mentioned|suggested|confirmed|organi[sz]ed|arranged|called|took)\b",
     0.7),
    # what only people are or do: "Rita is worried", "Gil loved the Chateaubriand", "Marina can't have nuts"
    (rf"(?P<rname>{_NAME})\s+(?:loved|loves|enjoyed|adored|is vegan|is vegetarian|is allergic|is pregnant|"
     rf"is worried|was worried|is nervous|can't (?:have|eat)|cannot (?:have|eat)|can’t (?:have|eat)|"
     rf"is (?:gluten|dairy|nut|egg)[- ]free|is lactose[- ]intolerant|is (?:celiac|coeliac|diabetic|"
     rf"pescatarian|kosher|halal)|(?:doesn't|doesn’t|does not|won't|won’t|will not|can't|can’t) eat|"
     rf"had to wait|has to leave|will let (?:you|us|them) in)\b", 0.7),
    (rf"(?:^|[.!?]\s+|\n)\s*(?:call|text|email|e-mail|ask|tell|contact|ping|phone)\s+(?P<name>{_NAME})", 0.7),
    (rf"(?:^|\n)\s*(?:caller|customer|client)\s*:\s*(?:(?:yes|yeah|sure|ok|okay|hi)[,.]?\s+)?"
     rf"(?:it's\s+|its\s+|this is\s+)?(?P<name>{_NAME})\s*(?:[.,!]\s*(?:thanks|thank you)?[.!]?)?\s*(?:\n|$)",
     0.85),
    (rf"(?:speaking with|who am i speaking with|your name|full name|name for the booking|"
     rf"name on the reservation)\?\s*\n\s*\w+\s*:\s*(?:(?:yes|yeah|sure|ok)[,.]?\s+)?(?:it's\s+|its\s+)?"
     rf"(?P<name>{_NAME})", 0.9),
]
_CUES = [(re.compile(rx, re.IGNORECASE), score) for rx, score in _CUE_RXS]
_PARTY_CUE = next(rx for rx, _score in _CUES if "(?:party|family|household)" in rx.pattern)
# a cue whose name comes first is tried at every word: test its words after the name first (cheap)
_CUE_TAILS = {rx: re.compile(rx.pattern.split("(?P<rname>" + _NAME + ")", 1)[1], re.IGNORECASE)
              for rx, _score in _CUES if "rname" in rx.groupindex}


# words of DOMAIN_WORDS that are also common given names or surnames: after a cue, written with a
# capital and not before a number ("my assistant Miles", "Our planner, Eve Post"; not "for May 5")
NAME_LIKE_DOMAIN = frozenset("eve may june jan april august miles rice price love hope chase".split())
_MONTH_NAMES_LIKE = frozenset("may june jan april august".split())  # a name only before a surname


def _is_name_word(word: str, lowercase_text: bool, next_word: str = "") -> bool:
    low = word.lower().strip("'’‘")
    if word and low in NAME_LIKE_DOMAIN and word[0].isupper() and not lowercase_text \
            and not next_word[:1].isdigit() and (low not in _MONTH_NAMES_LIKE or next_word[:1].isupper()):
        return True
    if not word or low in NAME_STOP_WORDS or low in DOMAIN_WORDS or any(ch.isdigit() for ch in word) \
            or low.rstrip(".") in TITLES:
        return False
    return lowercase_text or word[0].isupper()


def _name_tokens(text: str, s: int, e: int, lowercase_text: bool,
                 from_right: bool = False) -> tuple[int, int] | None:
    """Trim a candidate name span to its run of plausible name words: the leading run, or the
    trailing run (``from_right``) when the cue follows the name ("Aoife referred us")."""
    words = list(re.finditer(r"\S+", text[s:e]))
    if from_right:
        start = None
        for i, w in enumerate(reversed(words)):
            word = w.group(0)
            if i > 0 and word.endswith((".", ",", "!", "?", ":", ";")):
                break
            if not _is_name_word(word.rstrip(".,!?:;"), lowercase_text):
                break
            start = s + w.start()
        return None if start is None else (start, e)
    end = None
    after = re.match(r"\s*(\S*)", text[e:e + 20]).group(1)
    for i, w in enumerate(words):
        word = w.group(0).rstrip(".,!?:;")
        nxt = words[i + 1].group(0) if i + 1 < len(words) else after
        if not _is_name_word(word, lowercase_text, nxt):
            break
        initial = len(word) == 1 and w.group(0) == word + "." and i + 1 < len(words)
        end = s + w.start() + len(word) + (1 if initial else 0)
        if w.group(0) != word and not initial:  # punctuation ends the name, except after an initial
            break
    if end is None:
        return None
    return s, end


# what kind of party it is, not whose ("Birthday party of 20", "Holiday party for 40")
_EVENT_WORDS = frozenset("""birthday surprise retirement graduation engagement wedding holiday office company
corporate work pool garden block dance house tea cocktail bachelor bachelorette anniversary baby shower
welcome farewell reunion private small large big whole dinner lunch brunch backyard beach graduation
christmas halloween easter football superbowl game family kids teen sweet quinceanera rehearsal""".split())
def find_context_names(text: str) -> list[tuple[int, int, float]]:
    """Names introduced by context: self-introductions, greetings, sign-offs, relations."""
    lowercase_text = not any(ch.isupper() for ch in text)
    out = []
    for rx, score in _CUES:
        right = "rname" in rx.groupindex
        if right and not _CUE_TAILS[rx].search(text):
            continue
        for m in rx.finditer(text):
            g = "rname" if right else "name"
            span = _name_tokens(text, m.start(g), m.end(g), lowercase_text, from_right=right)
            if span and rx is _PARTY_CUE and _EVENT_WORDS & set(text[span[0]:span[1]].lower().split()):
                continue  # "Birthday party of 20"
            if span:
                out.append((span[0], span[1], score if not lowercase_text else score - 0.1))
    return out
