"""Folder fingerprints: a rescan skips the per-file work of a folder whose listing did not change,
and gives the census a full comparison gives after every kind of change.

The oracle is a second catalog that gets the same scans with its fingerprints cleared before each
(what a scan without fingerprints does: every folder compared file by file): both must hold the same
rows and report the same counts.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, ScanSummary, scan
from support import InterruptAfter, census_rows, hitachi_sidecar, write_tiff

SU8230 = "SU8230"


class Twins:
    """The catalog under test and its oracle, scanned alike."""

    def __init__(self, tmp_path: Path, root: Path):
        self.root = root
        self.tested = Catalog(tmp_path / "fingerprinted.sqlite")
        self.oracle = Catalog(tmp_path / "compared.sqlite")

    def scan(self, **settings: object) -> ScanSummary:
        spec = RootSpec(str(self.root), SU8230, **settings)
        with self.oracle.db:
            self.oracle.db.execute("DELETE FROM folders")
        expected = scan(self.oracle, [spec], workers=0)
        summary = scan(self.tested, [spec], workers=0)
        assert census_rows(self.tested) == census_rows(self.oracle)
        assert _counts(summary) == _counts(expected)
        assert _problems(self.tested) == _problems(self.oracle)
        return summary

    def close(self) -> None:
        self.tested.close()
        self.oracle.close()


def _counts(summary: ScanSummary) -> tuple[int, ...]:
    return summary.seen, summary.read, summary.skipped, summary.missing, summary.errors, summary.warnings, summary.orphans


def _problems(catalog: Catalog) -> list[tuple]:
    return sorted(catalog.db.execute("SELECT group_key, path, severity, reason FROM problems").fetchall())


@pytest.fixture
def twins(tiny_archive: Path, tmp_path: Path):
    pair = Twins(tmp_path, tiny_archive)
    first = pair.scan()
    assert first.read == 6
    yield pair
    pair.close()


def _touch(path: Path, seconds: int = 5) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 10**9))


def test_no_change_rescan_reads_nothing_and_stores_nothing(twins: Twins) -> None:
    changes = twins.tested.db.total_changes
    again = twins.scan()
    assert (again.read, again.skipped, again.missing) == (0, 6, 0)
    stored = twins.tested.db.execute("SELECT count(*) FROM folders").fetchone()[0]
    assert stored == 7  # the root, groupA, groupA/p1, .../2016-06-23, groupB, groupB/p2, .../2019-01-02
    # only the root's settings (an upsert) and the scan's own record (its row and its end) were
    # written: no image, problem or fingerprint
    assert twins.tested.db.total_changes - changes == 3


def test_an_unchanged_folder_is_not_compared_file_by_file(twins: Twins) -> None:
    """The proof that the skip happens: a catalog row edited behind the scan's back stays as it is
    while the folder's fingerprint matches (a comparison would re-read the file)."""
    path = str(twins.root / "groupA/p1/2016-06-23/img002.tif")
    with twins.tested.db:
        twins.tested.db.execute("UPDATE images SET size_bytes = 1 WHERE path = ?", (path,))
    assert scan(twins.tested, [RootSpec(str(twins.root), SU8230)], workers=0).read == 0
    with twins.tested.db:
        twins.tested.db.execute("DELETE FROM folders")
    assert scan(twins.tested, [RootSpec(str(twins.root), SU8230)], workers=0).read == 1


