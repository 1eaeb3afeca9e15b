"""The watch loop over real archives and catalogs: the same census as `scan`, folders that vanish,
a share that goes away (unreachable, then unmounted), the facility file's `[watch]` table."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from emcensus.catalog import Catalog
from emcensus.cli.main import main
from emcensus.errors import CatalogError
from emcensus.scan import RootSpec, scan
from emcensus.watch import WatchSettings, watch
from support import InterruptAfter, census_rows, hitachi_sidecar, write_tiff

LONG_AGO = 1_466_000_000  # 2016: an archive written long before the watch started
FAST = WatchSettings(interval=0.05, sidecar_timeout=30, answer_timeout=5, max_backoff=0.2)


def _age(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(Path(folder, name), (LONG_AGO, LONG_AGO))


def _statuses(catalog_path: Path) -> dict[str, str]:
    """File name -> status in the catalog (nothing while the watch has not created it yet)."""
    try:
        with Catalog(catalog_path, readonly=True) as catalog:
            return {Path(r["path"]).name: r["status"] for r in catalog.images(include_missing=True, kind="all")}
    except CatalogError:
        return {}


@contextmanager
def _watching(catalog_path: Path, root: Path) -> Iterator[list[str]]:
    """`watch` running in a thread until the block ends; yields its log lines as they come."""
    lines: list[str] = []
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with Catalog(catalog_path) as catalog:
                watch(catalog, [RootSpec(str(root), "SU8230")], FAST, stop=stop, log=lines.append)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield lines
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not failure, failure


def _until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_watch_once_gives_the_census_scan_gives(tiny_archive: Path, tmp_path: Path) -> None:
    _age(tiny_archive)
    with Catalog(tmp_path / "scanned.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        expected = census_rows(catalog)
    result = CliRunner().invoke(main, ["--catalog", str(tmp_path / "watched.sqlite"), "watch", str(tiny_archive),
                                       "--instrument", "SU8230", "--once", "--interval", "0.05", "--quiet"])
    assert result.exit_code == 0, result.output
    assert [line.split(" ", 1)[1].split(":")[0] for line in result.output.splitlines()] == [
        "cycle 1 (full sweep)", "cycle 2 (hot folders)"]
    with Catalog(tmp_path / "watched.sqlite", readonly=True) as catalog:
        assert census_rows(catalog) == expected


def test_a_vanished_folder_marks_its_files_missing(tiny_archive: Path, tmp_path: Path) -> None:
    _age(tiny_archive)
    catalog_path = tmp_path / "c.sqlite"
    with _watching(catalog_path, tiny_archive) as lines:
        _until(lambda: _statuses(catalog_path).get("img004.tif") == "present")
        shutil.rmtree(tiny_archive / "groupB")
        _until(lambda: _statuses(catalog_path)["img004.tif"] == "missing")
    statuses = _statuses(catalog_path)
    assert {name: statuses[name] for name in ("img001.tif", "img003.tif", "nosidecar.tif")} == {
        "img001.tif": "present", "img003.tif": "missing", "nosidecar.tif": "missing"}
    assert "deleted.txt" not in statuses  # a sidecar-only record ends with its sidecar
    assert all(" cycle " in line or line.startswith("no sidecar after") or line.startswith("waiting:") for line in lines)


def test_an_unreachable_root_is_retried_and_nothing_is_marked_missing(tiny_archive: Path, tmp_path: Path) -> None:
    _age(tiny_archive)
    catalog_path = tmp_path / "c.sqlite"
    away = tmp_path / "away"
    with _watching(catalog_path, tiny_archive) as lines:
        _until(lambda: _statuses(catalog_path).get("img004.tif") == "present")
        tiny_archive.rename(away)  # the share is gone
        _until(lambda: sum("trying again in" in line for line in lines) >= 3)
        retries = [line.rsplit("trying again in ", 1)[1] for line in lines if "trying again in" in line]
        assert retries[:3] == ["0.05 s", "0.1 s", "0.2 s"]  # the wait doubles
        assert "unreachable: No such file or directory" in next(line for line in lines if "trying again" in line)
        away.rename(tiny_archive)
        count = len(lines)
        _until(lambda: any(" cycle " in line and "unreachable" not in line for line in lines[count:]))
    assert set(_statuses(catalog_path).values()) == {"present"}


def test_a_share_unmounted_under_its_mount_point_is_not_an_empty_archive(tiny_archive: Path, tmp_path: Path) -> None:
    """An unmounted share leaves its empty mount point folder: that is an outage, not a deletion."""
    _age(tiny_archive)
    catalog_path = tmp_path / "c.sqlite"
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    with _watching(catalog_path, tiny_archive) as lines:
        _until(lambda: _statuses(catalog_path).get("img004.tif") == "present")
        for child in tiny_archive.iterdir():
            child.rename(hidden / child.name)
        _until(lambda: sum("lists as empty while the catalog holds files under it" in line for line in lines) >= 2)
        for child in hidden.iterdir():  # mounted again
            child.rename(tiny_archive / child.name)
        count = len(lines)
        _until(lambda: any(" cycle " in line and "unreachable" not in line for line in lines[count:]))
    assert set(_statuses(catalog_path).values()) == {"present"}


def test_watch_once_fails_when_no_root_answered(tiny_archive: Path, tmp_path: Path) -> None:
    """cron reads the exit status: a `--once` that reached no share must not look like a quiet night."""
    catalog_path = tmp_path / "c.sqlite"
    with Catalog(catalog_path) as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for child in tiny_archive.iterdir():  # the share unmounted: its mount point lists as empty
        child.rename(hidden / child.name)
    result = CliRunner().invoke(main, ["--catalog", str(catalog_path), "watch", str(tiny_archive), "--instrument",
                                       "SU8230", "--once", "--interval", "0.05", "--quiet"])
    assert result.exit_code != 0
    assert "no root answered" in result.output
    assert set(_statuses(catalog_path).values()) == {"present"}


def test_the_facility_file_watch_table(tiny_archive: Path, tmp_path: Path) -> None:
    write_tiff(tiny_archive / "extra" / "x.tif")
    facility = tmp_path / "facility.toml"
    base = f'[[instrument]]\nname = "SU8230"\nroots = ["{tiny_archive}"]\n'
    runner = CliRunner()
    command = ["--catalog", str(tmp_path / "c.sqlite"), "watch", "--config", str(facility), "--cycles", "1"]
    facility.write_text(base + "[watch]\ninterval = 0.05\nfull_sweep_hour = 4\n")
    result = runner.invoke(main, command)
    assert result.exit_code == 0, result.output
    assert "every 0.05 s" in result.output
    assert "every 7 s" in runner.invoke(main, [*command, "--interval", "7"]).output  # the option wins
    for table, message in [("interval = 0", "[watch] interval must be a positive number, not 0"),
                           ("full_sweep_hour = 24", "full_sweep_hour must be a whole number from 0 to 23, not 24"),
                           ("recent_days = 1.5", "recent_days must be a whole number from 0 to 366, not 1.5"),
                           ("intervall = 5", "unknown key(s) intervall")]:
        facility.write_text(base + "[watch]\n" + table + "\n")
        result = runner.invoke(main, command)
        assert result.exit_code == 1 and message in result.output, result.output


def test_watch_needs_roots(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--catalog", str(tmp_path / "c.sqlite"), "watch", "--once"])
    assert result.exit_code == 1 and "give one or more ROOTS or --config" in result.output
    assert not (tmp_path / "c.sqlite").exists()


def test_the_catalog_is_never_written_into_the_archive(tiny_archive: Path) -> None:
    before = sorted(p.name for p in tiny_archive.rglob("*"))
    result = CliRunner().invoke(main, ["--catalog", str(tiny_archive / "c.sqlite"), "watch", str(tiny_archive), "--once"])
    assert result.exit_code == 1 and "never writes into an archive" in result.output
    assert sorted(p.name for p in tiny_archive.rglob("*")) == before


def test_a_busy_first_sweep_names_twenty_waiting_files_and_counts_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    for index in range(25):
        write_tiff(root / "2026-11-30" / f"frame_{index:02}.tif", seed=index)
    result = CliRunner().invoke(main, ["--catalog", str(tmp_path / "c.sqlite"), "watch", str(root), "--instrument",
                                       "SU8230", "--cycles", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("waiting: ") and "(being written)" in line for line in lines) == 20
    assert "... and 5 more like that" in lines
    assert "25 acquisition(s) waiting" in lines[-1]


def test_a_file_rewritten_in_place_in_todays_folder_is_read_again(tmp_path: Path) -> None:
    """Rewriting a file does not change its folder's modification time: today's folder is listed anyway."""
    root = tmp_path / "archive"
    today = root / "groupA" / date.today().strftime("%Y%m%d")
    write_tiff(today / "frame.tif", seed=1)
    (today / "frame.txt").write_bytes(hitachi_sidecar(5000, "SE(U)").encode("cp1252"))
    catalog_path = tmp_path / "c.sqlite"

    def size() -> int | None:
        try:
            with Catalog(catalog_path, readonly=True) as catalog:
                return next((r["size_bytes"] for r in catalog.images()), None)
        except CatalogError:
            return None

    with _watching(catalog_path, root):
        _until(lambda: size() == (today / "frame.tif").stat().st_size)
        folder_mtime = today.stat().st_mtime_ns
        with open(today / "frame.tif", "r+b") as handle:  # in place: same inode, the folder is not touched
            handle.truncate(0)
        write_tiff(today / "frame.tif", seed=2, shape=(96, 128))
        assert today.stat().st_mtime_ns == folder_mtime
        _until(lambda: size() == (today / "frame.tif").stat().st_size)


def test_a_scan_while_a_watch_runs_is_refused_naming_the_watch(tiny_archive: Path, tmp_path: Path) -> None:
    catalog_path = tmp_path / "census.sqlite"
    with _watching(catalog_path, tiny_archive) as lines:
        _until(lambda: lines)  # a cycle ran: the watch holds the catalog
        result = CliRunner().invoke(main, ["--catalog", str(catalog_path), "scan", str(tiny_archive),
                                           "--instrument", "SU8230", "--workers", "0", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"another watch (process {os.getpid()}) is writing to the catalog" in result.output
    assert "stop it, or scan into another catalog file" in result.output
    assert Path(f"{catalog_path}.lock").read_text() == f"{os.getpid()} watch\n"


def test_a_watched_root_covers_the_roots_nested_in_it(tiny_archive: Path, tmp_path: Path) -> None:
    """A file belongs to the innermost registered root, and watching a root covers its whole tree:
    a watch of the outer root alone watches the inner one too (its files gone marked missing, as
    its own rows), a watch of both gives the census `scan` gives (the inner root's files, catalogued
    earlier under the outer one, taken over), and an inner root's folder deleted has its files
    marked missing at the outer root's full sweep."""
    _age(tiny_archive)
    inner = tiny_archive / "groupB"
    specs = [RootSpec(str(tiny_archive), "SU8230"), RootSpec(str(inner), "Regulus8100")]
    with Catalog(tmp_path / "scanned.sqlite") as catalog:
        scan(catalog, specs, workers=0)
        expected = census_rows(catalog)
    lines: list[str] = []
    with Catalog(tmp_path / "watched.sqlite") as catalog:
        scan(catalog, specs[:1], workers=0)  # before the inner root was registered: all the outer root's
        watch(catalog, specs, FAST, stop=threading.Event(), log=lines.append, cycles=2)
        assert census_rows(catalog) == expected
        os.remove(inner / "p2/2019-01-02/img004.tif")
        watch(catalog, specs[:1], FAST, stop=threading.Event(), log=lines.append, cycles=1)
        assert _statuses(tmp_path / "watched.sqlite")["img004.tif"] == "missing"
        assert catalog.audit()["missing"] == 1
        shutil.rmtree(inner)
        watch(catalog, specs[:1], FAST, stop=threading.Event(), log=lines.append, cycles=1)
        statuses = _statuses(tmp_path / "watched.sqlite")
        assert statuses["img003.tif"] == "missing" and statuses["img001.tif"] == "present"
        roots = {root["id"]: root["path"] for root in catalog.roots()}
        assert {roots[row["root_id"]] for row in catalog.images(include_missing=True)
                if row["status"] == "missing"} == {str(inner)}
        assert {row["root"] for row in catalog.count(by="root")} == {str(tiny_archive)}


