"""Street addresses for the PII scrubber, beyond the US patterns of ``core.platform.pii_recognizers``.

``find_more_addresses(text)`` returns (start, end, score) spans of:

- US addresses found by ``pyap`` (the maintained pyap2 package: number, street, city, state, ZIP);
- number-first streets with any USPS street suffix (``315 Caleb Wells``, ``1 Jason Spur``) and
  French style ``94, avenue ...``;
- street-first streets of other countries: a word with a street ending (``-straße``, ``-gasse``,
  ``-vej``, ``-gade``, ``-gatan``, ``-vägen``, ``-veien``, ``-laan``, ``-straat``, ``-tie``,
  ``-katu``, ``-ulica``...) or a leading street type (``Calle``, ``Avenida``, ``Rua``,
  ``Travessa``, ``Via``, ``Rue``, ``Carrera``...) followed by a house number;
- unit parts on their own (``Suite 238``, ``Apt. 4B``, ``Flat 12``);
- US military addresses (``PSC 4796, Box 6697``, ``Unit 2510 Box 2734``, ``USNS Smith``,
  ``APO AE 09012``, ``FPO``/``DPO``);
- CJK addresses (a run with a prefecture/city/ward marker and a number).

Each street match is extended over what follows it: units, ``, City, ST 12345``, postcodes with a
city (``9000 Amel``, ``BD1P 5LW``, ``55881-316 Fogaça / MS``). ``merge_spans`` joins address
spans that overlap or are separated only by commas, spaces or a line break.
"""

from __future__ import annotations

import re
import warnings

from core.platform.pii_lexicon import MONTH_NAMES, is_english, proper_names
from core.platform.pii_names import town_names
from core.platform.pii_recognizers import NAME_STOP_WORDS

# USPS street suffixes (full names; abbreviations are in core.platform.pii_recognizers).
_USPS = ("Alley Annex Arcade Avenue Bayou Beach Bend Bluff Bluffs Bottom Boulevard Branch Bridge Brook "
         "Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers Circle Circles Cliff Cliffs "
         "Club Common Commons Corner Corners Course Court Courts Cove Coves Creek Crescent Crest Crossing "
         "Crossroad Curve Dale Dam Divide Drive Drives Estate Estates Expressway Extension Extensions "
         "Fall Falls Ferry Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway "
         "Garden Gardens Gateway Glen Glens Green Greens Grove Groves Harbor Harbors Haven Heights "
         "Highway Hill Hills Hollow Inlet Island Islands Isle Junction Junctions Key Keys Knoll Knolls "
         "Lake Lakes Land Landing Lane Light Lights Loaf Lock Locks Lodge Loop Mall Manor Manors Meadow "
         "Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval Overpass "
         "Park Parks Parkway Parkways Pass Passage Path Pike Pine Pines Place Plain Plains Plaza Point "
         "Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Roads "
         "Route Row Rue Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Squares "
         "Station Stravenue Stream Street Streets Summit Terrace Throughway Trace Track Trafficway Trail "
         "Trailer Tunnel Turnpike Underpass Union Unions Valley Valleys Viaduct View Views Village "
         "Villages Ville Vista Walk Walks Wall Way Ways Well Wells Rise Close Parade Esplanade Quay Wharf "
         "Grange Chase Croft Drove Gate Hey Lea Nook Wynd Circuit Nagar Ganj Marg Chowk Colony Zila "
         "Umgwaqo Ithafa Indawo Ulica Utca Cesta Ulice Trg Tér Út Utca Sor Köz Körút Rang Chemin").split()
_WORD = r"[^\W\d_][\w'’‘.\-]*"
_CAP = r"[^\W\d_a-z][\w'’‘.\-]*"
_NUMBER_FIRST = re.compile(
    rf"(?<![\w$#/.,\-])\d{{1,6}}(?:st|nd|rd|th|[A-Za-z])?(?:-\d{{1,4}}|-[A-Z](?![\w]))?,?\s+"
    rf"(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))\s+){{0,5}}?"
    rf"(?i:{'|'.join(_USPS)})\b\.?", re.UNICODE)
