"""Issue 18, sixth round: the held-out set v4 (frozen before any change of the round; only its
composition is checked here, never what the scrubber finds in it), the development set dev_v7 and
the kinds of misses dev_v7 and the older development sets showed."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _locales_before_v4() -> set[str]:
    import bench.pii_dataset as d

    return set(d.HELDOUT_LOCALES + d.TUNE_LOCALES + d.DEV_LOCALES + d.DEV4_LOCALES + d.DEV5_LOCALES
               + d.DEV6_LOCALES + d.HELDOUT3_LOCALES)


def _check_rows(on_disk: str, n: int, locales: list[str]) -> None:
    rows = [json.loads(line) for line in on_disk.splitlines()]
    assert len(rows) == n and {r["locale"] for r in rows} == set(locales)
    for r in rows:
        assert "{" not in r["text"]  # every placeholder was filled
        assert not any(ord(ch) > 0x24F and ch.isalpha() for ch in r["text"])  # romanised
        for e in r["entities"]:
            assert r["text"][e["start"]:e["end"]].strip()
    counts: dict[str, int] = {}
    for r in rows:
        for e in r["entities"]:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
    assert len(counts) == 8 and min(counts.values()) >= 50, counts


def test_heldout_v4_is_the_frozen_file():
    """The held-out set v4 regenerates identically and is the file whose sha256 docs/pii.md records."""
    import hashlib
    import re

    from bench.pii_dataset import HELDOUT4_FILE, HELDOUT4_LOCALES, HELDOUT4_PHONE_LOCALE, _dump, heldout4_rows

    assert not (set(HELDOUT4_LOCALES) | set(HELDOUT4_PHONE_LOCALE.values())) & _locales_before_v4()
    on_disk = HELDOUT4_FILE.read_text(encoding="utf-8")
    _check_rows(on_disk, 650, HELDOUT4_LOCALES)
    assert _dump(heldout4_rows()) == on_disk
    doc = (ROOT / "docs" / "pii.md").read_text(encoding="utf-8")
    recorded = re.search(r"heldout_v4\.jsonl` sha256 `([0-9a-f]{64})`", doc).group(1)
    assert hashlib.sha256(HELDOUT4_FILE.read_bytes()).hexdigest() == recorded


def test_romanise_v4():
    from bench.pii_dataset import romanise_v4

    assert romanise_v4("สมชาย") == "Somchai"
    assert romanise_v4("ถนนสุขุมวิท ๑๒") == "Thanon Sukhumwit 12"
    assert romanise_v4("ක්‍රිෂාන්ත") == "Krishantha"


def test_dev_v7_is_its_own_set():
    from bench.pii_dataset import (
        DEV7_FILE,
        DEV7_LOCALES,
        HELDOUT4_LOCALES,
        HELDOUT4_PHONE_LOCALE,
        _dump,
        dev7_rows,
    )

    held = set(HELDOUT4_LOCALES) | set(HELDOUT4_PHONE_LOCALE.values())
    assert not set(DEV7_LOCALES) & (_locales_before_v4() | held)
    on_disk = DEV7_FILE.read_text(encoding="utf-8")
    _check_rows(on_disk, 800, DEV7_LOCALES)
    assert _dump(dev7_rows()) == on_disk  # a regeneration gives the same file
