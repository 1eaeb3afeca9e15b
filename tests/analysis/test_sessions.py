"""Acquisition sessions: one definition, grouped per instrument (cost of lost data) or per
instrument and folder (reuse splits)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from emcensus.analysis.sessions import session_starts

T = datetime(2020, 3, 1, 10, 0)
SHOTS = [  # (instrument, folder, time), not in time order
    ("SU8230", "a", T + timedelta(minutes=20)),
    ("SU8230", "a", T),
    ("SU8230", "a", T + timedelta(minutes=55)),  # 35 min after the previous: a new session
    ("SU8230", "b", T + timedelta(minutes=21)),  # another folder
    ("HT7700", "a", T + timedelta(minutes=1)),  # another instrument
    ("SU8230", "a", None),  # no time: no session
]
TIMES = [time for _, _, time in SHOTS]


def test_sessions_per_instrument_and_folder_break_on_gaps_instruments_and_folders() -> None:
    starts = session_starts([(instrument, folder) for instrument, folder, _ in SHOTS], TIMES, gap_minutes=30)
    assert starts == [T, T, T + timedelta(minutes=55), T + timedelta(minutes=21), T + timedelta(minutes=1), None]


def test_sessions_per_instrument_join_folders() -> None:
    starts = session_starts([instrument for instrument, _, _ in SHOTS], TIMES, gap_minutes=30)
    assert starts == [T, T, T + timedelta(minutes=55), T, T + timedelta(minutes=1), None]


def test_a_gap_of_exactly_the_threshold_starts_a_new_session() -> None:
    assert session_starts(["x", "x"], [T, T + timedelta(minutes=30)], gap_minutes=30) == [T, T + timedelta(minutes=30)]
    with pytest.raises(ValueError):
        session_starts(["x"], [], gap_minutes=30)


def test_zoned_and_unzoned_times_of_one_instrument_share_its_clock() -> None:
    """A reader that gives a time zone beside one that does not must not stop the session count."""
    from datetime import timezone

    times = [datetime(2020, 1, 1, 10, 0, tzinfo=timezone.utc), datetime(2020, 1, 1, 10, 5), None,
             datetime(2020, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))]
    starts = session_starts(["SU8230"] * 4, times, gap_minutes=30)
    assert starts == [datetime(2020, 1, 1, 10, 0), datetime(2020, 1, 1, 10, 0), None, datetime(2020, 1, 1, 12, 0)]