_FRENCH = re.compile(
    rf"(?<![\w$#/.,\-])\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|impasse|allée|"
    rf"place|quai|route|cours|square|passage|voie)\b(?:\s+{_WORD}){{1,5}}", re.IGNORECASE)
_ENDINGS = ("straße|strasse|str\\.|gasse|weg|platz|allee|damm|ufer|steig|gade|vej|vænget|stræde|plads|"
            "gata|gatan|vägen|väg|gränd|torget|torg|stigen|backe|gate|gaten|veien|vegen|vei|veg|laan|straat|"
            "plein|dreef|lei|baan|steenweg|kade|gracht|singel|steeg|boulevard|ring|tie|katu|allé|kuja|polku|väylä|kaari|rinne|"
            "ulica|ul\\.|utca|cesta|ulice|třída|náměstí|nábřeží|sokak|caddesi|cad\\.|sk\\.")
_TYPE_WORDS = ("(?:Allé|Alle|Vej|Gade|Weg|Straße|Gasse|Platz|Plads|Torg|Vei|Veg|Laan|Straat|Plein|Katu"
               "|[^\\W\\d_a-z][\\w'’‘]*-(?:Ring|Weg|Platz|Straße|Allee|Gasse))")
_STREET_FIRST_ENDING = re.compile(
    rf"(?<![\w\-])(?:{_CAP}[ \-]){{0,3}}(?:[^\W\d_a-z][\w'’‘\-]{{2,}}?(?i:{_ENDINGS})|{_TYPE_WORDS})(?![\w])"
    rf"(?:\s+{_CAP}){{0,2}}\s+(?:n[º°o]\.?\s*)?\d{{1,5}}[a-zA-Z]?(?:\s?[-/]\s?\d{{1,5}}[a-zA-Z]?)?(?![\d])")
_TYPES_FIRST = ("Calle|C/|Avenida|Avda\\.?|Av\\.?|(?<!\\.)R\\.|Paseo|Pasadizo|Acceso|Bajada|Carretera|"
                "Travesía|Senda|"
                "Plazuela|Polígono|Rampa|Escalinata|Callejuela|Costanilla|Sector|Vía|Praceta|Calçada|"
                "Plaza|Camino|Carrera|Cra\\.?|Cl\\.|Diagonal|"
                "Transversal|"
                "Circunvalación|Callejón|Pasaje|Ronda|Rambla|Glorieta|Cuesta|Alameda|Urbanización|Vial|"
                "Rua|Travessa|Largo|Praça|Estrada|Rodovia|Alameda|Viela|Vila|Beco|Via|Viale|Piazza|Corso|"
                "Vicolo|Strada|Rue|Boulevard|Chemin|Impasse|Allée|Quai|Ulica|Aleja|Trg|Náměstí|Ulice|Rruga|"
                "Aeroporto|Lagoa|Feira|Favela|Jardim|Núcleo|Setor|Conjunto|Sítio|Chácara|Distrito|Loteamento|"
                "Quadra|Residencial|Esplanada|Ladeira|Parque|Passarela|Recanto|Vereda|Trecho|Condomínio|Morro|Colônia|"
                "Borgo|Canale|Incrocio|Contrada|Piazzale|Rotonda|Stretto|Andador|Prolongación|Circuito|"
                "Corredor|Calzada|Privada|Cerrada|Continuación|Retorno|Periférico|Eje|ul\\.|al\\.|aleja|"
                "ulica|pl\\.|os\\.|rue|avenue|chemin|Ul\\.|Al\\.|Aleja|Ulica|Pl\\.|plac|Plac|Aleea|Drumul|"
                "Bulevardul|Calea|Strada|Splaiul|Șoseaua|Soseaua|Intrarea|Piața|Piata|Gang|Gg\\.|Jalan|Jl\\.|Jln\\.?|"
                "Lorong|Lrg\\.|Persiaran|Lebuh|Lebuhraya|Soi|Thanon|"
                "Đường|đường|Phố|phố|Ngõ|Hẻm|Khóm|Số|Peatonal|Eje vial|Ampliación|Pasaje|Diagonal|Camino|"
                "Avenue|Boulevard|boulevard|Blv\\.|Blvd\\.|Bv\\.|allée|impasse|quai|Rang|rang|chemin|Ob|Stretto|Incrocio|Calle|Carrera|Transversal|Passeig|Carrer|"
                "Rruga|Bulevar|Ulitsa|Prospekt|Straße|Strasse|Via|Viale|Largo|Vicolo|Piazza|Sokak|Caddesi|Mahallesi")
