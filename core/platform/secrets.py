"""The secret that signs customer links (feedback votes, surveys): where it comes from, when a
process refuses to start with it, and rotation.

- ``SUPPORTLOOP_SECRET_KEY`` set: that value is the secret.
- Not set (the default): the secret is the file ``<data_dir>/secret_key``. The first process
  that needs it creates it with 48 random bytes (``secrets.token_urlsafe``), mode 0600, with an
  exclusive create (``O_CREAT | O_EXCL``): processes started together (API workers, dashboard,
  runner) never write two different secrets; the losers read the winner's file.
- Rotation: the new secret signs every new link; the previous ones still *verify* links issued
  before the change until those links expire. They come from ``SUPPORTLOOP_PREVIOUS_SECRETS``
  (comma-separated) and from the file ``<data_dir>/previous_secrets`` (one per line).
- :func:`check_secret` runs where the API, the dashboard and the job runner start: a known
  (published) secret, a short one, or a secret file others can read stops the process, unless
  ``SUPPORTLOOP_ALLOW_INSECURE_SECRET=true`` (development only; it logs a warning instead).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from pathlib import Path

from core.platform.config import Settings
from core.platform.errors import SupportloopError

log = logging.getLogger(__name__)

SECRET_FILE = "secret_key"
PREVIOUS_FILE = "previous_secrets"
MIN_SECRET_CHARS = 32
# Values published in docs, examples and earlier releases: anyone could forge links with them.
KNOWN_SECRETS = frozenset(
    {"change-me-in-production", "changeme", "change-me", "secret", "secret-key", "supportloop",
     "development", "dev", "test", "password", "insecure"}
)
_CREATE_WAIT_S = 5.0  # how long a process waits for another one to finish writing the new file
_cache: dict[tuple[str, int, int], str] = {}


class InsecureSecret(SupportloopError):
    """The signing secret is known, short or readable by others; the process does not start."""

    http_status = 500


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def load_or_create(data_dir: Path) -> str:
    """The secret in ``<data_dir>/secret_key``, created (random, mode 0600) when missing."""
    folder = Path(data_dir)
    path = folder / SECRET_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            log.warning("generated a new link-signing secret in %s", path)
        st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_mtime_ns)
    if key in _cache:
        return _cache[key]
    value = _read(path)
    deadline = time.monotonic() + _CREATE_WAIT_S
    while not value and time.monotonic() < deadline:  # created but not yet written by its creator
        time.sleep(0.01)
        value = _read(path)
    if not value:
        raise InsecureSecret(f"The secret file {path} is empty. Delete it to have a new one generated.")
    _cache[key] = value
    return value


def signing_secret(settings: Settings) -> str:
    """The secret new links are signed with."""
    return settings.secret_key or load_or_create(settings.data_dir)


def previous_secrets(settings: Settings) -> list[str]:
    """Earlier secrets that still verify links issued before a rotation (never sign)."""
    found = [s.strip() for s in settings.previous_secrets.split(",") if s.strip()]
    path = Path(settings.data_dir) / PREVIOUS_FILE
    if path.exists():
        found += [line.strip() for line in _read(path).splitlines() if line.strip()]
    return list(dict.fromkeys(found))


def verification_secrets(settings: Settings) -> list[str]:
    """Every secret a link may be signed with: the current one first, then the previous ones."""
    current = signing_secret(settings)
    return [current, *(s for s in previous_secrets(settings) if s != current)]


def weakness(secret: str) -> str | None:
    """Why ``secret`` must not sign links (known, short, too few distinct characters), or None."""
    if secret.strip().lower() in KNOWN_SECRETS:
        return "it is a published default anyone can use to forge links"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it is {len(secret)} characters long; use at least {MIN_SECRET_CHARS} random characters"
    if len(set(secret)) < 8:
        return "it uses fewer than 8 distinct characters"
    return None


def problems(settings: Settings) -> list[str]:
    """What is wrong with the configured secrets (empty when they are safe)."""
    out = []
    if settings.secret_key:
        reason = weakness(settings.secret_key)
        if reason:
            out.append(f"SUPPORTLOOP_SECRET_KEY is insecure: {reason}")
    else:
        path = Path(settings.data_dir) / SECRET_FILE
        reason = weakness(load_or_create(settings.data_dir))
        if reason:
            out.append(f"the secret in {path} is insecure: {reason}")
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            out.append(f"{path} can be read by other users; run `chmod 600 {path}`")
    for i, old in enumerate(previous_secrets(settings), 1):
        reason = weakness(old)
        if reason:
            out.append(f"previous secret #{i} is insecure ({reason}): links forged with it would verify")
    return out


def check_secret(settings: Settings, process: str) -> None:
    """Refuse to start ``process`` (raise InsecureSecret) when the signing secrets are unsafe,
    unless ``allow_insecure_secret`` is set (then log a warning)."""
    found = problems(settings)
    if not found:
        return
    message = (
        f"{process} refuses to start: " + "; ".join(found) + ". Unset SUPPORTLOOP_SECRET_KEY to use a "
        "generated secret (kept in the data folder), or set it to a long random value, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`. For local development only, "
        "SUPPORTLOOP_ALLOW_INSECURE_SECRET=true starts anyway (docs/security.md)."
    )
    if settings.allow_insecure_secret:
        log.warning("%s (started anyway: SUPPORTLOOP_ALLOW_INSECURE_SECRET is set)", message)
        return
    raise InsecureSecret(message)
