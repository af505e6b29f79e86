"""Near-duplicate detection for training examples: MinHash over word and word-pair shingles
with banded LSH to find candidates, then the exact Jaccard similarity to decide.

Texts are given best first; a text that is at least ``threshold`` similar to an earlier kept
text is a near-duplicate of it. Deterministic (fixed hash seeds), about linear in the number
of texts: at most ``MAX_CHECKS`` candidates and ``MAX_EXACT`` exact comparisons per text, so in
a pile of very many similar texts a near-duplicate can be missed (a distinct text is never
dropped: every drop is confirmed by the exact similarity).
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"<[a-z_]+>|[a-z0-9]+(?:'[a-z]+)?")
_PRIME = np.uint64((1 << 61) - 1)
_BANDS, _ROWS = 10, 5
MAX_CHECKS = 200  # candidates per text at most (bounds the worst case)
MAX_EXACT = 20  # exact Jaccard checks per text, best MinHash estimates first


def shingles(text: str) -> set[str]:
    """Lower-cased words and adjacent word pairs of ``text`` (placeholders count as words)."""
    words = _WORD.findall((text or "").lower())
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class _MinHasher:
    def __init__(self, perms: int = _BANDS * _ROWS, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, (1 << 61) - 1, size=perms, dtype=np.uint64)
        self.b = rng.integers(0, (1 << 61) - 1, size=perms, dtype=np.uint64)

    def signature(self, items: set[str]) -> np.ndarray:
        if not items:
            return np.zeros(len(self.a), dtype=np.uint64)
        h = np.fromiter((zlib.crc32(s.encode()) for s in items), dtype=np.uint64, count=len(items))
        # (a*h + b) mod p; h < 2^32 and a < 2^61 may overflow uint64: wrap-around is still a
        # fixed, well-mixed permutation-like hash, which is all MinHash needs here
        with np.errstate(over="ignore"):
            vals = (np.outer(h, self.a) + self.b) % _PRIME
        return vals.min(axis=0)


def near_duplicates(texts: list[str], threshold: float) -> list[int | None]:
    """For each text (best first), the index of the earlier kept text it nearly duplicates
    (Jaccard of shingles >= ``threshold``), or None when it is kept."""
    hasher = _MinHasher()
    perms = _BANDS * _ROWS
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(_BANDS)]
    sets: list[set[str]] = []
    sigs = np.zeros((max(len(texts), 1), perms), dtype=np.uint64)
    exact: dict[frozenset, int] = {}
    out: list[int | None] = []
    margin = 0.12  # ~2.5 standard deviations of a 50-hash MinHash estimate near 0.9
    for i, text in enumerate(texts):
        sh = shingles(text)
        sets.append(sh)
        key = frozenset(sh)
        if key in exact:
            out.append(exact[key])
            continue
        sig = hasher.signature(sh)
        sigs[i] = sig
        keys = [sig[b * _ROWS : (b + 1) * _ROWS].tobytes() for b in range(_BANDS)]
        cands: set[int] = set()
        for b, k in enumerate(keys):
            cands.update(buckets[b].get(k, ())[-MAX_CHECKS:])
        twin = None
        if cands:
            idx = np.fromiter(cands, dtype=np.int64, count=len(cands))
            est = (sigs[idx] == sig).mean(axis=1)
            order = np.argsort(-est, kind="stable")
            for o in order[:MAX_EXACT]:
                if est[o] < threshold - margin:
                    break
                j = int(idx[o])
                if jaccard(sh, sets[j]) >= threshold:
                    twin = j
                    break
        out.append(twin)
        if twin is None:
            exact[key] = i
            for b, k in enumerate(keys):
                buckets[b].setdefault(k, []).append(i)
    return out
