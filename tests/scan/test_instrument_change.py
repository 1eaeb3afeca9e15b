"""A root's instrument changed (facility file, `--instrument`): its files are read again once, so the
catalog says what a first census under the new instrument says (the technique or vendor a file
reports itself is not stored apart from the one the instrument implied: no recompute can tell them)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emcensus.analysis.publications import Article
from emcensus.catalog import Catalog
from emcensus.report.build import catalog_table1
from emcensus.scan import RootSpec, scan
from support import InterruptAfter, census_rows, hitachi_sidecar, write_tiff

FRAMES = [("g1/p1/a1", 5000), ("g1/p1/a2", 20000), ("g2/b1", 30000), ("g2/deep/b2", 50000)]


def _archive(root: Path) -> None:
    for seed, (stem, mag) in enumerate(FRAMES):
        write_tiff(root / f"{stem}.tif", seed=seed)
        (root / f"{stem}.txt").write_bytes(hitachi_sidecar(mag, "SE(U)").encode("cp1252"))
    write_tiff(root / "g2/plain.tif", seed=9)  # no sidecar: what the instrument implies is all it has


def _everything(catalog: Catalog) -> tuple:
    """The census as its readers see it: every row, the cubes by technique, instrument and vendor, Table 1."""
    return (census_rows(catalog),
            catalog.count(by=["technique", "instrument", "vendor"], include_missing=True),
            catalog.count(by=["technique", "year"]),
            catalog_table1(catalog).to_dict())


def _linked(catalog: Catalog, root: Path) -> None:
    catalog.save_article(Article("10.1/em", year=2020))
    catalog.link_images("10.1/em", [str(root / "g1/p1/a1.tif")])


@pytest.mark.parametrize("reading", ["in process", "pool", "executor"])
def test_an_instrument_changed_from_sem_to_tem_gives_the_census_of_a_first_scan(tmp_path: Path, reading: str) -> None:
    """Read in this process, by the local pool (its surveys read the catalog) or an executor (they
    get it with the task)."""
    root = tmp_path / "archive"
    _archive(root)
    with Catalog(tmp_path / "c.sqlite") as catalog, ThreadPoolExecutor(2) as threads:
        first = scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        _linked(catalog, root)
        assert {row["technique"] for row in catalog.images()} == {"SEM"}
        how = {"in process": {"workers": 0}, "pool": {"workers": 2}, "executor": {"executor": threads}}[reading]
        changed = scan(catalog, [RootSpec(str(root), "HT7700")], **how)
        assert (changed.read, changed.skipped, changed.missing) == (first.seen, 0, 0)  # read again, once
        again = scan(catalog, [RootSpec(str(root))], workers=0)  # the instrument held: nothing read
        assert (again.read, again.skipped) == (0, first.seen)
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [RootSpec(str(root), "HT7700")], workers=0)
            _linked(fresh, root)
            assert _everything(catalog) == _everything(fresh)
        assert {row["technique"] for row in catalog.images()} == {"TEM"}




@pytest.mark.parametrize("workers", [0, 2])
def test_a_scan_under_a_new_technique_stopped_midway_is_finished_by_the_next(tmp_path: Path, workers: int) -> None:
    """The change is saved before the walk; a scan stopped after some files must not leave the others
    with the old technique: the next scan, naming no instrument, reads them and gives a first census's catalog."""
    root = tmp_path / "archive"
    _archive(root)
    for seed in range(40):  # enough files for the stop to come before the last is written
        write_tiff(root / f"g3/f{seed % 4}/c{seed}.tif", seed=seed)
        (root / f"g3/f{seed % 4}/c{seed}.txt").write_bytes(hitachi_sidecar(1000 * (seed + 1), "SE(U)").encode("cp1252"))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        _linked(catalog, root)
        with pytest.raises(KeyboardInterrupt):
            scan(catalog, [RootSpec(str(root), "HT7700")], workers=workers, batch_size=1, progress=InterruptAfter(2))
        assert 0 < sum(row["technique"] == "TEM" for row in catalog.images()) < first.seen  # stopped midway
        assert catalog.scans()[0]["status"] == "interrupted"
        resumed = scan(catalog, [RootSpec(str(root))], workers=workers)
        assert resumed.complete and (resumed.read, resumed.skipped) == (first.seen, 0)  # the whole root again
        again = scan(catalog, [RootSpec(str(root))], workers=0)
        assert (again.read, again.skipped) == (0, first.seen)  # and then never again
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [RootSpec(str(root), "HT7700")], workers=0)
            _linked(fresh, root)
            assert _everything(catalog) == _everything(fresh)
