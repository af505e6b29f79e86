"""When background tasks are due: the schedule kinds and the time-zone helpers they use.

- ``Every(seconds)``: due when that long has passed since the last start (or never ran).
- ``Daily(at)``, ``Weekly(at, weekday)``, ``Quarterly(at)``: local wall-clock times (HH:MM) in
  ``settings.timezone``; due when the latest scheduled time is after the last start (or, for
  a job that never ran, after the runner first saw it). A run missed while the runner was
  down therefore runs once at start-up, and only once.

Every schedule answers ``is_due``, ``next_due``, ``overdue_after`` and ``describe``; calendar
schedules also ``previous`` and ``following``. All times are naive UTC; ``tz`` is the zone the
wall-clock times are read in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.platform.errors import ValidationError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_time(value: str, what: str) -> dt.time:
    try:
        hh, mm = value.strip().split(":")
        return dt.time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValidationError(f"{what} {value!r} is not a time; use HH:MM, e.g. 02:00.") from None


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of ``name`` or a ValidationError saying how to fix SUPPORTLOOP_TIMEZONE."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r}; set SUPPORTLOOP_TIMEZONE to an IANA name such as "
            "UTC or America/Chicago."
        ) from None


@lru_cache(maxsize=4096)
def _local_time_utc(at: str, local_day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """``at`` (HH:MM) on ``local_day`` in ``tz``, as naive UTC."""
    return _to_utc(dt.datetime.combine(local_day, parse_time(at, "Schedule time"), tzinfo=tz))


def _to_local(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC).astimezone(tz)


def _to_utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Every:
    """Every ``seconds`` seconds, counted from the last start."""

    seconds: int

    def describe(self) -> str:
        s = self.seconds
        return f"every {s // 60} min" if s % 60 == 0 and s >= 60 else f"every {s} s"

    def is_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
               tz: ZoneInfo) -> bool:
        return last is None or now - last >= dt.timedelta(seconds=self.seconds)

    def next_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
                 tz: ZoneInfo) -> dt.datetime:
        return now if last is None else max(now, last + dt.timedelta(seconds=self.seconds))

    def overdue_after(self) -> dt.timedelta:
        return max(dt.timedelta(seconds=2 * self.seconds), dt.timedelta(minutes=15))


@dataclass(frozen=True)
class Calendar:
    at: str

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        """The scheduled time on ``local_day`` as naive UTC, or None if it has none."""
        raise NotImplementedError

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        """Local days, newest first, among which the latest occurrence up to ``local_day``
        (or the one before it) is found."""
        return [local_day - dt.timedelta(days=back) for back in range(0, 100)]

    def previous(self, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
        """The latest scheduled time at or before ``now``."""
        for day in self.candidate_days(_to_local(now, tz).date()):
            when = self.occurrence(day, tz)
            if when is not None and when <= now:
                return when
        return None

    def following(self, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
        """The first scheduled time after ``now``."""
        day = _to_local(now, tz).date()
        for ahead in range(0, 100):
            when = self.occurrence(day + dt.timedelta(days=ahead), tz)
            if when is not None and when > now:
                return when
        return None

    def _at(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime:
        return _local_time_utc(self.at, local_day, tz)

    def is_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
               tz: ZoneInfo) -> bool:
        reference = last or anchor
        prev = self.previous(now, tz)
        return prev is not None and (reference is None or prev > reference)

    def next_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
                 tz: ZoneInfo) -> dt.datetime | None:
        return now if self.is_due(last, anchor, now, tz) else self.following(now, tz)

    def overdue_after(self) -> dt.timedelta:
        return dt.timedelta(hours=1)


@dataclass(frozen=True)
class Daily(Calendar):
    """Every day at ``at`` (HH:MM local time)."""

    def describe(self) -> str:
        return f"daily at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        return [local_day, local_day - dt.timedelta(days=1), local_day - dt.timedelta(days=2)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz)


@dataclass(frozen=True)
class Weekly(Calendar):
    """Every week on ``weekday`` (0 = Monday) at ``at``."""

    weekday: int = 6

    def describe(self) -> str:
        return f"weekly on {WEEKDAYS[self.weekday].title()} at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        this_week = local_day - dt.timedelta(days=(local_day.weekday() - self.weekday) % 7)
        return [this_week, this_week - dt.timedelta(days=7)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz) if local_day.weekday() == self.weekday else None


@dataclass(frozen=True)
class Quarterly(Calendar):
    """On the first day of January, April, July and October at ``at``."""

    def describe(self) -> str:
        return f"quarterly (1 Jan/Apr/Jul/Oct) at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        first = dt.date(local_day.year, 3 * ((local_day.month - 1) // 3) + 1, 1)
        before = first - dt.timedelta(days=1)
        return [first, dt.date(before.year, 3 * ((before.month - 1) // 3) + 1, 1)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz) if local_day.day == 1 and local_day.month in (1, 4, 7, 10) else None


Schedule = Every | Daily | Weekly | Quarterly


def weekday_number(name: str) -> int:
    key = name.strip().lower()
    for i, day in enumerate(WEEKDAYS):
        if key in (day, day[:3]):
            return i
    raise ValidationError(f"Unknown weekday {name!r}; use one of {', '.join(WEEKDAYS)}.")
