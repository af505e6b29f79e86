"""core.ops.jobruns: the runner heartbeat reads the process id from the runner name strictly."""

import datetime as dt

import pytest

from core.ops import jobruns
from core.platform.clock import FixedClock
from core.platform.models import RunnerHeartbeat

T0 = dt.datetime(2026, 3, 1, 9, 0)


@pytest.mark.parametrize(
    ("runner", "host", "pid"),
    [
        ("box:4242", "box", 4242),
        ("box:\u0664\u0662", "box", 0),  # Arabic-Indic digits: int() reads them, str.isdigit() takes them
        ("box:\u00b9", "box", 0),  # a superscript: isdigit() is True, int() raises
        ("box:99999999999", "box", 0),  # beyond the 32-bit column
        ("box: 42", "box", 0),
        ("box:4_2", "box", 0),
        ("box", "box", 0),
    ],
)
def test_beat_takes_the_pid_only_in_ascii_digits(session, runner, host, pid):
    jobruns.beat(session, runner, FixedClock(T0), started=True)
    session.commit()
    row = session.get(RunnerHeartbeat, runner)
    assert (row.host, row.pid, row.last_seen_at) == (host, pid, T0)