def test_a_watch_under_another_technique_reads_the_roots_files_again(tiny_archive: Path, tmp_path: Path) -> None:
    """The root's instrument changed SEM -> TEM: its first full sweep reads every file again (the
    technique a file reports itself is not stored), giving the census a first scan gives; not again."""
    _age(tiny_archive)
    tem = [RootSpec(str(tiny_archive), "HT7700")]
    with Catalog(tmp_path / "fresh.sqlite") as fresh:
        scan(fresh, tem, workers=0)
        expected = census_rows(fresh)
    lines: list[str] = []
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert census_rows(catalog) != expected
        watch(catalog, tem, FAST, stop=threading.Event(), log=lines.append, cycles=2)
        assert census_rows(catalog) == expected
    assert " 0 file(s) read" not in lines[0] and " 0 file(s) read" in lines[1], lines


def test_a_watched_inner_root_takes_over_what_the_outer_root_holds_under_it(tiny_archive: Path,
                                                                            tmp_path: Path) -> None:
    """The files it found become the inner root's as it reads them; the first full sweep that finds
    every file it holds written (nothing left to settle) takes over those the outer root still held
    under it, gone since (marked missing): none is left to the outer root."""
    _age(tiny_archive)
    inner = tiny_archive / "groupB"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        os.remove(inner / "p2/2019-01-02/img004.tif")
        specs = [RootSpec(str(inner), "Regulus8100")]
        watch(catalog, specs, FAST, stop=threading.Event(), log=[].append, cycles=1)  # files held to settle
        assert catalog.audit()["missing"] == 0  # none of them taken for gone
        watch(catalog, specs, FAST, stop=threading.Event(), log=[].append, cycles=2)  # read on the second look
        roots = {root["path"]: root["id"] for root in catalog.roots()}
        assert catalog.record(str(inner / "p2/2019-01-02/img003.tif")).instrument == "Regulus8100"
        watch(catalog, specs, FAST, stop=threading.Event(), log=[].append, cycles=1)  # a sweep with nothing to settle
        rows = {Path(row["path"]).name: (row["root_id"], row["status"], row["instrument"])
                for row in catalog.images(include_missing=True)}
        assert rows["img004.tif"][:2] == (roots[str(inner)], "missing")
        assert rows["img004.tif"][2] == "Regulus8100"  # taken over: the inner root's instrument, as a read gives
        assert rows["img003.tif"] == (roots[str(inner)], "present", "Regulus8100")
        assert rows["img001.tif"] == (roots[str(tiny_archive)], "present", "SU8230")


