"""A scan's own writes do not cost the next command a full `quick_check`; anyone else's change does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from emcensus.catalog import Catalog, connection
from emcensus.cli.main import main
from emcensus.errors import CatalogError
from emcensus.scan import RootSpec, scan


def damage_a_page(path: Path) -> None:
    """Zero the header of the original-metadata table's root page, as a bad disk block would."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metadata'").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(bytes(12))


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every catalog a `quick_check` ran on, in order (the real check still runs)."""
    seen: list[str] = []
    real = connection._quick_check

    def counted(db: connection.CatalogConnection) -> list[str]:
        seen.append(db.catalog_path)
        return real(db)

    monkeypatch.setattr(connection, "_quick_check", counted)
    return seen


def _scan(path: Path, archive: Path) -> None:
    with Catalog(path, archives=[archive]) as catalog:
        scan(catalog, [RootSpec(str(archive), "SU8230")], workers=0)


def test_a_scan_restamps_what_it_wrote(tiny_archive: Path, tmp_path: Path, quick_checks: list[str]) -> None:
    catalog_path = tmp_path / "census.sqlite"
    _scan(catalog_path, tiny_archive)  # a new catalog: whole by construction, nothing to check
    (tiny_archive / "groupA" / "p1" / "2016-06-23" / "img001.txt").unlink()  # the rescan writes
    _scan(catalog_path, tiny_archive)
    reply = CliRunner().invoke(main, ["--catalog", str(catalog_path), "count"])
    assert reply.exit_code == 0, reply.output
    assert quick_checks == []
    damage_a_page(catalog_path)  # changed by someone else after the scan: checked and refused
    with pytest.raises(CatalogError, match="is damaged"):
        _scan(catalog_path, tiny_archive)
    assert quick_checks == [str(catalog_path)]
    reply = CliRunner().invoke(main, ["--catalog", str(catalog_path), "count"])
    assert reply.exit_code != 0 and "damaged" in reply.output
    assert quick_checks == [str(catalog_path)] * 2


def test_a_stale_stamp_is_checked_once_then_restamped(tiny_archive: Path, tmp_path: Path,
                                                      quick_checks: list[str]) -> None:
    catalog_path = tmp_path / "census.sqlite"
    _scan(catalog_path, tiny_archive)
    Path(f"{catalog_path}.verified").unlink()  # e.g. a catalog copied from elsewhere
    _scan(catalog_path, tiny_archive)
    _scan(catalog_path, tiny_archive)
    assert quick_checks == [str(catalog_path)]


def test_a_scan_that_failed_leaves_no_stamp(tiny_archive: Path, tmp_path: Path, quick_checks: list[str]) -> None:
    catalog_path = tmp_path / "census.sqlite"
    with pytest.raises(RuntimeError), Catalog(catalog_path, archives=[tiny_archive]) as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        raise RuntimeError("interrupted")
    assert not Path(f"{catalog_path}.verified").exists()
    Catalog(catalog_path, readonly=True, verify=True).close()
    assert quick_checks == [str(catalog_path)]
