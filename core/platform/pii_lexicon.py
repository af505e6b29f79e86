"""Names that no cue introduces: capitalised words that are no English word, place or brand.

spaCy's small English NER misses many given names and surnames from other cultures ("Žukauskas",
"Adetokunbo", "van de Weterink") when no cue ("my name is", "Dr.", a greeting) stands next to
them. ``find_capitalised_names(text, skip)`` finds runs of capitalised words of which at least
one is not an English word, with name particles (``van``, ``de``, ``da``, ``Mac``, ``Ó``...) and
middle initials inside the run. "English word" means a lower-case entry of the Webster's Second
word list that the ``english-words`` package ships (common and rare words; an inflection such as
"loved" counts through its base word). A word the list knows only capitalised (Paul, Laurence)
is a proper name, so it is "not English".

Kept out: words of ``skip`` (places, brands, the business's own names: the caller passes them),
words of ``NAME_STOP_WORDS``/``DOMAIN_WORDS`` and all-capital acronyms (SSN, IBAN, APO); an
English word alone at the start of a sentence ("Blocked again"). Runs scoring 0.6 are accepted
by the scrubber; the candidate still goes through ``core.platform.pii_names`` (places after
"in"/"from", URLs, brands, the allow-list) like any PERSON candidate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from core.platform.pii_recognizers import DOMAIN_WORDS, NAME_STOP_WORDS

SCORE = 0.6
# capitalised abbreviations that are no surname
_ACRONYMS = set("""apo fpo dpo psc usa uk eu ssn iban ip cc dob ok asap rsvp faq bbq tv pm am id pin po st jr
sr ii iii iv md phd usd eur gbp cad aud mxn ppl tba tbd nyc sf la vip diy hoa llc inc ltd co hq gps atm pdf
usns uss cmr ave blvd rd dr ln apt ste pr""".split())
_CAP_INITIAL_CAP = re.compile(
    r"(?<![\w'’‘-])([^\W\d_a-z][^\W\d_]+) [^\W\d_a-z]\. ([^\W\d_a-z][^\W\d_]+)(?![\w'’‘-])")
_TOKEN = re.compile(r"[^\W\d_][\w'’‘]*(?:-[^\W\d_][\w'’‘]*)*\.?")
_PARTICLES = {"van", "von", "de", "der", "den", "da", "do", "dos", "das", "del", "della", "di", "la",
              "le", "du", "des", "ter", "ten", "bin", "binti", "al", "el", "y", "e", "mac", "mc", "ó",
              "ní", "nic", "ua", "af", "zu", "dela", "st", "ibn", "abu", "bint"}
_TITLES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "sr", "sra", "srta", "herr", "frau", "mme", "mlle",
           "sir", "dame", "rev", "fr", "capt", "lt", "col", "gen", "hon", "mst", "dott", "ing", "dipl", "eng",
           "engr", "sheikh", "sheikha"}
# month and weekday names of other languages (dates in a customer's own language are not names)
MONTH_NAMES = _MONTHS = frozenset("""
enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro
janvier février mars avril mai juin juillet août septembre octobre novembre décembre
gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre
januar februar märz april mai juni juli august september oktober november dezember jänner
januari februari maart april mei juni juli augustus september oktober november december
styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik listopad grudzień
leden únor březen duben květen červen červenec srpen září říjen listopad prosinec
január február marec apríl máj jún júl august september október november december
januar februar marec april maj junij julij avgust september oktober november december
siječanj veljača ožujak travanj svibanj lipanj srpanj kolovoz rujan listopad studeni prosinac
ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık
januari februari maret april mei juni juli agustus september oktober november desember
januari februari mars april maj juni juli augusti september oktober november december
januar februar marts april maj juni juli august september oktober november december
tammikuu helmikuu maaliskuu huhtikuu toukokuu kesäkuu heinäkuu elokuu syyskuu lokakuu marraskuu joulukuu
január február március április május június július augusztus szeptember október november december
ianuarie februarie martie aprilie mai iunie iulie august septembrie octombrie noiembrie decembrie
yanvar fevral mart aprel may iyun iyul avqust avgust sentyabr sentabr oktyabr oktabr noyabr dekabr
i̇yun i̇yul machi aprili julai agosti septemba oktoba novemba desemba mac ogos disember
tháng giêng chạp mười sáu tám bảy chín
lunes martes miércoles jueves viernes sábado domingo lundi mardi mercredi jeudi vendredi samedi
dimanche montag dienstag mittwoch donnerstag freitag samstag sonntag segunda terça quarta quinta sexta
enero pebrero marso abril mayo hunyo hulyo agosto setyembre oktubre nobyembre disyembre
yanuari fevruari mart april may yuni yuli avgust septemvri oktomvri noemvri dekemvri
yanvarya fevralya marta aprelya iyunya iyulya avgusta sentyabrya oktyabrya noyabrya dekabrya
sichen lyutyi lyutyy berezen kviten traven cherven lypen lipen serpen veresen zhovten lystopad listopad hruden
ianouarios fevrouarios martios aprilios maios iounios ioulios avgoustos septemvrios oktovrios noemvrios
dekemvrios ianouariou fevrouariou martiou apriliou maiou iouniou iouliou avgoustou septemvriou oktovriou
noemvriou dekemvriou
kanun shubat shbat shabat adhar nysan ayyar ayar iyar hziran hzyran huzayran tammuz tamuz tmwz aylul
aylwl ailul ilul tishrin tshrin tashrin teshrin ab
""".split())
# the Arabic (Levantine) months of two words: "Kanun al-Thani", "Tishrin Alawl" as romanised
ARABIC_MONTH = re.compile(r"(?:kanun|tishrin|tshrin|tashrin|teshrin)[ \t]+(?:al[ \t-]?|el[ \t-]?)?"
                          r"(?:awwal|awal|awl|auwal|thani|thany|tani|thaani)", re.IGNORECASE)
_CONTRACTIONS = {"re", "d", "m", "ll", "ve", "s", "t", "clock"}
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("es", ""),
             ("s", ""), ("er", ""), ("er", "e"), ("ers", ""), ("est", ""), ("ly", ""), ("'s", ""),
             ("’s", ""), ("d", ""), ("n't", ""))
# words customers write capitalised that no word list holds (greetings, chat words)
_CHAT = {"hiya", "heya", "hola", "ciao", "merci", "danke", "gracias", "obrigado", "obrigada", "ta", "tysm",
         "btw", "fyi", "asap", "ok", "okay", "pls", "plz", "thx", "yay", "lol", "omg", "xoxo", "fwiw",
         "imo", "tbh", "greetings", "idk", "np", "wifi", "ps", "re", "fw", "fwd", "attn", "dm", "dms",
         "pm", "am",
         "p.s", "e.g", "i.e", "etc", "vs", "aka", "rsvp", "faq", "faqs", "url", "gluten", "vegan",
         # thanks and greetings of other languages, and the Filipino politeness particle
         "salamat", "maraming", "po", "opo", "grazie", "prego", "spasibo", "blagodarya", "dyakuyu",
         "efharisto",
         "kiitos", "tack", "takk", "dank", "dankjewel", "bedankt", "dziękuję", "dekuji", "děkuji", "hvala",
         "köszönöm", "mulțumesc", "shukran", "arigato", "xiexie", "namaste", "kamsahamnida",
         "gracies", "graças", "mabuhay", "kumusta", "privet", "zdravstvuyte", "yassou", "geia", "kalimera",
         "servus", "moin", "hallo", "salut", "bonjour", "buenos", "buenas", "bom", "boa",
         "shukriya", "dhanyavad", "dhanyavaad", "dhanyawad", "dhanyabad", "nandri", "vanakkam", "namaskar",
         "namaskaram", "namaskara", "salaam", "salam", "assalamu", "alaikum", "shalom", "toda", "todah",
         "marhaba", "ahlan", "yalla", "inshallah", "mashallah", "alhamdulillah", "jazakallah", "sawasdee",
         "annyeong", "annyeonghaseyo", "gamsahamnida", "khob", "madloba", "gamarjoba", "barev", "mersi",
         "khodahafez", "rahmat", "habari", "jambo", "sannu", "nagode", "ese", "daalu", "merhaba",
         "teşekkürler", "tesekkurler", "sukriya", "dhonnobad", "aloha", "mahalo", "cheers"}


# a self-introduction with the name in lower case in a text that has capitals elsewhere ("Hi! it's
# tushar from the tasting"): a word that is no English word, before a pause or "from", "here"...
_LOWER_INTRO = re.compile(
    r"\b(?:it's|it’s|its|it is|this is|i'm|i’m|im|i am|my name is|my name's|name's)[ \t]+"
    r"(?P<name>[a-z][a-z'’-]{2,})(?=[ \t]*(?:[,.!?;:)\n]|$)|[ \t]+(?:from|here|again|btw|checking|"
    r"following|writing|texting|with|about)\b)")


# a message (or sentence) that opens with the writer's name in lower case and where they know the
# business from ("abd alalim from the wedding on ... - quick q")
LOWER_OPENING = re.compile(
    r"(?:^|[.!?\n][ \t]*|(?:^|\n)[ \t]*(?:hi|hello|hey|salam|salaam|hiya|heya|"
    r"good (?:morning|afternoon|evening)"
    r"(?: team)?|following up)[ \t]*[,!.:-]?[ \t]+)(?P<name>[a-z][a-z'’-]+(?:[ \t][a-z][a-z'’-]+)?)"
    r"(?=[ \t]+from[ \t]+(?:the|our|your|last|yesterday)\b)", re.IGNORECASE)


_KIN = {"mom", "mum", "dad", "mama", "papa", "grandma", "grandpa", "nana", "auntie", "bro", "sis", "hubby"}


def _lower_name(name: str) -> bool:
    """Lower-case words that can be a name opening a message: no stop, domain, chat or kin word,
    and one that is no English word as written (an "-ed"/"-d" look-alike such as "rashd" counts;
    a plural of an English word, "photos", does not)."""
    words = name.split()
    return all(w.islower() and w not in NAME_STOP_WORDS and w not in DOMAIN_WORDS and not is_chat_word(w)
               and w not in _TITLES and w not in _KIN for w in words) \
        and any((not is_english(w, inflected=False) and not (w.endswith("s") and is_english(w[:-1])))
                or w in proper_names() for w in words)


def find_lowercase_intro_names(text: str) -> list[tuple[int, int, float]]:
    """A name in lower case right after a self-introduction, or opening the message before "from
    the ...", in a text with capitals elsewhere (texts all in lower case have their own rules in
    ``find_context_names``)."""
    if not any(ch.isupper() for ch in text):
        return []
    out = []
    for m in _LOWER_INTRO.finditer(text):
        name = m.group("name")
        if (not is_english(name) or name in proper_names()) and name not in NAME_STOP_WORDS \
                and name not in DOMAIN_WORDS and not is_chat_word(name):
            out.append((m.start("name"), m.end("name"), 0.6))
    for m in LOWER_OPENING.finditer(text):
        if _lower_name(m.group("name")):
            out.append((m.start("name"), m.end("name"), 0.6))
    return out


def is_chat_word(word: str) -> bool:
    """A greeting, thanks or chat word (of English or another language): never a name."""
    return word.lower().strip(".,!?'’") in _CHAT


# month names written as other languages say the English ones ("Januyari", "Aktobar", "Disenbar"):
# their consonants, read loosely (p/b/f/v, k/g/q/c, t/d, s/z/ch/sh, m/n), are a month's
_SKELETON_PAIRS = (("ch", "s"), ("sh", "s"), ("ph", "f"), ("th", "t"), ("kh", "k"), ("gh", "g"), ("dh", "d"),
                   ("bh", "b"), ("ck", "k"))
_SKELETON_LETTERS = str.maketrans({"p": "b", "f": "b", "v": "b", "g": "k", "q": "k", "c": "k", "t": "d",
                                   "z": "s", "m": "n", "x": "ks"})


def _skeleton(word: str) -> str:
    w = word.lower()
    for a, b in _SKELETON_PAIRS:
        w = w.replace(a, b)
    w = "".join(ch for ch in w if ch.isalpha() and ch not in "aeiouyhw")
    return re.sub(r"(.)\1+", r"\1", w.translate(_SKELETON_LETTERS))


_MONTH_SKELETONS = frozenset(_skeleton(m) for m in ("january february march april may june july august "
                                                    "september october november december").split())


def _within_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def month_like(word: str) -> bool:
    """The word sounds like an English month name (used only next to a day number)."""
    sk = _skeleton(word)
    if len(sk) < 3:
        return False
    return sk in _MONTH_SKELETONS or (len(sk) >= 4 and any(_within_one(sk, m) for m in _MONTH_SKELETONS
                                                           if len(m) >= 4))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The lower-case entries of Webster's Second (``english-words``): English words, common or rare."""
    # reason: the word list is 2 MB of text; only a scrubber being built needs it
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower())


