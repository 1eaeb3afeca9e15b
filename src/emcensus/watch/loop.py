"""The watch's polling loop: stat folders, list the hot ones, let `watch.core` decide, let the
scan's `FolderCensus` read and commit. Polling, not file-system events: inotify sees nothing that
another host writes on an SMB/NFS share, which is where instrument PCs put their files.

One watch per catalog (the scan's lock, held for the watch's whole life); a root that errors or
stops answering is left alone for longer and longer (doubling, capped), and a root that suddenly
lists as empty (a share unmounted under its mount point) is treated as unreachable: its files are
never marked missing for that. A root whose file system changed under the same path is listed anew.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emcensus.catalog import Catalog, KnownFile
from emcensus.catalog.connection import scan_lock
from emcensus.catalog.paths import display_path
from emcensus.errors import UnreachableError
from emcensus.record import Problem
from emcensus.scan import FILE_TIMEOUT_S, FolderCensus, RootSpec, forgotten
from emcensus.scan.pool import CENSUS_GC_YOUNG, LIMIT_REASONS, MEMORY_ENV, Pool
from emcensus.scan.walk import Folder, walk
from emcensus.watch.core import (
    FolderTree,
    Settling,
    expects_sidecar_for,
    full_sweep_due,
    hot_folders,
    recent_folders,
    retry_delay,
)


#: Event lines of one kind printed per cycle (the cycle line counts them all).
EVENT_LINES = 20


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How the watch polls; every value can come from the facility file's `[watch]` table."""

    interval: float = 60.0  # seconds between cycles
    sidecar_timeout: float = 120.0  # seconds an image waits for its sidecar before it is catalogued without
    recent_days: int = 2  # date-named folders of these last days are listed every cycle
    full_sweep_hour: int | None = 3  # local hour of the daily full sweep (None: only at start)
    max_backoff: float = 900.0  # longest wait before trying an unreachable root again
    answer_timeout: float = 10.0  # seconds a root may take to answer a stat before it counts as unreachable


class Unreachable(Exception):
    """A root did not answer, errored, or looks unmounted: try it again later."""


@dataclass(slots=True)
class _RootState:
    spec: RootSpec
    settling: Settling
    tree: FolderTree = field(default_factory=FolderTree)
    pending: set[str] = field(default_factory=set)  # folders with unsettled acquisitions
    waiting: set[str] = field(default_factory=set)  # their keys, to log each one once
    device: int | None = None
    failures: int = 0
    next_try: float = 0.0
    last_sweep: datetime | None = None
    retry: set[str] = field(default_factory=set)  # files to read again unchanged at the next full sweep


