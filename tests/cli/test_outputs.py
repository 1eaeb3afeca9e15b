"""Issue 7 item 5: one guard decides every output path (catalog, export, report, thumbnail cache),
on resolved paths, before anything is created. Each test compares the whole archive (every entry,
its content and mtime, and the root's own mtime) before and after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.errors import ConfigError
from emcensus.outputs import ArchiveWriteError, guard_output
from emcensus.scan import RootSpec, scan
from support import fingerprint


def snapshot(root: Path) -> tuple[int, dict[str, tuple[str, int, int]]]:
    """The root folder's mtime and every entry below it: a new file anywhere changes one of them."""
    return root.stat().st_mtime_ns, fingerprint(root)


def refused(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    for word in words:
        assert word in result.output


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_catalog_inside_the_archive_is_refused_before_it_is_created(cli, tiny_archive: Path, tmp_path: Path) -> None:
    before = snapshot(tiny_archive)
    for catalog in (tiny_archive / "c.sqlite", tiny_archive / "groupA" / "c.sqlite"):
        result = cli("--catalog", str(catalog), "scan", str(tiny_archive), "--workers", "0", ok=False)
        refused(result, "inside the archive")
    assert snapshot(tiny_archive) == before


def test_catalog_through_a_symlink_into_the_archive(cli, tiny_archive: Path, outside: Path) -> None:
    (outside / "link").symlink_to(tiny_archive, target_is_directory=True)
    (outside / "c.sqlite").symlink_to(tiny_archive / "c.sqlite")  # a dangling link to a file in the archive
    before = snapshot(tiny_archive)
    for catalog in (outside / "link" / "c.sqlite", outside / "c.sqlite"):
        refused(cli("--catalog", str(catalog), "scan", str(tiny_archive), "--workers", "0", ok=False), "inside the archive")
    assert snapshot(tiny_archive) == before


def test_a_root_given_as_a_symlink_is_resolved(cli, tiny_archive: Path, outside: Path) -> None:
    (outside / "root").symlink_to(tiny_archive, target_is_directory=True)
    before = snapshot(tiny_archive)
    refused(cli("--catalog", str(tiny_archive / "c.sqlite"), "scan", str(outside / "root"), "--workers", "0", ok=False),
            "inside the archive")
    assert snapshot(tiny_archive) == before


def test_the_library_scan_resolves_symlinked_roots(tiny_archive: Path, outside: Path) -> None:
    """`scan()` keeps its own check (for callers of the API), through the same guard."""
    (outside / "root").symlink_to(tiny_archive, target_is_directory=True)
    with Catalog(tiny_archive / "c.sqlite") as catalog, pytest.raises(ArchiveWriteError, match="inside the archive"):
        scan(catalog, [RootSpec(str(outside / "root"), "SU8230")], workers=0)


def test_catalog_inside_a_root_it_already_holds(cli, tiny_archive: Path, tmp_path: Path, outside: Path) -> None:
    """A catalog whose stored roots contain it (an older emcensus let that happen) is not written again."""
    archive = tmp_path / "archive"
    catalog = archive / "census.sqlite"
    with Catalog(catalog) as db:
        db.ensure_root(str(archive), "SU8230", None, None)
    before = snapshot(archive)
    other = outside / "other"
    other.mkdir()
    refused(cli("--catalog", str(catalog), "scan", str(other), "--workers", "0", ok=False), "inside the archive")
    refused(cli("--catalog", str(catalog), "pubs", "add", "local-1", ok=False), "inside the archive")
    assert snapshot(archive) == before  # no -wal, -shm or .lock beside it either


def test_a_new_catalog_needs_an_existing_folder(cli, tiny_archive: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "typo" / "deeper" / "c.sqlite"
    refused(cli("--catalog", str(catalog), "scan", str(tiny_archive), "--workers", "0", ok=False), "does not exist")
    assert not (tmp_path / "typo").exists()
    with pytest.raises(ConfigError, match="does not exist"):
        Catalog(catalog)
    assert not (tmp_path / "typo").exists()


@pytest.fixture
def scanned(cli, tiny_archive: Path):
    cli("scan", str(tiny_archive), "--instrument", "SU8230", "--workers", "0", "--quiet")
    return cli


def test_export_into_the_archive_is_refused(scanned, tiny_archive: Path, outside: Path) -> None:
    (outside / "link").symlink_to(tiny_archive / "groupA", target_is_directory=True)
    before = snapshot(tiny_archive)
    for out in (tiny_archive / "x.csv", tiny_archive / "groupB" / "x.parquet", outside / "link" / "x.csv"):
        refused(scanned("export", str(out), ok=False), "inside the archive")
    assert snapshot(tiny_archive) == before


def test_export_never_creates_folders_or_guesses_a_format(scanned, outside: Path) -> None:
    refused(scanned("export", str(outside / "nonexistent" / "dir" / "x.csv"), ok=False), "does not exist")
    assert not (outside / "nonexistent").exists()
    refused(scanned("export", str(outside / "x.xlsx"), ok=False), "unknown file type", ".csv", ".parquet")
    refused(scanned("export", str(outside / "noext"), ok=False), "unknown file type")
    assert list(outside.iterdir()) == []
    assert "wrote 7 rows" in scanned("export", str(outside / "x.txt"), "--format", "csv").output
    assert (outside / "x.txt").read_text(encoding="utf-8").startswith("id,")
    assert [p.name for p in outside.iterdir()] == ["x.txt"]  # no temporary file left beside it


def test_report_into_the_archive_is_refused(scanned, tiny_archive: Path, outside: Path, tmp_path: Path) -> None:
    before = snapshot(tiny_archive)
    refused(scanned("report", str(tiny_archive / "report"), ok=False), "inside the archive")
    refused(scanned("report", str(tiny_archive), ok=False), "inside the archive")
    refused(scanned("report", str(tiny_archive.parent), ok=False), "contains the archive")
    refused(scanned("report", str(outside / "a" / "b"), ok=False), "does not exist")
    assert snapshot(tiny_archive) == before
    assert not (outside / "a").exists()


def test_guard_output_rules(tiny_archive: Path, outside: Path) -> None:
    assert guard_output(outside / "r", [tiny_archive], folder=True) == outside.resolve() / "r"
    (outside / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        guard_output(outside / "file", [], folder=True)
    with pytest.raises(ConfigError, match="is a folder"):
        guard_output(outside, [])
    assert guard_output(outside / "X.CSV", [], suffixes={".csv"}).name == "X.CSV"
    assert os.listdir(outside) == ["file"]


def test_a_root_whose_name_is_not_utf8_is_still_an_archive(cli, tmp_path: Path, outside: Path) -> None:
    """The catalog stores such a root losslessly encoded; the guard compares the file-system path."""
    from support import hitachi_sidecar, write_tiff

    root = tmp_path / os.fsdecode(b"Gr\xf6\xdfe")
    write_tiff(root / "img.tif")
    (root / "img.txt").write_text(hitachi_sidecar(1000, "SE(U)"), encoding="cp1252")
    cli("scan", str(root), "--instrument", "SU8230", "--workers", "0", "--quiet")
    before = snapshot(root)
    refused(cli("export", str(root / "x.csv"), ok=False), "inside the archive")
    refused(cli("report", str(root / "report"), ok=False), "inside the archive")
    refused(cli("--catalog", str(root / "c.sqlite"), "pubs", "add", "local-1", ok=False), "no catalog")
    assert snapshot(root) == before