@lru_cache(maxsize=1)
def _capitalised_entries() -> frozenset[str]:
    # reason: as above
    from english_words import get_english_words_set

    return frozenset(w.lower() for w in get_english_words_set(["web2"], lower=False, alpha=True)
                     if w[:1].isupper())


def proper_names() -> frozenset[str]:
    """Lower-cased words the word list knows only capitalised (Grace, Bill, Paul): proper names."""
    return _capitalised_entries()


def plain_first_word(text: str, start: int, word: str) -> bool:
    """A capitalised first word of a sentence that is an English word and no name the word list
    knows ("Loved", "Blocked", "Visiting"; not "Bill" or "Grace")."""
    return _sentence_start(text, start) and is_english(word) and word.lower() not in _capitalised_entries()


def is_english(word: str, inflected: bool = True) -> bool:
    """Whether a word (any case) is a lower-case English word or (``inflected``) an inflection of one."""
    lower = english_words()
    w = word.lower().strip(".'’‘")
    if w in lower or w in NAME_STOP_WORDS or w in DOMAIN_WORDS or w in _CHAT or w in _MONTHS:
        return True
    if "'" in w or "’" in w:  # "we're", "i'd", "o'clock"; but "O'Neill" and "Sa’adatu" are no words
        base, _, rest = w.replace("’", "'").partition("'")
        if rest in _CONTRACTIONS and (base in NAME_STOP_WORDS or (base in lower and len(base) > 1)):
            return True
    return inflected and any(
        w.endswith(suf) and len(w) > len(suf) + 2 and w[: len(w) - len(suf)] + add in lower
        for suf, add in _SUFFIXES)