@pytest.mark.parametrize("change", ["modified", "added", "removed", "renamed", "sidecar-late", "sidecar-changed"])
def test_every_change_in_a_folder_is_seen(twins: Twins, change: str) -> None:
    folder = twins.root / "groupB/p2/2019-01-02"
    if change == "modified":
        write_tiff(folder / "img003.tif", seed=77, shape=(96, 128))
    elif change == "added":
        write_tiff(folder / "img005.tif", seed=5)
    elif change == "removed":
        (folder / "img004.tif").unlink()
    elif change == "renamed":
        (folder / "img004.tif").rename(folder / "img004-renamed.tif")
    elif change == "sidecar-late":  # the image was catalogued without metadata; its sidecar arrives
        (folder / "nosidecar.txt").write_bytes(hitachi_sidecar(30000, "SE(U)", "2019/01/02").encode("cp1252"))
    else:
        sidecar = folder / "img003.txt"
        sidecar.write_bytes(hitachi_sidecar(300000, "TE", "2019/01/02").encode("cp932"))
    summary = twins.scan()
    assert summary.read >= 1 or summary.missing == 1
    if change == "sidecar-late":
        record = twins.tested.record(str(folder / "nosidecar.tif"))
        assert record is not None and record.magnification == 30000 and record.metadata_source == "sidecar:hitachi-sem"
    assert twins.scan().read == 0  # and then the folder is unchanged again


def test_a_file_changed_in_place_with_its_size_and_only_its_mtime(twins: Twins) -> None:
    _touch(twins.root / "groupA/p1/2016-06-23/img001.jpg")
    assert twins.scan().read == 2  # the acquisition: tif + jpg


@pytest.mark.parametrize("depth", ["top-level", "nested", "leaf"])
def test_a_folder_that_disappeared_leaves_its_files_missing(twins: Twins, depth: str) -> None:
    gone = {"top-level": "groupA", "nested": "groupA/p1", "leaf": "groupA/p1/2016-06-23"}[depth]
    shutil.rmtree(twins.root / gone)
    assert twins.scan().missing == 3  # img001.tif, img001.jpg, img002.tif
    assert twins.scan().missing == 0


def test_a_folder_that_cannot_be_listed_any_more(twins: Twins) -> None:
    if os.geteuid() == 0:
        pytest.skip("root lists every folder whatever its mode")
    folder = twins.root / "groupA/p1"
    folder.chmod(0)
    try:
        assert twins.scan().missing == 3
    finally:
        folder.chmod(0o755)
    assert twins.scan().read == 3


@pytest.mark.parametrize("depth", ["nested", "leaf"])
def test_a_subfolder_that_cannot_be_listed_under_an_unchanged_parent(twins: Twins, monkeypatch: pytest.MonkeyPatch,
                                                                     depth: str) -> None:
    """Every folder the walk lists is unchanged, but a stored one was not listed (its parent marks it
    by name alone): compared, its files missing, not counted from the catalog. Any user, unlike a mode."""
    from emcensus import access

    blocked = str(twins.root / {"nested": "groupA/p1", "leaf": "groupA/p1/2016-06-23"}[depth])
    real = access.scandir

    def scandir(folder: str):  # type: ignore[no-untyped-def]
        if folder == blocked:
            raise PermissionError(13, "Permission denied", folder)
        return real(folder)

    monkeypatch.setattr(access, "scandir", scandir)
    unlisted = twins.scan()
    assert (unlisted.missing, unlisted.seen, unlisted.errors) == (3, 3, 1)
    monkeypatch.setattr(access, "scandir", real)
    assert twins.scan().read == 3


def test_a_folder_that_comes_back_as_it_was_is_read_again(twins: Twins, tmp_path: Path) -> None:
    """Restored from a backup with its mtimes: the same listing as the fingerprint stored before it
    went, but its files were marked missing meanwhile."""
    folder = twins.root / "groupA/p1"
    shutil.move(folder, tmp_path / "backup")
    assert twins.scan().missing == 3
    shutil.move(tmp_path / "backup", folder)
    assert twins.scan().read == 3
    assert twins.tested.total(files=True) == 6


@pytest.mark.parametrize("setting", [{"layout": "{group}/{project}/**"}, {"magnification_reference_m": 0.1}])
def test_a_changed_root_setting_is_applied_as_without_fingerprints(twins: Twins, setting: dict) -> None:
    """Unchanged files are not read again for a new layout or reference width (as before
    fingerprints): the derived columns of every image are recomputed from the root's settings instead."""
    assert twins.scan(**setting).read == 0