_STREET_FIRST_TYPE = re.compile(
    rf"(?<![\w\-])(?:{_TYPES_FIRST})(?![\w])(?:\s+(?:de|del|de la|de las|de los|da|do|dos|das|di|della|"
    rf"du|des|la|le|les|von|van)\b)?(?:\s+{_WORD}){{0,4}}?,?\s*(?:(?i:n[º°o]\.?|no\.|nr\.?)\s*)?\d{{1,5}}[A-Za-z]?"
    rf"(?:/\d{{1,4}}[A-Za-z]?)?"
    rf"(?:\s*(?:#|No\.?|N[º°])\s*\d{{1,4}}[A-Za-z]?\s*-\s*\d{{1,4}})?(?![\d])")
# a street name, then its type word in lower case, then the number ("Šerkova ulica 459", "Béke utca 242.")
_NAME_THEN_TYPE = re.compile(
    rf"(?<![\w\-]){_CAP}(?:\s+{_WORD}){{0,2}}?\s+(?:ulica|utca|cesta|trg|ulice|út|utja|tér|köz|sor|körút|"
    rf"náměstí|třída|nábřeží|ul\.|pristanu|gatve|iela|tänav|maantee|bulvar|caddesi|sokak|sokağı)"
    rf"\s+\d{{1,5}}[A-Za-z]?\.?(?!\d)")
# any street name, a house number, then a postcode and a town: "Ilica 12, 10000 Zagreb", "Na Pankráci
# 12, 140 00 Praha" (the postcode and town make it an address whatever the street is called)
_NAME_NUMBER_POSTCODE = re.compile(
    rf"(?<![\w\-]){_CAP}(?:\s+{_WORD}){{0,3}}?\s+\d{{1,5}}[A-Za-z]?(?:\s?[/\-]\s?\d{{1,5}}[A-Za-z]?)?\.?,{{0,2}}\s+"
    rf"(?:{_CAP}(?:\s+{_WORD}){{0,2}},\s+){{0,2}}"
    rf"(?:(?:[A-Z]{{1,2}}-|TK\s)?(?:\d{{4,5}}|\d{{3}}\s\d{{2}})\s+{_CAP}|\d{{4}}\s?[A-Z]{{2}},?\s+{_CAP}"
    rf"|\d{{6,7}}(?![\w]))")
# a house number, then a street type written first and the street's name ("6 đường Bạch Đằng",
# "9/72/480 Hẻm Trần Quốc Toản", "12 Calle Mayor"): no number after the name is needed
_NUMBER_TYPE_FIRST = re.compile(
    rf"(?<![\w$#/.,\-])\d{{1,5}}[A-Za-z]?(?:/\d{{1,4}}){{0,3}},?\s+(?P<type>{_TYPES_FIRST})(?![\w])"
    rf"(?:\s+{_CAP}){{1,4}}")
# divisions, a street with its type word after the name, house and flat parts (Azerbaijani, Uzbek,
# Russian style): "Samux ray., Milabad qəs., Ə.ORUCƏLİYEV küçəsi, b. 2, m. 246"
_POSTFIX_STREET = re.compile(
    rf"(?P<div>(?:{_CAP}\s+(?:ray\.|rayonu|şəhəri|ş\.|qəs\.|qəsəbəsi|k\.|kəndi|tumani|shahri|r-n|obl\.),\s+)+)?"
    rf"(?<![\w\-])[^\W\d_a-z][\w.’‘'\-]*(?:\s+[^\W\d_a-z][\w.’‘'\-]*){{0,2}}\s+"
    rf"(?:küçəsi|küç\.|prospekti|pr\.|döngəsi|dalanı|şossesi|ko[‘'’]chasi|mahallasi|ulitsa|ul\.|sokak|sokağı)"
    rf"(?P<parts>(?:,\s*(?:b|m|ev|d|kv|mən|uy|xonadon)\.\s*\d{{1,5}}[A-Za-z]?)+)?")
