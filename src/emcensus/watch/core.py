"""What the watch decides each cycle, with no I/O of its own: which folders to look at, which
acquisitions have settled enough to be catalogued, how long to wait after a share error, when the
daily full sweep is due. The loop (`watch.loop`) feeds it what it saw on disk and in the catalog.

An acquisition is catalogued once every one of its files has the same size and modification time
at two polls in a row (the catalog's values count as the earlier poll) and, for instruments that
write a text sidecar after the image, once the sidecar is there or `sidecar_timeout` seconds have
passed since the image settled without it: a half-written image, or a record read without the
sidecar that arrives a second later, never reaches the catalog.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from emcensus.catalog import KnownFile
from emcensus.readers.common import SIDECAR_IMAGE_EXTENSIONS
from emcensus.scan.walk import FileStat, Folder, Group

#: Instruments that save a text sidecar beside each image, written after it: (vendor, technique or None for any).
SIDECAR_WRITERS = frozenset({("Hitachi", None), ("JEOL", "SEM")})

_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?(\d\d)[-_.]?(\d\d)(?!\d)")


def writes_sidecar(vendor: str | None, technique: str | None) -> bool:
    """Whether an instrument of this vendor and technique saves a sidecar after each image."""
    return (vendor, None) in SIDECAR_WRITERS or (vendor, technique) in SIDECAR_WRITERS


def folder_date(name: str) -> date | None:
    """The date a folder is named after (2026-11-30, 20261130, 2026_11_30), if any."""
    for match in _DATE_IN_NAME.finditer(name):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None


def recent_folders(folders: Iterable[str], root: str, today: date, days: int) -> set[str]:
    """Folders below `root` named after a date in the last `days` days (today included), or below one:
    acquisition software writes into today's folder, where a file can change without the folder's
    modification time changing (a file rewritten in place)."""
    first = today - timedelta(days=max(days - 1, 0))
    recent = set()
    for folder in folders:
        relative = os.path.relpath(folder, root)
        dates = [found for part in relative.split(os.sep) if (found := folder_date(part))]
        if days > 0 and any(first <= found <= today for found in dates):
            recent.add(folder)
    return recent


def hot_folders(known: Mapping[str, int], current: Mapping[str, int | None], also: Collection[str]) -> set[str]:
    """Folders to list this cycle: those whose modification time changed since they were last
    listed (`current`: None for a folder gone since), the parent of a gone one, and `also`
    (folders with unsettled files, recent date folders)."""
    hot = {folder for folder, mtime in current.items() if mtime is not None and known.get(folder) != mtime}
    hot.update(os.path.dirname(folder) for folder, mtime in current.items() if mtime is None)
    hot.update(folder for folder in also if current.get(folder) is not None)
    return hot


class FolderTree:
    """The folders of one root as last listed, with their modification times (taken before the listing)."""

    def __init__(self) -> None:
        self.mtimes: dict[str, int] = {}
        self.children: dict[str, set[str]] = {}

    def listed(self, folder: str, mtime_ns: int, subfolders: Iterable[str]) -> tuple[list[str], list[str]]:
        """Record a listing of `folder`; returns (its subfolders not known before, to list now;
        its subfolders gone since the last listing, forgotten with everything below them)."""
        before = self.children.get(folder, set())
        now = set(subfolders)
        self.mtimes[folder] = mtime_ns
        self.children[folder] = now
        gone = sorted(before - now)
        for lost in gone:
            self._forget(lost)
        return sorted(sub for sub in now if sub not in self.mtimes), gone

    def copy(self) -> FolderTree:
        """An independent copy: the tree as it was, should a cycle fail half-way."""
        twin = FolderTree()
        twin.mtimes = dict(self.mtimes)
        twin.children = {folder: set(subfolders) for folder, subfolders in self.children.items()}
        return twin

    def _forget(self, folder: str) -> None:
        stack = [folder]
        while stack:
            current = stack.pop()
            self.mtimes.pop(current, None)
            stack.extend(self.children.pop(current, ()))


@dataclass(slots=True)
class Verdict:
    """One review of listed folders."""

    hold: set[str] = field(default_factory=set)  # files of acquisitions not to catalogue yet
    pending: set[str] = field(default_factory=set)  # folders to list again next cycle
    waiting: dict[str, str] = field(default_factory=dict)  # acquisition key -> why it waits
    without_sidecar: list[str] = field(default_factory=list)  # keys catalogued now without their sidecar (timeout)
    late_sidecars: list[str] = field(default_factory=list)  # keys re-read: the sidecar came after the timeout


def _files(group: Group) -> list[FileStat]:
    return [*group.images, *([group.sidecar] if group.sidecar else [])]


def _as_catalogued(group: Group, catalogued: Mapping[str, KnownFile]) -> bool:
    """Whether the catalog holds this acquisition exactly as it is on disk now."""
    sidecar = group.sidecar
    expected = (sidecar.path, sidecar.size, sidecar.mtime_ns) if sidecar else (None, None, None)
    for image in group.images:
        row = catalogued.get(image.path)
        if row is None or row[5] != "present" or (row[0], row[1]) != (image.size, image.mtime_ns) or tuple(row[2:5]) != expected:
            return False
    return True


class Settling:
    """Which acquisitions have settled, across polls. Files are remembered for the folders of the
    last review only: a folder that went quiet is compared with the catalog when it is next listed."""

    def __init__(self, sidecar_timeout: float, expects_sidecar: Callable[[Group], bool]):
        self.sidecar_timeout = sidecar_timeout
        self.expects_sidecar = expects_sidecar
        self._seen: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns) at the last poll
        self._since: dict[str, float] = {}  # acquisition key -> when it settled without its sidecar

    def review(self, folders: Sequence[Folder], catalogued: Callable[[str], Mapping[str, KnownFile]],
               now: float, wall_ns: int) -> Verdict:
        """Decide for every acquisition in `folders`, listed now: monotonic time `now`, clock time
        `wall_ns`. An image has waited for its sidecar since this process saw it settle, or since
        it was last modified, whichever is longer (a watch run from cron starts afresh each time)."""
        verdict = Verdict()
        seen: dict[str, tuple[int, int]] = {}
        since: dict[str, float] = {}
        for folder in folders:
            known = catalogued(folder.path)
            earlier = {path: (row[0], row[1]) for path, row in known.items() if row[5] == "present"}
            earlier.update((row[2], (row[3], row[4])) for row in known.values() if row[2] and row[5] == "present")
            for group in (*folder.groups, *folder.orphans):
                files = _files(group)
                for item in files:
                    seen[item.path] = (item.size, item.mtime_ns)
                if _as_catalogued(group, known):
                    continue
                if any(self._seen.get(f.path, earlier.get(f.path)) != (f.size, f.mtime_ns) for f in files):
                    reason = "being written"
                elif group.sidecar_only or (group.sidecar is None and self.expects_sidecar(group)):
                    started = since[group.key] = self._since.get(group.key, now)
                    age = (wall_ns - max(f.mtime_ns for f in files)) / 1e9
                    if max(now - started, age) < self.sidecar_timeout:
                        reason = "waiting for its image" if group.sidecar_only else "waiting for its sidecar"
                    else:
                        verdict.without_sidecar.append(group.key)
                        continue
                else:
                    if group.sidecar and any(known.get(i.path, (None,) * 6)[2:6] == (None, None, None, "present")
                                             for i in group.images):
                        verdict.late_sidecars.append(group.key)
                    continue
                verdict.hold.update(f.path for f in files)
                verdict.pending.add(folder.path)
                verdict.waiting[group.key] = reason
        self._seen, self._since = seen, since
        return verdict


def retry_delay(interval: float, failures: int, cap: float) -> float:
    """How long to leave a root alone after `failures` failed cycles in a row: doubling, capped."""
    return min(cap, interval * 2 ** max(failures - 1, 0)) if failures else interval


def full_sweep_due(hour: int | None, now: datetime, last: datetime | None) -> bool:
    """Whether the daily full sweep (the safety net under the hot folders) is due at `now`:
    the first cycle, and once a day from `hour` o'clock (None: only the first cycle)."""
    if last is None:
        return True
    if hour is None:
        return False
    mark = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if mark > now:
        mark -= timedelta(days=1)
    return last < mark


def expects_sidecar_for(vendor: str | None, technique: str | None) -> Callable[[Group], bool]:
    """The sidecar rule of one root: its instrument writes sidecars, and the image is of a kind they describe."""
    if not writes_sidecar(vendor, technique):
        return lambda group: False
    return lambda group: any(os.path.splitext(i.path)[1].lower() in SIDECAR_IMAGE_EXTENSIONS for i in group.images)