@pytest.mark.parametrize("setting", [{"technique": "TEM"}, {"vendor": "Hitachi High-Tech"}])
def test_a_changed_technique_or_vendor_reads_every_file_again_once(twins: Twins, setting: dict) -> None:
    """What a read gives depends on them (the technique or vendor a file reports itself is not stored
    apart): every file is read again, with or without fingerprints, and not on the next scan."""
    changed = twins.scan(**setting)
    assert changed.read == changed.seen > 0
    assert twins.scan(**setting).read == 0


@pytest.mark.parametrize("setting", [{"layout": "{group}/{project}/**"}, {"magnification_reference_m": 0.1}])
def test_a_changed_layout_or_reference_gives_the_census_of_a_first_scan(twins: Twins, setting: dict) -> None:
    twins.scan(**setting)
    fresh = Catalog(twins.root.parent / "fresh.sqlite")
    try:
        scan(fresh, [RootSpec(str(twins.root), SU8230, **setting)], workers=0)
        columns = ("group_name", "project", "fov_m", "fov_mag_m", "scalebar_decade")
        def derived(catalog: Catalog) -> list[tuple]:
            return [tuple(row[c] for c in ("path", *columns)) for row in catalog.images(include_missing=True)]
        assert derived(twins.tested) == derived(fresh)
    finally:
        fresh.close()
        (twins.root.parent / "fresh.sqlite").unlink()


def test_a_file_that_failed_is_not_read_again_until_it_changes(twins: Twins) -> None:
    broken = twins.root / "groupB/p2/2019-01-02/broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 20)
    assert twins.scan().errors == 1
    again = twins.scan()
    assert (again.read, again.errors) == (0, 0)  # as before fingerprints: an unchanged failure is kept, not retried
    assert _error(twins.tested, broken)
    write_tiff(broken, seed=3)
    assert twins.scan().read == 1
    assert _error(twins.tested, broken) is None


def _error(catalog: Catalog, path: Path) -> str | None:
    return catalog.db.execute("SELECT error FROM images WHERE path = ?", (str(path),)).fetchone()[0]




def test_a_scan_killed_after_writing_part_of_a_folder_leaves_no_fingerprint_vouching_for_it(
        twins: Twins) -> None:
    """Scan 2 catalogues a new subfolder and dies; the subfolder goes before scan 3. Its parent's
    listing is the one stored by scan 1 again, yet its files must be marked missing."""
    new = twins.root / "groupA/p1/2016-06-24"
    write_tiff(new / "late.tif", seed=11)
    spec = RootSpec(str(twins.root), SU8230)
    for catalog in (twins.tested, twins.oracle):
        with pytest.raises(KeyboardInterrupt):
            scan(catalog, [spec], workers=0, batch_size=1, progress=InterruptAfter())
    assert twins.tested.images(path=str(new / "late.tif"))
    shutil.rmtree(new)
    twins.scan()
    assert [row["status"] for row in twins.tested.images(path=str(new / "late.tif"), include_missing=True)] == ["missing"]


def test_fingerprints_on_a_local_pool_and_in_process_agree(tiny_archive: Path, tmp_path: Path) -> None:
    """Local workers read the stored fingerprints from the catalog themselves; the census is the same."""
    spec = RootSpec(str(tiny_archive), SU8230)
    with Catalog(tmp_path / "pool.sqlite") as pooled:
        scan(pooled, [spec], workers=2)
        (tiny_archive / "groupB/p2/2019-01-02/img004.tif").unlink()
        write_tiff(tiny_archive / "groupA/p1/2016-06-23/img009.tif", seed=9)
        summary = scan(pooled, [spec], workers=2)
        assert (summary.read, summary.missing) == (1, 1)
        assert scan(pooled, [spec], workers=2).read == 0
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [spec], workers=0)
            assert [r for r in census_rows(pooled) if r["status"] == "present"] == census_rows(fresh)