def test_a_watched_middle_root_takes_over_nothing_under_a_root_nested_in_it(tiny_archive: Path, tmp_path: Path) -> None:
    """Three roots nested, the middle and innermost ones registered after the outer root's scan. The
    middle root (no file of its own) completes its first sweep while the innermost root's files wait
    to settle: it takes over what the outer root holds under it but not under the innermost root
    (those files are on disk, not gone: none marked missing); the innermost root takes them over."""
    _age(tiny_archive)
    middle, inner = tiny_archive / "groupB", tiny_archive / "groupB/p2"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        catalog.ensure_root(str(middle), "SU8230", None, None)
        catalog.ensure_root(str(inner), "Regulus8100", None, None)
        roots = {root["id"]: root["path"] for root in catalog.roots()}

        def owners() -> dict[str, str]:
            return {Path(row["path"]).name: roots[row["root_id"]] for row in catalog.images(include_missing=True)
                    if str(middle) in row["path"]}

        watch(catalog, [RootSpec(str(middle))], FAST, stop=threading.Event(), log=[].append, cycles=1)
        assert catalog.audit()["missing"] == 0
        assert set(owners().values()) == {str(tiny_archive)}  # the innermost root's files still wait to settle
        watch(catalog, [RootSpec(str(middle))], FAST, stop=threading.Event(), log=[].append, cycles=2)
        assert catalog.audit()["missing"] == 0
        assert owners() == {"img003.tif": str(inner), "img004.tif": str(inner), "nosidecar.tif": str(inner)}




