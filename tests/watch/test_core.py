"""The watch's decisions, apart from its loop: hot folders, settling, sidecar waits, back-off, sweeps."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from emcensus.scan.walk import FileStat, Folder, Group
from emcensus.watch.core import (
    FolderTree,
    Settling,
    expects_sidecar_for,
    folder_date,
    full_sweep_due,
    hot_folders,
    recent_folders,
    retry_delay,
    writes_sidecar,
)

T0 = 1_700_000_000_000_000_000  # clock time of the polls, ns
HITACHI = expects_sidecar_for("Hitachi", "SEM")


def _folder(*groups: Group, path: str = "/r/day") -> Folder:
    return Folder(path, [g for g in groups if not g.sidecar_only], [g for g in groups if g.sidecar_only])


def _group(stem: str, size: int = 100, mtime: int = T0, sidecar: tuple[int, int] | None = None,
           suffix: str = ".tif") -> Group:
    side = FileStat(f"/r/day/{stem}.txt", *sidecar) if sidecar else None
    return Group(f"/r/day/{stem}", [FileStat(f"/r/day/{stem}{suffix}", size, mtime)], side)


def _nothing(folder: str) -> dict:
    return {}


@pytest.mark.parametrize(("name", "expected"), [
    ("2026-11-30", date(2026, 11, 30)), ("20261130_session", date(2026, 11, 30)), ("run 2026_11_30", date(2026, 11, 30)),
    ("2026-13-40", None), ("sample123456789", None), ("groupA", None),
])
def test_folder_date(name: str, expected: date | None) -> None:
    assert folder_date(name) == expected


def test_recent_folders_are_those_named_after_the_last_days_or_below_them() -> None:
    folders = ["/r/2026-11-30", "/r/2026-11-30/sub", "/r/2026-11-29", "/r/2026-11-28", "/r/groupA", "/r/2026-12-01"]
    assert recent_folders(folders, "/r", date(2026, 11, 30), 2) == {"/r/2026-11-30", "/r/2026-11-30/sub", "/r/2026-11-29"}
    assert recent_folders(folders, "/r", date(2026, 11, 30), 0) == set()


def test_hot_folders_changed_new_gone_and_asked_for() -> None:
    known = {"/r": 1, "/r/a": 1, "/r/b": 1, "/r/c/d": 1, "/r/e": 1}
    current = {"/r": 1, "/r/a": 2, "/r/b": 1, "/r/c/d": None, "/r/e": 1}
    assert hot_folders(known, current, {"/r/e", "/r/gone-too"}) == {"/r/a", "/r/c", "/r/e"}


def test_folder_tree_reports_new_and_gone_subfolders_and_forgets_below_the_gone() -> None:
    tree = FolderTree()
    assert tree.listed("/r", 1, ["/r/a", "/r/b"]) == (["/r/a", "/r/b"], [])
    tree.listed("/r/a", 1, ["/r/a/x"])
    tree.listed("/r/a/x", 1, [])
    tree.listed("/r/b", 5, [])
    assert tree.listed("/r", 2, ["/r/b", "/r/c"]) == (["/r/c"], ["/r/a"])
    assert tree.mtimes == {"/r": 2, "/r/b": 5}  # /r/a and below are forgotten; /r/c gets its time when listed


def test_a_file_is_held_until_it_holds_still_over_two_polls() -> None:
    settling = Settling(60, lambda group: False)
    first = settling.review([_folder(_group("a", 10, T0))], _nothing, 0.0, T0)
    assert first.hold == {"/r/day/a.tif"} and first.pending == {"/r/day"}
    assert first.waiting == {"/r/day/a": "being written"}
    growing = settling.review([_folder(_group("a", 20, T0 + 1))], _nothing, 1.0, T0)
    assert growing.hold == {"/r/day/a.tif"}
    settled = settling.review([_folder(_group("a", 20, T0 + 1))], _nothing, 2.0, T0)
    assert settled.hold == set() and settled.pending == set() and settled.waiting == {}


def test_the_catalog_counts_as_the_earlier_poll() -> None:
    settling = Settling(60, lambda group: False)
    known = {"/r/day/a.tif": (20, T0, None, None, None, "present", "/r/day/a"),
             "/r/day/b.tif": (20, T0, None, None, None, "present", "/r/day/b")}
    verdict = settling.review([_folder(_group("a", 20, T0), _group("b", 30, T0 + 5))], lambda folder: known, 0.0, T0)
    assert verdict.hold == {"/r/day/b.tif"}  # a is as catalogued; b changed since and is seen once


def test_a_hitachi_image_waits_for_its_sidecar_then_is_held_while_the_sidecar_settles() -> None:
    settling = Settling(30, HITACHI)
    settling.review([_folder(_group("a"))], _nothing, 0.0, T0)
    waiting = settling.review([_folder(_group("a"))], _nothing, 1.0, T0 + 1_000_000_000)
    assert waiting.waiting == {"/r/day/a": "waiting for its sidecar"} and waiting.hold == {"/r/day/a.tif"}
    arrived = settling.review([_folder(_group("a", sidecar=(50, T0 + 2)))], _nothing, 2.0, T0 + 2_000_000_000)
    assert arrived.waiting == {"/r/day/a": "being written"}  # the sidecar is seen once: not yet
    ready = settling.review([_folder(_group("a", sidecar=(50, T0 + 2)))], _nothing, 3.0, T0 + 3_000_000_000)
    assert ready.hold == set() and ready.without_sidecar == [] and ready.late_sidecars == []


def test_a_sidecar_that_never_comes_lets_the_image_go_after_the_timeout() -> None:
    settling = Settling(30, HITACHI)
    for now in (0.0, 1.0, 29.0):
        assert settling.review([_folder(_group("a"))], _nothing, now, T0 + int(now * 1e9)).hold
    late = settling.review([_folder(_group("a"))], _nothing, 31.5, T0 + int(31.5e9))
    assert late.hold == set() and late.without_sidecar == ["/r/day/a"]


def test_an_image_written_long_ago_does_not_wait_for_a_sidecar_again() -> None:
    """Measured from its modification time too: a watch started by cron sees it settle each time afresh."""
    settling = Settling(30, HITACHI)
    settling.review([_folder(_group("a", mtime=T0))], _nothing, 0.0, T0 + 3600 * 10**9)
    verdict = settling.review([_folder(_group("a", mtime=T0))], _nothing, 0.5, T0 + 3600 * 10**9)
    assert verdict.without_sidecar == ["/r/day/a"] and verdict.hold == set()


def test_a_sidecar_after_the_timeout_is_said_when_the_record_is_read_again() -> None:
    settling = Settling(30, HITACHI)
    known = {"/r/day/a.tif": (100, T0, None, None, None, "present", "/r/day/a")}
    group = _group("a", sidecar=(50, T0 + 99))
    settling.review([_folder(group)], lambda folder: known, 0.0, T0 + 100)
    verdict = settling.review([_folder(group)], lambda folder: known, 1.0, T0 + 100)
    assert verdict.late_sidecars == ["/r/day/a"] and verdict.hold == set()


def test_only_images_of_sidecar_writers_wait_for_one() -> None:
    assert writes_sidecar("Hitachi", "TEM") and writes_sidecar("JEOL", "SEM")
    assert not writes_sidecar("JEOL", "TEM") and not writes_sidecar("Zeiss", "SEM") and not writes_sidecar(None, None)
    assert not HITACHI(_group("a", suffix=".dm4")) and HITACHI(_group("a"))
    settling = Settling(30, expects_sidecar_for("Zeiss", "SEM"))
    settling.review([_folder(_group("a"))], _nothing, 0.0, T0)
    assert settling.review([_folder(_group("a"))], _nothing, 1.0, T0).hold == set()


def test_an_orphan_sidecar_waits_for_its_image() -> None:
    settling = Settling(30, HITACHI)
    orphan = Group("/r/day/a", [FileStat("/r/day/a.txt", 50, T0)], sidecar_only=True)
    settling.review([_folder(orphan)], _nothing, 0.0, T0)
    assert settling.review([_folder(orphan)], _nothing, 1.0, T0).waiting == {"/r/day/a": "waiting for its image"}


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(10, n, 60) for n in range(6)] == [10, 10, 20, 40, 60, 60]


def test_full_sweep_at_start_then_once_a_day_from_its_hour() -> None:
    at = datetime(2026, 11, 30, 12, 0)
    assert full_sweep_due(3, at, None)
    assert not full_sweep_due(3, at, datetime(2026, 11, 30, 3, 5))
    assert full_sweep_due(3, at, datetime(2026, 11, 30, 2, 59))
    assert not full_sweep_due(3, datetime(2026, 12, 1, 2, 0), datetime(2026, 11, 30, 3, 5))
    assert full_sweep_due(3, datetime(2026, 12, 1, 3, 0), datetime(2026, 11, 30, 3, 5))
    assert not full_sweep_due(None, at, datetime(2020, 1, 1))


def test_a_tree_copy_is_independent() -> None:
    tree = FolderTree()
    tree.listed("/r", 1, ["/r/a"])
    tree.listed("/r/a", 1, [])
    twin = tree.copy()
    tree.listed("/r", 2, [])
    assert tree.mtimes == {"/r": 2} and twin.mtimes == {"/r": 1, "/r/a": 1} and twin.children["/r"] == {"/r/a"}