_SLAVIC_TYPES = (r"(?:vulytsya|vulitsya|vul\.|prospekt|prosp\.|pr-t|ploshcha|ploshchad|pl\.|naberezhna|"
                 r"naberezhnaya|nab\.|shose|shosse|sh\.|skver|park|provulok|prov\.|pereulok|per\.|bulvar|bul\.|"
                 r"bulv\.|uzviz|alleya|alleia|all\.|ul\.|ulitsa|ulitza|ulica|proyezd|proezd|pr\.|tupik|kvartal|"
                 r"kv-l|mkr\.|mikrorayon|zh\.k\.|bulevard|blvd\.|trg|ploshtad|pl\.)")
_SLAVIC_PLACE = r"(?:(?:g|s|p|k|m|st|pos|klkh|smt|selo|misto|khutir|selishche|gr|grad|obl)\.?\s+" \
                rf"{_CAP}(?:[ \-]{_CAP})?(?:\s+\([^)\n]{{1,20}}\))?,\s+)"
_SLAVIC = re.compile(
    rf"(?<![\w\-]){_SLAVIC_PLACE}?(?i:{_SLAVIC_TYPES})\s+(?:[\w'’‘.\-]+\s+){{0,3}}?[\w'’‘.\-]+,?\s+"
    rf"(?i:bud|d|dom|bl|b|nr|no)\.\s*\d{{1,4}}[A-Za-z]?(?:[/\-]\d{{1,4}})?"
    rf"(?:,?\s+(?i:kv|k|str|korp|ap|et|vkh|pod)\.\s*\d{{1,4}}[A-Za-z]?(?:/\d{{1,4}})?)*(?![\w])")
_STREET_FIRST_TYPE_NONUM = re.compile(
    rf"(?<![\w\-])(?:{_TYPES_FIRST})(?![\w])(?:\s+(?:de|del|de la|da|do|dos|das|di|du|des|la|le|von|van)\b)?"
    rf"(?:\s+{_CAP}){{1,3}}")
_INDIAN = re.compile(
    rf"(?<![\w/])(?:\d{{1,4}}/\d{{1,4}}|(?:H\.\s?No|(?:House|Holding|Plot|Building|Door|Shop)\s+No)\.?\s*\d{{1,5}}),?"
    rf"\s+{_CAP}(?:\s+{_CAP}){{0,2}}")
_UNIT_WORDS = (r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|Rm|Studio|Fl|Floor|Bldg|Building|Edif|Depto|Dpto|"
               r"Piso|Puerta|Apto|Andar|Sala|Lote|Casa|Bloco|Lgh|H\.\s?No|Trlr|Lot|Interior|Int|Appartamento|Scala|"
               r"Torre|Local|Oficina|Dto|Depto|Piano|Bl|Sc|Ap|Edif|Box|Kamar|Lantai|Blok|Stan)")
_UNIT_ALONE = re.compile(rf"(?<![\w])(?:{_UNIT_WORDS})\.?\s*#?\s*\d{{1,5}}[A-Za-z]?(?![\w])", re.IGNORECASE)
# Philippine lots ("Block 05 Lot 47", "Blk 3", "B25 L24") and floors of a named building ("11th Floor
# Davis Tower", "10F Robertson Suites Tower 1")
_LOT = re.compile(r"(?<![\w])(?:(?:Block|Blk\.?)\s*\d{1,3}[A-Za-z]?(?:,?\s*Lot\s*\d{1,4}[A-Za-z]?)?"
                  r"|B\d{1,3}\s+L\d{1,4})(?![\w])")
_BUILDING_TYPES = (r"(?:Tower|Towers|Residences|Residence|Building|Bldg\.?|Plaza|Suites|Heights|Court|House|"
                   r"Condominium|Condominiums|Condo|Mansion|Mansions|Place|Centre|Center|Apartments|Hall|Complex)")
_FLOOR = re.compile(
    rf"(?<![\w])(?:\d{{1,3}}(?:st|nd|rd|th)\s+(?i:floor|flr\.?|fl\.?)|\d{{1,3}}F|(?i:floor|flr\.?)\s*\d{{1,3}}),?"
    rf"\s+(?:{_CAP}\s+){{1,3}}?{_BUILDING_TYPES}(?:\s+\d{{1,3}})?(?![\w])")