def test_walk_problems_of_an_unchanged_folder_stay_while_another_folder_changes(twins: Twins) -> None:
    """A folder found unchanged is never paired: the problems of its entries (a FIFO named like an
    image, a broken link, a second sidecar) are the ones stored, kept when the root's problems are
    replaced because another folder changed, and dropped once its listing changes."""
    folder = twins.root / "groupA/p1/2016-06-23"
    os.mkfifo(folder / "pipe.tif")
    os.symlink(folder / "nowhere.tif", folder / "dangling.tif")
    (folder / "img002.hdr").write_bytes(hitachi_sidecar(50000, "SE(U)", "06/23/2016").encode("cp1252"))
    first = twins.scan()
    assert (first.errors, first.warnings) == (2, 1)
    write_tiff(twins.root / "groupB/p2/2019-01-02/img005.tif", seed=5)
    changed = twins.scan()
    assert (changed.read, changed.errors, changed.warnings) == (1, 2, 1)
    assert {path.rsplit("/", 1)[1] for _, path, _, _ in _problems(twins.tested)} == {
        "pipe.tif", "dangling.tif", "img002.hdr"}
    (folder / "dangling.tif").unlink()
    write_tiff(twins.root / "groupB/p2/2019-01-02/img006.tif", seed=6)
    assert (twins.scan().errors, len(_problems(twins.tested))) == (1, 2)


@pytest.mark.parametrize("kind", ["alias folder", "broken"])
def test_a_link_led_elsewhere_changes_its_folder(twins: Twins, kind: str) -> None:
    """A link is marked by where it leads: a folder alias or a broken link pointed elsewhere (nothing
    else of the folder changed) gets its folder compared, and its problem says where it leads now."""
    folder = twins.root / "groupB/p2"
    link = folder / ("alias" if kind == "alias folder" else "dangling.tif")
    targets = [twins.root / "groupA/p1", twins.root / "groupA"] if kind == "alias folder" else \
        [folder / "nowhere.tif", folder / "elsewhere.tif"]
    os.symlink(targets[0], link)
    assert twins.scan().warnings + twins.scan().errors == 1
    link.unlink()
    os.symlink(targets[1], link)
    again = twins.scan()  # the oracle's problems: the new target named
    assert (again.read, again.warnings + again.errors) == (0, 1)
    [(_, path, _, reason)] = _problems(twins.tested)
    assert path == str(link) and str(targets[1]) in reason and str(targets[0]) not in reason


@pytest.mark.parametrize("executor_kind", ["processes", "threads"])
def test_an_unchanged_rescan_on_a_pool_counts_what_a_comparison_counts(tiny_archive: Path, tmp_path: Path,
                                                                      executor_kind: str) -> None:
    """Files of unchanged folders are counted in the catalog (missing files and orphan sidecars
    apart) instead of being paired: by local workers themselves, or (any other executor, Dask) by
    this process for the survey: the same totals as a scan that compares every file."""
    spec = RootSpec(str(tiny_archive), SU8230)
    with ThreadPoolExecutor(2) as threads, Catalog(tmp_path / "pool.sqlite") as pooled, \
            Catalog(tmp_path / "compared.sqlite") as compared:
        options = {"workers": 2} if executor_kind == "processes" else {"executor": threads}
        scan(pooled, [spec], **options)
        scan(compared, [spec], workers=0)
        (tiny_archive / "groupA/p1/2016-06-23/img001.jpg").unlink()
        scan(pooled, [spec], **options)
        scan(compared, [spec], workers=0)
        with compared.db:
            compared.db.execute("DELETE FROM folders")
        unchanged, expected = scan(pooled, [spec], **options), scan(compared, [spec], workers=0)
        assert unchanged.read == expected.read == 0
        assert _counts(unchanged) == _counts(expected) == (5, 0, 5, 0, 0, 0, 1)