def _is_cap(tok: str) -> bool:
    return tok[0].isupper() and not (len(tok) > 1 and tok.rstrip(".").isupper() and "-" not in tok)


# an opening greeting and its comma: what follows starts a sentence ("Hello again, Blocked again")
_OPENER = re.compile(r"(?:^|[.!?:\n])\s*(?:hi|hello|hey|hiya|heya|howdy|morning|good (?:morning|"
                     r"afternoon|evening|day)|greetings|dear (?:team|all|sir|madam|friends)|(?:hi|hello|hey) "
                     r"(?:again|there|team|folks|all|everyone|guys)|quick (?:one|question)|ok|okay|so|well|"
                     r"also|btw|p\.?s\.?)[ \t]*,\Z", re.IGNORECASE)


def _sentence_start(text: str, start: int, openers: bool = True) -> bool:
    before = text[:start].rstrip(" \t\"'(“")
    if before.endswith(".") and (m := re.search(r"(?:^|\s)(\w+)\.$", before)) and (
            m.group(1).lower() in _TITLES or len(m.group(1)) == 1):
        return False  # "Dr. Jann", "T. Price"
    return not before or before[-1] in ".!?:\n" or before.endswith(("--", " -")) \
        or bool(openers and before.endswith(",") and _OPENER.search(before, max(0, len(before) - 40)))