# a named building right before an address ("We are in Wilson Court, 12 Oak St"): joins it
_BUILDING = re.compile(rf"(?<![\w\-])(?:{_CAP}\s+){{1,3}}?{_BUILDING_TYPES}(?:\s+\d{{1,3}})?,?\s*\Z")
_MILITARY = re.compile(
    r"(?<![\w])(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{1,5}|(?:USNS|USS|USNV|USCGC)(?:\s+[A-Z][a-z]+)?"
    r"|(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}(?:-\d{4})?)(?![\w])")
_CJK = re.compile(
    r"[\u3040-\u30ff\u4e00-\u9fff０-９0-9\-－]{5,}(?:\s[\u3040-\u30ff\u4e00-\u9fff]+[0-9０-９]*)?")
_CJK_MARK = re.compile(r"[都道府県省市区县町村路街号番號巷弄段樓楼里鄉乡鎮镇縣丁目]")

# what may follow a street: a unit, a postcode with a city, or ", City, ST 12345"
_CITY_WORD = r"[^\W\d_a-z][\w'’‘.\-]*"  # digits too: postcodes of other shapes ("D02 X285")
_CITY_LINK = (r"(?:de|del|do|da|dos|la|le|los|las|sur|am|an|der|im|upon|on|lui|na|pri|pod|nad|y|e|di|en|bei|"
              r"ob|v|u)")
# after a Romance link word the next word may be in lower case ("San Abel los altos")
_CITY = rf"{_CITY_WORD}(?:\s+(?:{_CITY_LINK}\s+)*{_CITY_WORD}" \
        rf"|\s+(?:los|las|de|del|della|di|da|dos|das|la|le|sur)\s+(?:{_CITY_LINK}\s+)*[^\W\d_][\w'’‘.\-]*){{0,4}}"
# words of administrative divisions written before their name, in lower case
_DIVISION = (r"(?:phường|xã|tỉnh|quận|huyện|thành phố|tp\.|thị xã|thị trấn|comuna|región|provincia|"
             r"departamento|kota|kabupaten|kecamatan|kelurahan|distrito|município|municipio|colonia|col\.|"
             r"barangay|brgy\.|okres|obec|powiat|gmina|district|county|khutir|selo|selishche|misto|smt|"
             r"TK|T\.K\.|g\.|s\.|p\.|k\.|d\.|st\.|pos\.|klkh|m\.)")
_POSTCODE = (r"\d{4}\s?[A-Z]{2}(?![\w])|(?:[A-Z]{1,2}-)?\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3}|\d{6,8}|\d{3}\s\d{2}"
             r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
             r"|[A-Z]\d[A-Z]\s?\d[A-Z]\d")
_TAIL = re.compile(
    rf"(?:\s*,\s*|\s*\n\s*|\s*/\s*|\s+-?\s*|-)(?:"
    rf"(?i:{_UNIT_WORDS})\.?\s*#?\s*[\w\-]{{1,6}}"                              # unit
    rf"|(?i:n[º°o]\.?|no\.|nr\.?|#)\s*\d{{1,5}}[A-Za-z]?(?:\s*-\s*\d{{1,4}})?"     # N° 12, No. 5
    rf"|(?i:{_DIVISION})\s+{_CITY}"                                              # tỉnh An Giang
    rf"|(?:{_POSTCODE})(?:\s+{_CITY})?"                                         # postcode [city]
    rf"|{_CITY}(?:\s*(?:,|/)?\s*(?:[A-Z]{{2,4}})\b)?(?:\s*[,\-]?\s*(?:{_POSTCODE}))?"  # city [ST] [zip]
    rf"|[A-Z]\.\s?[A-Z]{{2,4}}(?:\s*[,\-]?\s*(?:{_POSTCODE}))?"                    # Q. ROO 31976
    rf"|\([A-Z]{{2}}\)|\d{{1,5}}[A-Za-z]?\.?|[A-Z]{{2,4}}\.?|\d[A-Z]{{2}}"          # (province), number, ST
    rf")(?![\w])")