def test_a_watch_finishes_reading_again_what_a_stopped_scan_under_another_technique_left(
        tiny_archive: Path, tmp_path: Path) -> None:
    """A scan under a new instrument (SEM -> TEM) stopped at its first write: a watch naming no
    instrument reads the rest again at its first full sweep, giving a first census's catalog."""
    for seed in range(40):  # enough files for the stop to come before the last is written
        write_tiff(tiny_archive / f"groupC/f{seed % 4}/c{seed}.tif", seed=seed)
        (tiny_archive / f"groupC/f{seed % 4}/c{seed}.txt").write_bytes(hitachi_sidecar(1000 * (seed + 1), "SE(U)").encode())
    _age(tiny_archive)
    with Catalog(tmp_path / "fresh.sqlite") as fresh:
        scan(fresh, [RootSpec(str(tiny_archive), "HT7700")], workers=0)
        expected = census_rows(fresh)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        with pytest.raises(KeyboardInterrupt):
            scan(catalog, [RootSpec(str(tiny_archive), "HT7700")], workers=0, batch_size=1,
                 progress=InterruptAfter())
        assert 0 < sum(row["technique"] == "TEM" for row in catalog.images()) < len(expected)  # stopped midway
        watch(catalog, [RootSpec(str(tiny_archive))], FAST, stop=threading.Event(), log=[].append, cycles=2)
        assert census_rows(catalog) == expected