def sentence_start(text: str, start: int) -> bool:
    """Whether ``start`` opens a sentence (after . ! ? : a line break, a dash, or "Hi there,")."""
    return _sentence_start(text, start)


_CAP_WORD = re.compile(r"(?<![\w'’‘-])[^\W\d_a-z][\w'’‘-]*")


_SUBJECT_NEXT = re.compile(
    r"\s*(?:,\s*[^\W\d_a-z]|&|and\s+[^\W\d_a-z]|[^\W\d_a-z]\w*\s+(?:and|will|is|was)\b|"
    r"(?:will|is|was|and|said|says|asked|mentioned|wants|wanted|booked|has|had|can|could|would|called|"
    r"emailed|texted|paid|loved|recommended|referred|told|sent|gave|took|brought|needs|needed)\b)")
_BOUNDARY = re.compile(r"[.!?]+(?=\s|$)|\n")


def _sentence_around(text: str, pos: int) -> tuple[int, int]:
    start = 0
    for b in _BOUNDARY.finditer(text, 0, pos):
        start = b.end()
    nxt = _BOUNDARY.search(text, pos)
    return start, nxt.end() if nxt else len(text)


def ner_windows(text: str, skip: Callable[[str], bool] = lambda w: False) -> list[tuple[int, int]]:
    """The sentences where spaCy's NER can add a name that ``find_capitalised_names`` does not
    find: those with a capitalised English word ("Grace", "Rose", "Bill") that is no place, brand
    or allow-listed word (``skip``), inside the sentence or, when the word list knows it as a
    name, at its start. Capitalised words that are no English word are the capitalised-word
    recognizer's. The scrubber runs the NER (most of its time per message) on these only."""
    proper = _capitalised_entries()
    out: list[tuple[int, int]] = []
    for m in _CAP_WORD.finditer(text):
        word = m.group(0).strip("'’‘")
        low = word.lower()
        if (out and m.start() < out[-1][1]) or low in NAME_STOP_WORDS or low in DOMAIN_WORDS or low in _CHAT \
                or low in _TITLES or low in _MONTHS or (len(word) > 1 and word.isupper()) or skip(word) \
                or not is_english(word):
            continue
        # (after "Hi there," too: the NER reads a greeting's next word better than the word list)
        if not _sentence_start(text, m.start(), openers=False) or low in proper \
                or not is_english(word, inflected=False) or _SUBJECT_NEXT.match(text, m.end()):
            # inside a sentence; at its start a known name ("Grace"), a word English only through
            # an ending ("Markas"), or a word that is the subject of what follows ("Costa and ...")
            out.append(_sentence_around(text, m.start()))
    return out


