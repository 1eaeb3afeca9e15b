"""Acquisition sessions: the one definition behind the cost of lost data (`analysis.storage`, per
instrument) and leak-free dataset splits (`reuse`, per instrument and folder).

A session is a run of acquisitions with the same grouping key (an instrument; an instrument and a
folder) each less than `gap_minutes` after the one before, on the instrument's own clock (a time
zone, where a reader gives one, is dropped: one clock per instrument, and zoned and unzoned times of
one instrument still compare). An acquisition without a time is in no session: the caller says what
that means for it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta


def session_starts(keys: Sequence[Hashable], times: Sequence[datetime | None], gap_minutes: float
                   ) -> list[datetime | None]:
    """The start time of each acquisition's session (same order as given; None without a time):
    (key, start) names a session, the same in every catalog holding these acquisitions."""
    if len(keys) != len(times):
        raise ValueError(f"{len(keys)} keys for {len(times)} times")
    gap = timedelta(minutes=gap_minutes)
    by_key: dict[Hashable, list[tuple[datetime, int]]] = {}
    for index, (key, time) in enumerate(zip(keys, times, strict=True)):
        if time is not None:
            by_key.setdefault(key, []).append((time.replace(tzinfo=None), index))
    starts: list[datetime | None] = [None] * len(keys)
    for members in by_key.values():
        members.sort()
        start = previous = members[0][0]
        for time, index in members:
            if time - previous >= gap:
                start = time
            starts[index] = start
            previous = time
    return starts


__all__ = ["session_starts"]
