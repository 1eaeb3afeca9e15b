"""Issue 7 item 10: a damaged catalog gives one clear message (what is wrong, what to do) and is
never written; two scans of one catalog neither race nor interleave; the API opens, not creates."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import emcensus
from emcensus.catalog import Catalog
from emcensus.catalog.schema import SCHEMA_VERSION
from emcensus.cli.main import main
from emcensus.errors import CatalogError, ConfigError, QueryError
from emcensus.scan import RootSpec, scan

PAGE = 4096


@pytest.fixture
def catalog_path(tiny_archive: Path, tmp_path: Path) -> Path:
    path = tmp_path / "census.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    assert not Path(f"{path}-wal").exists()  # checkpointed on close: the damage below hits real pages
    return path


def flip_bytes(path: Path) -> None:
    """Invert the header of every b-tree page after the first (the schema page stays readable)."""
    data = bytearray(path.read_bytes())
    for page in range(PAGE, len(data), PAGE):
        data[page:page + 12] = bytes(b ^ 0xFF for b in data[page:page + 12])
    path.write_bytes(bytes(data))


def flip_one_page(path: Path) -> None:
    """Invert the header of the page holding the original metadata: a page `count` never reads."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metadata'").fetchone()[0]
    data = bytearray(path.read_bytes())
    start = (page - 1) * PAGE
    data[start:start + 12] = bytes(b ^ 0xFF for b in data[start:start + 12])
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def drop_table(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TABLE problems")
    db.close()  # the last connection: the drop is checkpointed into the file
    assert not Path(f"{path}-wal").exists()


def empty(path: Path) -> None:
    os.truncate(path, 0)


DAMAGE = {"flipped bytes": flip_bytes, "one page flipped": flip_one_page, "truncated": truncate,
          "dropped table": drop_table, "zero length": empty}


def run(catalog: Path, *args: str):
    return CliRunner().invoke(main, ["--catalog", str(catalog), *args], catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_catalog_gives_one_clear_line_and_is_not_written(damage: str, catalog_path: Path,
                                                                 tiny_archive: Path) -> None:
    DAMAGE[damage](catalog_path)
    before = digest(catalog_path)
    for args in (("count",), ("count", "--by", "year"), ("audit",), ("audit", "--list", "unreadable"),
                 ("scan", str(tiny_archive), "--workers", "0", "--quiet"), ("pubs", "add", "local-1")):
        result = run(catalog_path, *args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.output)
        assert str(catalog_path) in lines[0] and "backup" in lines[0], (args, lines[0])
        assert "migrate" not in lines[0]
    assert digest(catalog_path) == before  # the scan and the edit refused to write into it


def test_one_damaged_page_a_query_does_not_read(catalog_path: Path) -> None:
    """A page the count never reads: the library's unverified read still counts (the dashboard's
    per-request opens), a verified open refuses, as every CLI command does."""
    flip_one_page(catalog_path)
    with Catalog(catalog_path, readonly=True) as catalog:
        assert catalog.total() == 5
    with pytest.raises(CatalogError, match="is damaged .*backup"):
        Catalog(catalog_path, readonly=True, verify=True)


def test_api_raises_catalog_error_for_damage_found_in_a_query(catalog_path: Path) -> None:
    """Damage past the pages an open looks at surfaces as CatalogError from the query itself."""
    with Catalog(catalog_path, readonly=True) as catalog:
        flip_bytes(catalog_path)
        with pytest.raises(CatalogError, match="damaged.*backup"):
            catalog.audit()


def test_a_query_past_sqlite_s_limits_is_not_called_damage(catalog_path: Path) -> None:
    """More parameters than SQLite takes in one statement (32,766 by default; 8 here) is a query too
    large, not a damaged catalog, and the catalog still answers."""
    with Catalog(catalog_path, readonly=True) as catalog:
        catalog.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 8)
        with pytest.raises(QueryError, match="too many SQL variables.*fewer values") as raised:
            catalog.count(files=True, kind=["image"] * 9)
        assert "damaged" not in str(raised.value)
        assert catalog.total() == 5


def _open_new_catalog(path: str, barrier) -> str:
    barrier.wait()
    try:
        Catalog(path).close()
    except Exception as exc:  # noqa: BLE001 - reported back to the test
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_simultaneous_first_opens_do_not_race(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = str(tmp_path / f"c{attempt}.sqlite")
        barrier = context.Manager().Barrier(4)
        with context.Pool(4) as pool:
            outcomes = pool.starmap(_open_new_catalog, [(path, barrier)] * 4)
        assert outcomes == ["ok"] * 4, outcomes
        with Catalog(path, readonly=True) as catalog:
            assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_second_scan_of_the_same_catalog_is_refused(catalog_path: Path, tiny_archive: Path) -> None:
    from emcensus.catalog.connection import scan_lock

    with scan_lock(catalog_path):  # as a running scan holds it
        result = run(catalog_path, "scan", str(tiny_archive), "--workers", "0")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"another scan (process {os.getpid()})" in result.output
        with Catalog(catalog_path) as catalog, pytest.raises(CatalogError, match="another scan"):
            scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    assert run(catalog_path, "scan", str(tiny_archive), "--workers", "0", "--quiet").exit_code == 0


def test_open_catalog_opens_and_creates_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "never.sqlite"
    with pytest.raises(CatalogError, match="no catalog"):
        emcensus.open_catalog(path)
    assert not path.exists()
    with emcensus.open_catalog(path, create=True) as catalog:
        assert catalog.total() == 0
    with emcensus.open_catalog(path, readonly=True) as catalog:
        assert catalog.audit()["image_files"] == 0


def test_a_zero_length_catalog_is_explained_not_migrated(tmp_path: Path) -> None:
    """emcensus never leaves a zero-byte catalog (a new one appears whole), so one is damage."""
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"")
    for readonly in (True, False):
        with pytest.raises(CatalogError, match=r"empty file \(0 bytes\)") as error:
            Catalog(path, readonly=readonly)
        assert "migrate" not in str(error.value)
    assert path.stat().st_size == 0 and os.listdir(tmp_path) == ["c.sqlite"]


def test_a_new_catalog_appears_whole(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # no temporary file left beside it; the writer's clean close remembers the file as verified
    assert sorted(os.listdir(tmp_path)) == ["c.sqlite", "c.sqlite.verified"]


@pytest.mark.parametrize("damage", [name for name in DAMAGE if name != "one page flipped"])
def test_the_dashboard_answers_a_damaged_catalog_with_its_message(damage: str, catalog_path: Path) -> None:
    """The web's one EmcensusError handler turns the catalog's error into a 503 with the same words."""
    from fastapi.testclient import TestClient

    from emcensus.web import create_app

    with TestClient(create_app(catalog_path), raise_server_exceptions=False) as client:
        DAMAGE[damage](catalog_path)
        for url in ("/api/count?by=year", "/api/audit", "/api/audit/unreadable"):
            reply = client.get(url)
            assert reply.status_code == 503, (url, reply.text)
            assert "backup" in reply.text and "Traceback" not in reply.text


def test_a_clean_check_is_remembered_until_the_file_changes(catalog_path: Path) -> None:
    """`quick_check` reads the whole file: a verified read-only open remembers a clean result beside
    the catalog, so `count` after `count` costs no full read, and any change to the file checks again."""
    Catalog(catalog_path, readonly=True, verify=True).close()
    stamp = Path(f"{catalog_path}.verified")
    assert stamp.is_file()
    remembered = stamp.read_text()
    Catalog(catalog_path, readonly=True, verify=True).close()
    assert stamp.read_text() == remembered
    flip_one_page(catalog_path)  # damage after the check: the stamp no longer matches the file
    with pytest.raises(CatalogError, match="is damaged .*backup"):
        Catalog(catalog_path, readonly=True, verify=True)
    assert stamp.read_text() == remembered  # a failed check is never remembered


def test_a_killed_scan_frees_the_catalog_even_while_its_workers_live(tmp_path: Path) -> None:
    """The scan lock is not inherited by forked pool workers: after `kill -9` of the scan, a new scan
    may start at once, though orphaned workers may still be running."""
    import signal
    import subprocess
    import sys
    import time

    from emcensus.catalog.connection import scan_lock

    catalog = tmp_path / "census.sqlite"
    ready = tmp_path / "child.pid"
    script = (
        "import os, sys, time\n"
        "from emcensus.catalog.connection import scan_lock\n"
        f"with scan_lock({str(catalog)!r}):\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"
        "        time.sleep(30); os._exit(0)\n"
        f"    open({str(ready)!r}, 'w').write(str(child))\n"
        "    time.sleep(30)\n"
    )
    scanner = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(200):
            if ready.exists() and ready.read_text():
                break
            time.sleep(0.05)
        child = int(ready.read_text())
        with pytest.raises(CatalogError, match="another scan"), scan_lock(catalog):
            pass
        scanner.send_signal(signal.SIGKILL)
        scanner.wait(10)
        os.kill(child, 0)  # the forked worker still lives...
        with scan_lock(catalog):  # ...and the catalog is free
            pass
    finally:
        scanner.kill()
        with contextlib.suppress(ProcessLookupError, UnboundLocalError):
            os.kill(child, signal.SIGKILL)


def test_a_catalog_inside_its_archive_is_read_but_no_stamp_is_written_there(catalog_path: Path,
                                                                            tiny_archive: Path) -> None:
    """The archive is never written: a catalog copied into a root it holds still opens read-only and
    verified, and its clean check is not remembered beside it."""
    inside = tiny_archive / "census.sqlite"
    inside.write_bytes(catalog_path.read_bytes())
    Catalog(inside, readonly=True, verify=True).close()
    assert not Path(f"{inside}.verified").exists()
    assert not list(tiny_archive.glob(".census.sqlite.verified*"))


def test_a_lock_file_planted_as_a_link_into_the_archive_is_refused(tiny_archive: Path, tmp_path: Path) -> None:
    """The scan's lock file is an output like the catalog: a `.lock` name that links into the archive
    is refused before anything is created there."""
    from support import fingerprint

    catalog = tmp_path / "census.sqlite"
    Catalog(catalog).close()
    Path(f"{catalog}.lock").symlink_to(tiny_archive / "planted.lock")
    before = fingerprint(tiny_archive)
    with Catalog(catalog) as opened, pytest.raises(ConfigError, match="scan lock .* inside the archive"):
        scan(opened, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    assert fingerprint(tiny_archive) == before and not (tiny_archive / "planted.lock").exists()