# a capitalised word starting a new clause, not a city
_TAIL_STOP = {"thanks", "thank", "please", "pls", "cheers", "regards", "best", "and", "or", "the", "see",
              "call",
              "we", "i", "my", "our", "your", "it", "is", "are", "if", "by", "at", "on", "in", "for", "to",
              "from", "hi", "hello", "hey", "cc", "tel", "phone", "mobile", "email", "ok"}


def extend_address(text: str, end: int) -> int:
    """Extend an address end over units, postcodes, cities and states that follow it."""
    for _ in range(8):
        m = _TAIL.match(text, end)
        if not m:
            break
        words = re.findall(r"[^\W\d_]+", m.group(0))
        if words and words[0].lower() in _TAIL_STOP:
            break
        end = m.end()
    return end


def merge_spans(spans: list[tuple[int, int, float]], text: str) -> list[tuple[int, int, float]]:
    """Join spans that overlap or are separated only by commas, spaces or one line break."""
    out: list[tuple[int, int, float]] = []
    for s, e, sc in sorted(spans):
        if out and (s <= out[-1][1] or re.fullmatch(r"[ \t]*,?[ \t]*\n?[ \t]*", text[out[-1][1]:s])):
            ps, pe, psc = out.pop()
            out.append((ps, max(pe, e), max(psc, sc)))
        else:
            out.append((s, e, sc))
    return out


_US_STATE_ZIP = re.compile(r"\b[A-Z]{2}\.?,?\s+\d{5}(?:-\d{4})?\b")


# pyap normalises the text before matching ("a,b" -> "a, b", runs of spaces -> one, dashes) and
# gives offsets into ITS text: normalise here the same way, keeping where each character came from
_PYAP_NORMAL = [(re.compile(r"[ \t]*(?:,[ \t]*)+"), ", "), (re.compile(r" +"), " "),
                (re.compile("[\u2010-\u2015]"), "-")]


def _normalise_for_pyap(text: str) -> tuple[str, list[int]]:
    """pyap's normalised text and, for each of its characters, the index in ``text``."""
    index = list(range(len(text)))
    for rx, repl in _PYAP_NORMAL:
        out, new_index, last = [], [], 0
        for m in rx.finditer(text):
            out.append(text[last:m.start()])
            new_index += index[last:m.start()]
            out.append(repl)
            new_index += [index[min(m.start() + i, m.end() - 1)] for i in range(len(repl))]
            last = m.end()
        out.append(text[last:])
        new_index += index[last:]
        text, index = "".join(out), new_index
    return text, index