@dataclass(slots=True)
class Cycle:
    """What one cycle did, for the log line."""

    number: int
    started: datetime
    sweep: bool = False
    listed: int = 0
    read: int = 0
    missing: int = 0
    errors: int = 0
    limited: int = 0  # of the unreadable, files not read for a limit of the reading (`LIMIT_REASONS`)
    waiting: int = 0
    unreachable: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        kind = "full sweep" if self.sweep else "hot folders"
        text = (f"{self.started.isoformat(timespec='seconds')} cycle {self.number} ({kind}): {self.listed} folder(s) listed, "
                f"{self.read} file(s) read, {self.missing} gone (marked missing), {self.waiting} acquisition(s) waiting, "
                f"{self.errors} unreadable")
        if self.limited:
            text += (f" ({self.limited} not read for a limit of this run: memory cap, time budget, a worker that "
                     f"died; after raising it, ${MEMORY_ENV} or --file-timeout, a watch started with "
                     "--retry-unread reads them again)")
        if self.unreachable:
            text += f", {self.unreachable} root(s) unreachable"
        return f"{text}; {self.seconds:.2f} s"


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C set `stop` (the loop ends after the commit in progress) instead of
    interrupting a write; the previous handlers come back afterwards."""
    wanted = [signal.SIGINT, signal.SIGTERM]
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def watch(catalog: Catalog, roots: Sequence[RootSpec], settings: WatchSettings, *, stop: threading.Event,
          log: Callable[[str], None], quiet: bool = False, cycles: int | None = None, workers: int = 0,
          file_timeout: float = FILE_TIMEOUT_S, retry_unread: bool = False) -> int:
    """Keep `catalog` up to date with `roots` until `stop` is set (or `cycles` cycles ran); returns
    the number of cycles. Refused, naming the holder, while another scan or watch holds the catalog.
    `retry_unread`: the files not read for a limit of the reading before the watch began (`LIMIT_REASONS`,
    as `scan --retry-unread`) are read again, unchanged as they are, once: at each root's first whole sweep
    (every cycle would read again, forever, a file that meets the limit again)."""
    # an exception leaving the block (an error, Ctrl-C outside the loop's handler) ends the workers at once
    with scan_lock(catalog.path, [root.path for root in roots], command="watch"), \
            Pool(None, workers, file_timeout, gc_young=CENSUS_GC_YOUNG) as pool:
        try:
            census = FolderCensus(catalog, roots, pool)
            states = [_RootState(spec, Settling(settings.sidecar_timeout,
                                                expects_sidecar_for(spec.vendor, spec.technique)),
                                 retry=catalog.unread_for_limits(root_id, LIMIT_REASONS) if retry_unread else set())
                      for spec, root_id in census.roots.values()]
            number, cycle = 0, None
            while not stop.is_set() and (cycles is None or number < cycles):
                number += 1
                cycle = _cycle(number, states, census, settings, stop, log if not quiet else None)
                log(cycle.line())
                if cycles is None or number < cycles:
                    stop.wait(settings.interval)
            if cycles is not None and cycle is not None and not stop.is_set() and cycle.unreachable == len(states):
                # a bounded run (cron's `--once`) whose last cycle reached no root failed: say so in the exit status
                raise UnreachableError(f"no root answered in the last of {number} cycle(s): nothing was catalogued "
                                       "or marked missing; check the shares")
            return number
        finally:
            if stop.is_set():  # stopped by a signal: the reads in flight are not wanted either
                pool.shutdown(kill=True)


def _cycle(number: int, states: list[_RootState], census: FolderCensus, settings: WatchSettings,
           stop: threading.Event, events: Callable[[str], None] | None) -> Cycle:
    wall, started = datetime.now().astimezone(), time.monotonic()
    cycle = Cycle(number, wall)
    for state in states:
        if stop.is_set():
            break
        if started < state.next_try:
            cycle.unreachable += 1
            continue
        try:
            _cycle_root(state, census, settings, wall, stop, cycle, events)
            state.failures = 0
        except Unreachable as exc:
            state.failures += 1
            delay = retry_delay(settings.interval, state.failures, settings.max_backoff)
            state.next_try = time.monotonic() + delay
            cycle.unreachable += 1
            if events:
                events(f"root {display_path(state.spec.path)} unreachable: {exc}; trying again in {delay:g} s")
    cycle.seconds = time.monotonic() - started
    return cycle


def _cycle_root(state: _RootState, census: FolderCensus, settings: WatchSettings, wall: datetime,
                stop: threading.Event, cycle: Cycle, events: Callable[[str], None] | None) -> None:
    root = state.spec.path
    info = _answer(os.stat, root, settings.answer_timeout)
    if state.device is not None and info.st_dev != state.device:
        state.last_sweep = None  # another file system at the same path (a share mounted or unmounted): list it all
    state.device = info.st_dev
    sweep = full_sweep_due(settings.full_sweep_hour, wall, state.last_sweep)
    if sweep:
        state.tree, queue = FolderTree(), [root]
    else:
        current = {folder: _mtime(folder) for folder in state.tree.mtimes}
        also = state.pending | recent_folders(state.tree.mtimes, root, wall.date(), settings.recent_days)
        queue = sorted(hot_folders(state.tree.mtimes, current, also), reverse=True)
    before = state.tree.copy()
    try:
        listed, gone, problems = _list_folders(state.tree, root, queue, census.nested[root])
    except Unreachable:
        state.tree = before  # what this cycle listed is listed again, and what it found gone is found again
        raise
    root_listing = next((folder for folder in listed if folder.path == root), None)
    if root_listing is not None and not (root_listing.groups or root_listing.orphans or root_listing.subfolders) \
            and census.holds_files(root):
        state.last_sweep = None  # listed again in full until it holds files again
        raise Unreachable("it lists as empty while the catalog holds files under it (a share not mounted?); "
                          "nothing is marked missing (run `emcensus scan` if they were really removed)")
    # read once: the settling decides on it, the census compares with it (nothing writes in between)
    known = census.catalogued_by_folder(root) if sweep else \
        {folder.path: census.catalogued(root, folder.path) for folder in listed}
    verdict = state.settling.review(listed, lambda folder: known.get(folder, {}), time.monotonic(), time.time_ns())
    retried = _forgetting(known, state.retry) if sweep else known
    if sweep and state.retry and events:
        events(f"{len(state.retry)} file(s) of {display_path(root)} not read for a limit before: read again")
    summary = census.update(root, listed, retried, hold=verdict.hold, gone_folders=gone,
                            walk_problems=problems if sweep else None, stop=stop.is_set)
    if sweep and summary.complete:
        state.last_sweep = wall
        state.retry = set()  # read again once: the next sweep reads only what changed
    if events:
        _tell(events, [f"waiting: {display_path(key)} ({verdict.waiting[key]})"
                       for key in sorted(set(verdict.waiting) - state.waiting)])
        _tell(events, [f"no sidecar after {settings.sidecar_timeout:g} s: {display_path(key)} catalogued without it"
                       for key in verdict.without_sidecar])
        _tell(events, [f"sidecar arrived after the timeout: {display_path(key)} read again with it"
                       for key in verdict.late_sidecars])
    state.pending = verdict.pending
    state.waiting = set(verdict.waiting)
    cycle.sweep |= sweep
    cycle.listed += len(listed)
    cycle.read += summary.read
    cycle.missing += summary.missing
    cycle.errors += summary.errors
    cycle.limited += summary.limited
    cycle.waiting += len(verdict.waiting)


def _forgetting(known: dict[str, dict[str, KnownFile]], retry: set[str]) -> dict[str, dict[str, KnownFile]]:
    """What the catalog holds by folder, less the files to read again: the census takes their acquisitions as
    new and reads them (the settling decides on all the rows: they are catalogued and hold still)."""
    if not retry:
        return known
    forgetting = {os.path.dirname(path) for path in retry}
    return {folder: forgotten(dict(rows), retry) if folder in forgetting else rows for folder, rows in known.items()}


def _tell(events: Callable[[str], None], lines: list[str]) -> None:
    """Event lines, the first `EVENT_LINES` of a kind: a first sweep of a busy archive is not a flood."""
    for line in lines[:EVENT_LINES]:
        events(line)
    if len(lines) > EVENT_LINES:
        events(f"... and {len(lines) - EVENT_LINES:,} more like that")


def _list_folders(tree: FolderTree, root: str, queue: list[str], nested: Collection[str]
                  ) -> tuple[list[Folder], list[str], list[Problem]]:
    """List `queue` and every subfolder found new on the way, but the `nested` roots (their own);
    returns (the listings, subfolders gone since their parent was last listed, the problems met).
    A folder that could not be listed is listed again next cycle."""
    listed: list[Folder] = []
    gone: list[str] = []
    problems: list[Problem] = []
    while queue:
        folder = queue.pop()
        mtime = _mtime(folder)  # before the listing: a change during it is seen next cycle
        if mtime is None:
            continue  # gone: its parent's listing says so
        found = next(walk(folder, problems, boundary=root, recurse=False, nested=nested), None)
        if found is None:
            tree.mtimes[folder] = -1
            continue
        new, lost = tree.listed(folder, mtime, found.subfolders)
        queue.extend(reversed(new))
        gone.extend(lost)
        listed.append(found)
    return listed, gone, problems


def _mtime(folder: str) -> int | None:
    """A folder's modification time now; None when it is gone. Any other error is the share's."""
    try:
        return os.stat(folder).st_mtime_ns
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unreachable(f"cannot stat {display_path(folder)}: {exc.strerror or exc}") from exc


def _answer(call: Callable[[str], Any], path: str, seconds: float) -> Any:
    """`call(path)` in a thread that may not come back (a dead share blocks in the kernel): a root
    that does not answer within `seconds` is unreachable this cycle, and the watch goes on."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call(path)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="emcensus-watch-root-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Unreachable(f"no answer within {seconds:g} s")
    if "error" in outcome:
        error = outcome["error"]
        raise Unreachable(error.strerror or str(error))
    return outcome["value"]
