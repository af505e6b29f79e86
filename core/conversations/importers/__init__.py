"""File importers for ``core.conversations.ingest.import_file``, one module per format:
JSONL and CSV conversations, phone transcripts as WebVTT and as JSON speaker turns.
docs/import.md specifies each format.

``parse_file`` turns a file into ``ParsedConversation`` items (``parsed``): the
``ConversationIn`` when the rows could be read, plus every problem found while reading them,
each with file, line and field. Parsers never touch the database;
``core.conversations.ingest`` validates and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.conversations.importers.csv_rows import parse_csv
from core.conversations.importers.jsonl import parse_jsonl
from core.conversations.importers.parsed import ParsedFile
from core.conversations.importers.turns import parse_turns
from core.conversations.importers.vtt import parse_vtt
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import ValidationError

PARSERS: dict[str, Callable[[Path, Settings, Clock | None], ParsedFile]] = {
    "jsonl": parse_jsonl, "csv": parse_csv, "vtt": parse_vtt, "turns": parse_turns,
}
FORMATS = tuple(PARSERS)
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".vtt": "vtt", ".json": "turns"}


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The import format: ``fmt`` when given, else from the file extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ValidationError(f"Unknown import format {fmt!r}; use one of {', '.join(FORMATS)}.")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if not found:
        raise ValidationError(
            f"Cannot tell the format of {path.name} from its extension; pass --format "
            f"({', '.join(FORMATS)})."
        )
    return found


def parse_file(path: Path, fmt: str, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """Read ``path`` in format ``fmt`` into conversations and problems (no database access)."""
    return PARSERS[fmt](Path(path), settings, clock)