def _pyap(text: str) -> list[tuple[int, int, float]]:
    # reason: pyap compiles large patterns on import; only a scrubber being built needs it
    import pyap

    norm, index = _normalise_for_pyap(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = [(index[a.match_start], index[a.match_end - 1] + 1, 0.85)
                 for a in pyap.parse(norm, country="US") if a.match_end > a.match_start]
    # pyap sometimes starts at any number far before the street ("838 65 8899 for the form Address
    # is Unit 4173 ..."): start after the last English function word instead
    out = []
    for s, e, sc in found:
        words = list(re.finditer(r"[^\W\d_]+", text[s:e]))
        stops = [w for w in words if w.group(0).lower() in NAME_STOP_WORDS]
        if len(stops) > 1:
            nxt = re.compile(r"[\dA-Z]").search(text, s + stops[-1].end(), e)
            if not nxt:
                continue
            s = nxt.start()
        out.append((s, e, sc))
    return out


def _plain_street(span: str) -> bool:
    """An address has at most one English function word ("Avenue of the Americas" is rare)."""
    return sum(w in NAME_STOP_WORDS for w in re.findall(r"[^\W\d_]+", span.lower())) <= 1


def find_more_addresses(text: str) -> list[tuple[int, int, float]]:
    """International, unit-only, military and CJK addresses, and pyap's US ones (see module doc)."""
    out = []
    has_digit = any(ch.isdigit() for ch in text)
    if not has_digit:
        return []
    for rx in (_NUMBER_FIRST, _FRENCH, _STREET_FIRST_ENDING, _STREET_FIRST_TYPE, _NAME_THEN_TYPE,
               _NAME_NUMBER_POSTCODE):
        for m in rx.finditer(text):
            if rx is _NAME_NUMBER_POSTCODE and (m.group(0).split()[-1].lower() in _TAIL_STOP
                                                or not _plain_street(m.group(0))):
                continue  # "Table for 12, 10000 Thanks"
            out.append((m.start(), extend_address(text, m.end()), 0.8))
    for m in _POSTFIX_STREET.finditer(text):
        if m.group("div") or m.group("parts"):
            out.append((m.start(), extend_address(text, m.end()), 0.75))
    for m in _NUMBER_TYPE_FIRST.finditer(text):
        if m.group("type").lower() not in ("via", "pl.", "os.", "al."):  # "paid 20 Via Zelle"
            out.append((m.start(), extend_address(text, m.end()), 0.8))
    for m in _INDIAN.finditer(text):
        if m.group(0)[:1].isdigit() and (re.search(r"(?i:exp|expires|expiry|valid|thru)\.?[ \t:]*\Z",
                                                   text[max(0, m.start() - 10):m.start()])
                                         or not _foreign_word(m.group(0))):
            continue  # "exp 11/28 Sent from my phone", "12/24 Thank you"
        out.append((m.start(), extend_address(text, m.end()), 0.75))
    for m in _NUMBER_TOWN_POSTCODE.finditer(text):
        if _foreign_word(m.group("street")):
            out.append((m.start(), extend_address(text, m.end()), 0.75))
    out += _after_address_cue(text)
    for m in _STREET_FIRST_TYPE_NONUM.finditer(text):
        end = extend_address(text, m.end())
        if re.search(rf"(?:{_POSTCODE})", text[m.end():end]):
            out.append((m.start(), end, 0.75))
    for rx in (_SLAVIC, _FLOOR, _LOT):
        for m in rx.finditer(text):
            out.append((m.start(), extend_address(text, m.end()), 0.75))
    for m in _NAME_NUMBER_TOWN.finditer(text):
        if _street_then_town(m):
            out.append((m.start(), extend_address(text, m.end()), 0.75))
    for m in _UNIT_ALONE.finditer(text):
        out.append((m.start(), extend_address(text, m.end()), 0.75))
    for m in _MILITARY.finditer(text):
        out.append((m.start(), extend_address(text, m.end()), 0.85))
    for m in _CJK.finditer(text):
        if _CJK_MARK.search(m.group(0)) and any(ch.isdigit() for ch in m.group(0)):
            out.append((m.start(), m.end(), 0.8))
    # pyap costs ~1.5 ms a text: run it only where a US "ST 12345" tail is present
    if _US_STATE_ZIP.search(text):
        out += _pyap(text)
    out = [(_house_number_before(text, s), e, sc) for s, e, sc in out]
    return out + _buildings_before(text, out)


def _buildings_before(text: str, spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """A named building right before an address joins it ("in Wilson Court, 12 Oak Street")."""
    found = []
    for s, _e, sc in spans:
        m = _BUILDING.search(text, max(0, s - 60), s)
        if m and m.group(0).split()[0].lower() not in NAME_STOP_WORDS:
            found.append((m.start(), s, sc))
    return found


# a street name and house number, then a comma and a known town (GeoNames), no postcode:
# "Prokopiou 45, Kalamata", "Danistraat 69, Dordrecht"
_NAME_NUMBER_TOWN = re.compile(
    rf"(?<![\w\-])(?P<street>{_CAP}(?:\s+{_WORD}){{0,3}}?)\s+\d{{1,4}}[A-Za-z]?(?:[/\-]\d{{1,4}})?,\s+"
    rf"(?P<town>{_CAP}(?:[ \-]{_CAP})?)(?![\w])")


def _street_then_town(m: re.Match) -> bool:
    words = re.findall(r"[^\W\d_][\w'’‘]*", m.group("street"))
    if not _plain_street(m.group("street")) or any(w.lower() in MONTH_NAMES for w in words):
        return False
    if not any(w[:1].isupper() and not is_english(w.lower()) and w.lower() not in NAME_STOP_WORDS
               for w in words):
        return False  # "Table 12, Napa", "March 5, Fresno"
    return m.group("town").lower() in town_names()


def _foreign_word(span: str) -> bool:
    """A capitalised word that is no English word, or one the word list knows only as a name:
    what street and town names of other languages have and prose does not."""
    words = re.findall(r"[^\W\d_][\w'’‘]*", span)
    return any(w[:1].isupper() and w.lower() not in NAME_STOP_WORDS and w.lower() not in MONTH_NAMES
               and (not is_english(w.lower()) or w.lower() in proper_names()) for w in words)


# a house number, a street of capitalised words, a town and a postcode after it, with no street type
# ("7191 Nakkirar, Tanchavur-798055", "54 Bhushan Aher, Akola 668113", "3 Rohini Jadhav\nParabhani
# 785150")
_NUMBER_TOWN_POSTCODE = re.compile(
    rf"(?<![\w$#/.,\-])\d{{1,5}}[A-Za-z]?(?:/\d{{1,5}})?,?[ \t]+(?P<street>(?:{_CAP}[ \t]+){{0,3}}{_CAP}),?"
    rf"[ \t]*\n?[ \t]*(?:{_CAP}[ \t]+){{0,2}}{_CAP}(?:[ \t]*-[ \t]*|[ \t]+)\d{{4,6}}(?![\w\-/.])")
# where an address follows: "The address for the dinner is ...", "Venue:", "Directions:", "the party's
# at ...", "Hosting at ...", "deliver the trays to ...", "come to ..."
_ADDRESS_CUE = re.compile(
    r"(?:\b(?:address|location|venue|directions|destination|place)\b[^.\n:?!]{0,30}?"
    r"(?:\bis\b|:|\bchanged to\b|\bmoved to\b|\bnow\b)"
    r"|\b(?:party|party's|dinner|event|reception|wedding|hosting|celebration|we're|we are|we'll be|i'm|i am|"
    r"we live|i live|located|staying|held|hosted|it's|it is|set up|setup)[ \t]+(?:is[ \t]+|will be[ \t]+|"
    r"'s[ \t]+)?(?:at|in)"
    r"|\b(?:deliver|ship|mail|send|bring|come|drive|go|head|move|moved|moving|post|forward)\b[^.\n?!]{0,30}?"
    r"\bto)[ \t]*(?:\n[ \t]*)?(?=[\dA-Z])", re.IGNORECASE)
# the street after such a cue: a house number and capitalised words, or capitalised words and a number
_CUE_STREET = re.compile(
    rf"(?:\d{{1,5}}[A-Za-z]?(?:/\d{{1,5}}[A-Za-z]?)*,?[ \t]+(?:{_CAP}[ \t]+){{0,3}}{_CAP}"
    rf"|(?:{_CAP}[ \t]+){{0,4}}\d{{1,5}}[A-Za-z]?(?:/\d{{1,5}}[A-Za-z]?)*)(?![\w\-/.]?\d|[ \t]\d)")


def _after_address_cue(text: str) -> list[tuple[int, int, float]]:
    """A street of capitalised words and a house number right after a cue that an address follows,
    in any language ("Address for the dinner is Hmlkim 27, Brkai", "Hosting at 17 Znqa Siah")."""
    out = []
    for cue in _ADDRESS_CUE.finditer(text):
        m = _CUE_STREET.match(text, cue.end())
        if m and _foreign_word(m.group(0)) and _plain_street(m.group(0)):
            out.append((m.start(), extend_address(text, m.end()), 0.75))
    return out


_NUMBER_BEFORE = re.compile(
    r"(?<![\w$#/.,\-])(?:(?:(?i:no|house no|lot|plot)\.?\s*)?[A-Za-z]{0,2}-?\d{1,6}[A-Za-z]?(?:-\d{1,4}){0,2}"
    r"|\d{1,6}[A-Za-z]?(?:/\d{1,4}){0,3}),?\s+(?:(?:El|La|Los|Las|Le|Les|Del|De|Da|Do)\s+)?\Z")


def _house_number_before(text: str, start: int) -> int:
    """Move a street-first match back over a house number before it ("77 El Camino Real")."""
    m = _NUMBER_BEFORE.search(text, max(0, start - 24), start)
    return m.start() if m else start