def needs_ner(text: str, skip: Callable[[str], bool] = lambda w: False) -> bool:
    """Whether ``ner_windows`` finds a sentence for the NER."""
    return bool(ner_windows(text, skip))


def find_capitalised_names(text: str, skip: Callable[[str], bool],
                           place: Callable[[str], bool] = lambda w: False) -> list[tuple[int, int, float]]:
    """Runs of capitalised words with at least one word that is no English word, or two place
    names in a row ("David Gardner": both are towns, together a name); see the module doc.

    ``skip(word)`` is true for words that are never names here (brands, the allow-list, months),
    ``place(word)`` for place names (a name by itself only next to another name word)."""
    if not any(ch.isupper() for ch in text):
        return []
    out: list[tuple[int, int, float]] = []
    run: list[tuple[int, int, int]] = []  # (start, end, 2: a name word, 1: a place name, 0: other)

    def close() -> None:
        while run and not text[run[-1][0]].isupper():  # particles at the end are not the name
            run.pop()
        while run and text[run[-1][1] - 1] == ".":  # nor an initial
            run.pop()
        if any(r[2] == 2 for r in run) or sum(r[2] == 1 for r in run) >= 2:
            out.append((run[0][0], run[-1][1], SCORE))
        run.clear()

    prev_end = -1
    for m in _TOKEN.finditer(text):
        s, e, tok = m.start(), m.end(), m.group(0).rstrip(".")
        if run and not re.fullmatch(r"[ \t]|[ \t]?-[ \t]?", text[prev_end:s]):  # not over a sentence gap
            close()
        prev_end = e
        low = tok.lower()
        if low in _PARTICLES and (run or (tok.islower() and len(tok) > 2)):
            run.append((s, s + len(tok), 0))  # "van de Weterink", "Manus Mac Fhloinn"
            continue
        if len(tok) == 1 and tok.isupper() and m.group(0).endswith(".") and run:
            run.append((s, e, 0))  # a middle initial inside a run
            continue
        if run and len(tok) > 1 and tok.isupper() and text[run[-1][0]:run[-1][1]].isupper() \
                and low not in _ACRONYMS and low not in NAME_STOP_WORDS:
            run.append((s, s + len(tok), 2))  # a surname in capitals after a given name: "WEN-CHENG PU"
            continue
        if not _is_cap(tok) or low in NAME_STOP_WORDS or low in DOMAIN_WORDS or low in _CHAT \
                or low in _TITLES or low in _MONTHS:
            close()
            continue
        first = not run and _sentence_start(text, s)
        # a brand word stays in a run but is no name; a place name is half a name
        kind = 0 if skip(tok) else 1 if place(tok) else 0 if is_english(tok, inflected=first) else 2
        if kind == 0 and first:
            continue  # "Blocked again", "Loved it": a capitalised first word
        if kind == 0 and len(run) >= 2 and run[-1][1] - run[-1][0] == 2 and text[run[-1][1] - 1] == ".":
            kind = 2  # "Cameron G. Price": two capitalised words around an initial
        run.append((s, s + len(tok), kind))
        if m.group(0).endswith(".") and len(tok) > 1:
            close()  # the end of a sentence
    close()
    for m in _CAP_INITIAL_CAP.finditer(text):  # "Cameron G. Price": whatever its words are
        span = (m.start(), m.end(), SCORE)
        if m.group(1).lower() not in NAME_STOP_WORDS | DOMAIN_WORDS | _TITLES and span not in out:
            out.append(span)
    return out + [c for c in find_caps_names(text, skip) if not any(o[0] < c[1] and c[0] < o[1] for o in out)]


