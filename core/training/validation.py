"""Token counting and OpenAI chat-format validation of training JSONL.

**Token counts.** ``get_token_counter(model)`` counts with the model's real BPE encoding
(``o200k_base`` for the gpt-4o and gpt-4.1 families, ``cl100k_base`` for gpt-3.5/gpt-4) from
the ``bpe-openai`` package, whose wheels ship the vocabularies, so it works offline (tiktoken
downloads its BPE files at first use and does not). If that package cannot be loaded, an
*estimate* of one token per four characters is used and every count it produces is labelled
``estimate:chars/4`` (``TokenCounter.estimated``).

An example's tokens follow OpenAI's chat accounting: 3 per message + its content tokens, plus 3
that prime the reply.

**Validation** follows OpenAI's fine-tuning data format for chat models: every line is a JSON
object with a non-empty ``messages`` list; each message has a ``role`` of system, user or
assistant, a non-empty string ``content``, no other keys than ``role``, ``content``, ``name`` and
``weight`` (0 or 1, assistant messages only); at least one assistant message; at most
``MAX_EXAMPLE_TOKENS`` (65,536) tokens per example.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

MAX_EXAMPLE_TOKENS = 65_536
ROLES = ("system", "user", "assistant")
MESSAGE_KEYS = {"role", "content", "name", "weight"}
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMER = 3


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of text; ``name`` says how (an encoding, or ``estimate:chars/4``)."""

    name: str
    estimated: bool
    _encode: object = None

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._encode is None:
            return math.ceil(len(text) / 4)
        return len(self._encode(text))

    def count_messages(self, messages: list[dict]) -> int:
        """Tokens of one chat example as OpenAI counts them."""
        return TOKENS_REPLY_PRIMER + sum(
            TOKENS_PER_MESSAGE + self.count(str(m.get("content") or "")) for m in messages
        )


def _encoding_name(model: str) -> str:
    m = (model or "").lower()
    if m.startswith("ft:"):
        m = m.split(":")[1]
    if (
        m.startswith(("gpt-3.5", "gpt-4-", "gpt-4:"))
        or m == "gpt-4"
        or m.startswith("babbage")
        or m.startswith("davinci")
    ):
        return "cl100k_base"
    return "o200k_base"


@lru_cache(maxsize=8)
def get_token_counter(model: str = "gpt-4o-mini") -> TokenCounter:
    """The token counter of ``model``: exact when bpe-openai loads, else a labelled estimate."""
    name = _encoding_name(model)
    try:
        import bpe_openai  # reason: its BPE tables take half a second to load; needed only to count tokens

        enc = bpe_openai.get_encoding(name)
        return TokenCounter(name=name, estimated=False, _encode=enc.encode)
    except Exception:  # noqa: BLE001 - any failure to load means: estimate, and say so
        return estimate_counter()


def estimate_counter() -> TokenCounter:
    """The fallback: one token per four characters, labelled as an estimate."""
    return TokenCounter(name="estimate:chars/4", estimated=True)


# --- validation ------------------------------------------------------------------------------
@dataclass
class LineProblem:
    """One invalid line of a JSONL file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class JsonlReport:
    """What validating a JSONL file found: lines, token totals and every problem."""

    path: str
    lines: int = 0
    tokens: int = 0
    max_example_tokens: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    token_counter: str = ""
    tokens_estimated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and self.lines > 0

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "lines": self.lines,
            "tokens": self.tokens,
            "max_example_tokens": self.max_example_tokens,
            "token_counter": self.token_counter,
            "tokens_estimated": self.tokens_estimated,
            "ok": self.ok,
            "problems": [str(p) for p in self.problems[:50]],
        }


def example_problems(obj: object, counter: TokenCounter) -> tuple[list[str], int]:
    """Why one parsed line is not a valid OpenAI chat fine-tuning example (empty: valid), and
    its token count."""
    if not isinstance(obj, dict):
        return ["the line is not a JSON object"], 0
    extra = set(obj) - {"messages"}
    problems = [f"unexpected key {k!r} (only 'messages' is allowed)" for k in sorted(extra)]
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        return problems + ["'messages' must be a non-empty list"], 0
    assistants = 0
    for i, m in enumerate(messages):
        where = f"message {i + 1}"
        if not isinstance(m, dict):
            problems.append(f"{where} is not an object")
            continue
        for k in sorted(set(m) - MESSAGE_KEYS):
            problems.append(f"{where} has unexpected key {k!r}")
        role = m.get("role")
        if role not in ROLES:
            problems.append(f"{where} has role {role!r}; use one of {', '.join(ROLES)}")
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"{where} ({role}) has empty or non-string content")
        if "weight" in m:
            if role != "assistant":
                problems.append(f"{where}: 'weight' is only allowed on assistant messages")
            elif m["weight"] not in (0, 1) or isinstance(m["weight"], bool):
                problems.append(f"{where}: weight must be 0 or 1")
        if role == "assistant":
            assistants += 1
    if assistants == 0:
        problems.append("no assistant message (nothing to learn)")
    tokens = counter.count_messages([m for m in messages if isinstance(m, dict)])
    if tokens > MAX_EXAMPLE_TOKENS:
        problems.append(f"{tokens} tokens; an example may have at most {MAX_EXAMPLE_TOKENS}")
    return problems, tokens


def validate_jsonl(path: Path, counter: TokenCounter) -> JsonlReport:
    """Validate every line of a chat-format JSONL file (see the module docstring)."""
    report = JsonlReport(path=str(path), token_counter=counter.name, tokens_estimated=counter.estimated)
    with Path(path).open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            report.lines += 1
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                report.problems.append(LineProblem(n, f"not valid JSON ({exc.msg})"))
                continue
            problems, tokens = example_problems(obj, counter)
            report.tokens += tokens
            report.max_example_tokens = max(report.max_example_tokens, tokens)
            report.problems.extend(LineProblem(n, p) for p in problems)
    if report.lines == 0:
        report.problems.append(LineProblem(0, "the file is empty"))
    return report
