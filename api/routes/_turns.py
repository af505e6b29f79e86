"""One chat turn, shared by the widget's chat endpoint and the OpenAI-compatible one: store the
customer's message (scrubbed and enriched), answer it through the running experiments, store
the answer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.answering import responder, routing
from core.conversations import ingest
from core.conversations.schemas import ConversationIn, MessageIn
from core.enrichment import enrich
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import NotFound
from core.platform.models import Message
from core.platform.services import Embedder, Enricher, Scrubber
from core.platform.statuses import MessageRole


@dataclass
class Turn:
    """What one turn needs: the request's session and the process services."""

    session: Session
    settings: Settings
    clock: Clock
    embedder: Embedder
    scrubber: Scrubber
    enricher: Enricher

    def log_question(
        self, *, channel: str, user: str, question: str, conversation_id: int | None,
        metadata: dict | None = None,
    ) -> int:
        """Store the customer's message (scrubbed) in a new or the given conversation; returns its id."""
        message = MessageIn(role=MessageRole.USER, content=question)
        if conversation_id is None:
            conv = ConversationIn(
                channel=channel, external_user_id=user, channel_metadata=metadata or {}, messages=[message]
            )
            report = ingest.store_conversations(
                self.session, [conv], self.scrubber, self.settings, self.clock
            )
            conversation_id = report.conversation_ids[0]
            stored = None
        else:
            stored = ingest.add_message(
                self.session, conversation_id, message, self.scrubber, self.settings, self.clock
            )
        # the question is logged whatever happens next; committing here releases SQLite's write
        # lock before the models run (enrichment, then the answer), so votes and other turns
        # never wait on it while this one computes
        self.session.commit()
        if stored is None:
            enrich.enrich_conversations(self.session, [conversation_id], self.enricher, self.clock)
        else:
            enrich.enrich_message(self.session, stored.id, self.enricher, self.clock)
        self.session.commit()
        return conversation_id

    def answer(self, question: str, *, user: str, intent: str | None = None) -> responder.Answer:
        """The responder's answer for ``user`` (production or their experiment arm); a knowledge
        base with no active version hands over to a human."""
        try:
            return routing.answer_for_user(
                self.session, question, user_id=user, embedder=self.embedder, settings=self.settings,
                clock=self.clock, intent=intent,
            )
        except NotFound:
            return responder.Answer(
                text=responder.ESCALATION_TEXT,
                confidence=0.0,
                escalated=True,
                retrieved=[],
                used_chunk_ids=[],
                kb_version_id=None,
                model_used=responder.EXTRACTIVE_MODEL,
                latency_ms=0.0,
                intent=intent,
                error="no active KB version",
            )

    def record(self, conversation_id: int, answer: responder.Answer) -> Message:
        """Store ``answer`` as the conversation's next assistant message (and any shadow answer),
        committed before it is enriched (its tone score embeds it) in a transaction of its own."""
        msg = routing.record_answer(
            self.session, conversation_id, answer, clock=self.clock, scrubber=self.scrubber,
            settings=self.settings,
        )
        self.session.commit()
        return enrich.enrich_message(self.session, msg.id, self.enricher, self.clock)
