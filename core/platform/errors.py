"""The error hierarchy. Messages say what was wrong and what to do about it.

The API maps these to 4xx responses with a JSON body, the dashboard shows them with
``st.error`` and the CLI prints them and exits non-zero.
"""

from __future__ import annotations


class SupportloopError(Exception):
    """Base class of every error supportloop raises on purpose."""

    http_status = 400


class ValidationError(SupportloopError):
    """Input was malformed or out of range; nothing was written."""

    http_status = 422


class NotFound(SupportloopError):
    """An id or name that does not exist."""

    http_status = 404


class Conflict(SupportloopError):
    """The request clashes with the current state (duplicate, wrong status, lock held)."""

    http_status = 409


class PermissionDenied(SupportloopError):
    """The caller is not allowed to do this."""

    http_status = 403


class ProviderError(SupportloopError):
    """An outside provider (SMTP server, webhook, model API) failed."""

    http_status = 502


class ImportFailed(ValidationError):
    """A file import found invalid rows; carries every problem with file, line and field."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        head = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"{len(problems)} invalid row(s), nothing was imported: {head}{more}. "
            "Fix the file, or pass --skip-invalid to import the valid rows and write the "
            "rejects to a file."
        )


class ImportProblem:
    """One invalid row of an import: where it is and what is wrong."""

    def __init__(self, file: str, line: int, field: str | None, message: str):
        self.file, self.line, self.field, self.message = file, line, field, message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}
