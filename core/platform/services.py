"""The injected services, as Protocols: what core functions need from an embedder, a PII
scrubber, a notifier and an enricher.

Core functions take these objects as arguments (so tests pass fakes and processes load the
real ones once) and annotate them with these Protocols. The implementations:

- :class:`Embedder`: ``core.platform.embeddings`` (``MiniLMEmbedder``, ``HashingEmbedder``);
- :class:`Scrubber`: ``core.platform.pii.Scrubber`` (Presidio and spaCy);
- :class:`Notifier`: ``core.platform.notify.Notifier`` (SMTP and webhooks);
- :class:`Enricher`: ``core.enrichment.enrich.Enricher`` (intents, profanity, tone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy.orm import Session

from core.platform.config import Settings

if TYPE_CHECKING:  # reason: only the type; importing pii compiles its recognizers' regexes (~40 ms)
    from core.platform.pii import ScrubResult


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors: float32, L2-normalised rows, so the inner product of two rows
    is their cosine similarity. ``model_id`` is stored with every vector, so vectors of
    different models never mix."""

    model_id: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """One float32, L2-normalised row per text (shape ``(len(texts), dim)``)."""
        ...


class Scrubber(Protocol):
    """Finds personal data in a text and replaces it with typed placeholders (docs/pii.md)."""

    def scrub(self, text: str) -> ScrubResult:
        """The scrubbed text, the replaced entities and whether the text is safe for training."""
        ...

    def scrub_batch(self, texts: Iterable[str]) -> list[ScrubResult]:
        """``scrub`` of many texts at once (the same results, faster)."""
        ...


class Notifier(Protocol):
    """Sends e-mail and webhooks, retrying transient failures; raises ``ProviderError`` when a
    message could not be delivered and ``ValidationError`` for bad input."""

    def send_email(
        self,
        to: str | list[str],
        subject: str,
        text: str,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Send one e-mail; returns its Message-ID."""
        ...

    def send_webhook(
        self, url: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> int:
        """POST ``payload`` as JSON to ``url``; returns the HTTP status (2xx)."""
        ...


class Enricher(Protocol):
    """What enriching messages (intent, profanity, tone) needs, loaded once per process: the
    settings, the shared embedder, the brand voice and cached vectors of approved answers."""

    settings: Settings
    embedder: Embedder

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` through a cache (each distinct text is embedded once)."""
        ...

    @property
    def voice(self) -> Any:
        """The brand voice the tone score compares with (``core.enrichment.tone.BrandVoice``)."""
        ...

    def example_vectors(self, session: Session) -> np.ndarray:
        """Vectors of the answers whose style the tone score compares with."""
        ...