_CAPS_RUN = re.compile(r"(?<![\w'’‘-])[^\W\d_a-z]{2,}(?:-[^\W\d_a-z]{2,})?(?:[ \t]+(?:[^\W\d_a-z]\.[ \t]+)?"
                       r"[^\W\d_a-z]{2,}(?:-[^\W\d_a-z]{2,})?){0,3}(?![\w'’‘-])")
_VOWELS = set("AEIOUYÄÖÜÁÉÍÓÚÀÈÌÒÙÂÊÎÔÛÅÆØƏİŒ")


def find_caps_names(text: str, skip: Callable[[str], bool] = lambda w: False) -> list[tuple[int, int, float]]:
    """Names in capitals in a text that is not written in capitals: a run of two or more words in
    capitals with one that is no English word or abbreviation ("KATHY PERRY", "UHBAN QAASIM"), or
    one such word as the subject of what follows ("CHEN will be our contact")."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters or sum(ch.isupper() for ch in letters) * 2 > len(letters):
        return []
    out = []
    for m in _CAPS_RUN.finditer(text):
        words = [w for w in re.split(r"[ \t]+", m.group(0)) if len(w) > 2 or not w.endswith(".")]
        if not all(m.group(0) == m.group(0).upper() for _ in (0,)) or any(
                w.lower() in _ACRONYMS | NAME_STOP_WORDS | DOMAIN_WORDS | _CHAT | _TITLES | _MONTHS or skip(w)
                or not _VOWELS & set(w) for w in words):
            continue
        if not any(not is_english(w) for w in words):
            continue
        if len(words) >= 2 or _SUBJECT_NEXT.match(text, m.end()):
            out.append((m.start(), m.end(), SCORE))
    return out
