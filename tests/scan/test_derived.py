"""Derived columns: FOV by either route, the conditional scale bar and its decade, layout fields,
recomputation when a root's settings change, and the v1 → v2 migration."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from support import census_rows, hitachi_sidecar, write_tiff

from emcensus.analysis.layout import compile_layout
from emcensus.catalog import Catalog
from emcensus.catalog.derived import RootSettings, derive
from emcensus.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from emcensus.scan import RootSpec, scan


def _sidecar(mag: int, *, pixel_factor: float | None = 1.0) -> bytes:
    """A Hitachi sidecar whose PixelSize is `pixel_factor` × the right one (None: no PixelSize line)."""
    lines = []
    for line in hitachi_sidecar(mag, "SE(U)").split("\r\n"):
        if line.startswith("PixelSize="):
            if pixel_factor is None:
                continue
            line = f"PixelSize={float(line.split('=')[1]) * pixel_factor:.6g}"
        lines.append(line)
    return "\r\n".join(lines).encode("cp1252")


def _scan(tmp_path: Path, root: Path, **settings) -> Catalog:
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(catalog, [RootSpec(str(root), "SU8230", **settings)], workers=0)
    return catalog


def _row(catalog: Catalog, stem: str) -> dict:
    return next(row for row in catalog.images() if Path(row["path"]).stem == stem)


def test_fov_from_magnification_without_a_pixel_size(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "SU8230"
    write_tiff(root / "g/p/a.tif")
    (root / "g/p/a.txt").write_bytes(_sidecar(50000, pixel_factor=None))
    with _scan(tmp_path, root) as catalog:
        row = _row(catalog, "a")
    assert row["pixel_size_m"] is None and row["fov_source"] == "magnification"
    assert row["fov_m"] == pytest.approx(0.127 / 50000) == pytest.approx(row["fov_mag_m"])
    assert row["scale_bar_m"] == pytest.approx(0.1 * 0.127 / 50000)  # 254 nm
    assert row["scalebar_decade"] == "100 nm–1 µm" and row["fov_disagreement"] is None


def test_a_pixel_size_1000x_off_is_listed_in_the_audit(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "SU8230"
    for stem, factor in (("good", 1.0), ("bad", 1000.0)):
        write_tiff(root / f"g/p/{stem}.tif")
        (root / f"g/p/{stem}.txt").write_bytes(_sidecar(5000, pixel_factor=factor))
    with _scan(tmp_path, root) as catalog:
        assert _row(catalog, "good")["fov_source"] == "pixel-size"
        assert _row(catalog, "good")["fov_disagreement"] == pytest.approx(0, abs=1e-3)
        assert catalog.audit()["fov-disagreement"] == 1
        [entry] = catalog.audit_list("fov-disagreement")
    assert entry["path"].endswith("bad.tif")
    assert entry["fov_pixel_size_m"] == pytest.approx(1000 * entry["fov_magnification_m"], rel=1e-3)
    assert "unit error" in entry["reason"]


def test_count_by_scalebar_decade_in_size_order(tiny_archive: Path, tmp_path: Path) -> None:
    with _scan(tmp_path, tiny_archive) as catalog:
        rows = catalog.count("scalebar_decade")
        # 5000× → 25.4 µm FOV → 2.54 µm bar; 50000× and 100000× → 254 and 127 nm; 200000× → 63.5 nm
        assert rows == [
            {"scalebar_decade": "10–100 nm", "count": 1},
            {"scalebar_decade": "100 nm–1 µm", "count": 2},
            {"scalebar_decade": "1–10 µm", "count": 1},
            {"scalebar_decade": None, "count": 1},  # the image without a sidecar: no FOV
        ]
        assert catalog.total(scalebar_decade="100nm-1um") == 2
        assert catalog.total(fov="1um-2um") == 1  # 1.27 µm (100000×)
        assert catalog.total(fov="1um-") == 3


def test_layout_fields_and_recompute_when_root_settings_change(tiny_archive: Path, tmp_path: Path) -> None:
    with _scan(tmp_path, tiny_archive, layout="{group}/{project}/**") as catalog:
        assert catalog.count("group,project") == [
            {"group": "groupA", "project": "p1", "count": 2},
            {"group": "groupB", "project": "p2", "count": 3},
        ]
        assert catalog.total(project="p2", technique="STEM") == 2
        before = _row(catalog, "img001")["fov_mag_m"]
    # A rescan with other settings recomputes every image of the root, unchanged files included.
    with _scan(tmp_path, tiny_archive, layout="{project}/**", magnification_reference_m=0.254) as catalog:
        assert catalog.count("group,project")[0] == {"group": None, "project": "groupA", "count": 2}
        assert _row(catalog, "img001")["fov_mag_m"] == pytest.approx(2 * before)
        assert catalog.roots()[0]["layout"] == "{project}/**"
        # Pixel sizes follow 127 mm, the reference now says 254: every file with a sidecar (img001 twice),
        # and the orphan sidecar's acquisition, whose metadata is checked like any other.
        assert catalog.audit()["fov-disagreement"] == 6


def test_a_new_instrument_reaches_every_row_of_the_root_without_a_read(tiny_archive: Path, tmp_path: Path) -> None:
    """A root given another instrument (facility file, --instrument) of the same vendor and technique:
    its files are not read again, but every row, the census cubes (`count --by instrument`, Table 1)
    and the missing rows take the new instrument, as a first census with it gives."""
    root = str(tiny_archive)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(root, "SU8230")], workers=0)
        assert {row["instrument"] for row in catalog.count("instrument")} == {"SU8230"}
        gone = next(row["path"] for row in catalog.images() if Path(row["path"]).stem == "img001")
        os.remove(gone)  # its row stays, missing
        assert scan(catalog, [RootSpec(root, "SU8230")], workers=0).missing == 1
        renamed = scan(catalog, [RootSpec(root, "Regulus8100")], workers=0)
        assert renamed.read == 0
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [RootSpec(root, "Regulus8100")], workers=0)
            assert catalog.count("instrument") == fresh.count("instrument") == [
                {"instrument": "Regulus8100", "count": catalog.total()}]
            present = {row["path"]: row["instrument"] for row in catalog.images()}
            assert present == {row["path"]: row["instrument"] for row in fresh.images()}
        assert {row["instrument"] for row in catalog.images(include_missing=True)} == {"Regulus8100"}
        assert catalog.count("instrument", include_missing=True)[0]["instrument"] == "Regulus8100"


def test_a_rescan_without_settings_reads_with_those_the_root_holds(tiny_archive: Path, tmp_path: Path) -> None:
    """A setting not given keeps its stored value: a file added to a TEM root and read by a rescan that
    names no instrument gets the root's instrument and technique, not its own sidecar's SEM model."""
    root = str(tiny_archive)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(root, "HT7700")], workers=0)
        write_tiff(tiny_archive / "groupA/p1/2016-06-23/img009.tif", seed=9)
        (tiny_archive / "groupA/p1/2016-06-23/img009.txt").write_bytes(_sidecar(20000))
        assert scan(catalog, [RootSpec(root)], workers=0).read == 1
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [RootSpec(root, "HT7700")], workers=0)
            assert census_rows(catalog) == census_rows(fresh)
            assert (_row(catalog, "img009")["instrument"], _row(catalog, "img009")["technique"]) == ("HT7700", "TEM")


def test_a_v1_catalog_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO roots(id, path, instrument, vendor, technique, added_at) "
                   "VALUES (1, '/archive/SU8230', 'SU8230', 'Hitachi', 'SEM', '2024-01-01')")
        db.execute("INSERT INTO scans(id, started_at, roots, status) VALUES (1, '2024-01-01', '[]', 'complete')")
        db.execute(
            """INSERT INTO images(path, root_id, rel_path, acquisition_key, is_primary, status, technique, vendor,
               magnification, year, size_bytes, mtime_ns, readable, first_seen_scan)
               VALUES ('/archive/SU8230/g/p/a.tif', 1, 'g/p/a.tif', 'k', 1, 'present', 'SEM', 'Hitachi',
                       10000, 2019, 123, 0, 1, 1)""")
    db.close()
    with Catalog(path) as catalog:
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert catalog.count("year,technique") == [{"year": 2019, "technique": "SEM", "count": 1}]
        assert catalog.scans()[0]["status"] == "complete"
        row = catalog.images()[0]
        assert row["fov_m"] == pytest.approx(0.127 / 10000) and row["scalebar_decade"] == "1–10 µm"
        assert catalog.articles() == []


def test_derived_columns_are_the_same_when_the_fov_part_comes_from_the_cache() -> None:
    """`derive` caches its FOV part by its inputs: a repeat gives the same values, its own dict,
    the layout fields of its own path, and a warning that quotes the value as it came (int or float)."""
    settings = RootSettings(vendor="Hitachi", technique="SEM", layout=compile_layout("{group}/{project}/**"))
    first = derive(settings, "smith/alloys/a.tif", "Hitachi", "SEM", 2.48e-9, 1280, 40000)
    again = derive(settings, "jones/films/b.tif", "Hitachi", "SEM", 2.48e-9, 1280, 40000)
    assert first["fov_m"] == pytest.approx(2.48e-9 * 1280) and first["fov_source"] == "pixel-size"
    assert {k: v for k, v in again.items() if k not in ("group_name", "project")} == {
        k: v for k, v in first.items() if k not in ("group_name", "project")}
    assert (first["group_name"], first["project"], again["group_name"], again["project"]) == (
        "smith", "alloys", "jones", "films")
    first["fov_m"] = None  # a caller's change stays in its own dict
    assert derive(settings, "smith/alloys/a.tif", "Hitachi", "SEM", 2.48e-9, 1280, 40000)["fov_m"] is not None
    as_int = derive(settings, "a.tif", "Hitachi", "SEM", None, None, 10**12).warnings
    as_float = derive(settings, "a.tif", "Hitachi", "SEM", None, None, 1e12).warnings
    assert as_int != as_float and "1000000000000" in as_int[0] and "1000000000000.0" in as_float[0]


def test_rows_built_in_the_reading_processes_follow_the_settings_the_command_leaves(tiny_archive: Path,
                                                                                    tmp_path: Path) -> None:
    """A census's rows are built in its reading processes from the root's settings as the catalog
    holds them once every root is registered: a root named twice with a new layout and reference is
    read with the last, and a rescan with new settings writes its new rows with them, exactly as an
    in-process census of those settings does (and as recomputing the root from them gives)."""
    root = str(tiny_archive)
    with Catalog(tmp_path / "pooled.sqlite") as pooled:
        scan(pooled, [RootSpec(root, "SU8230", layout="{project}/*/*"),
                      RootSpec(root, layout="{group}/{project}/*", magnification_reference_m=0.1)], workers=2)
        with Catalog(tmp_path / "expected.sqlite") as expected:
            scan(expected, [RootSpec(root, "SU8230", layout="{group}/{project}/*", magnification_reference_m=0.1)],
                 workers=0)
            assert census_rows(pooled) == census_rows(expected)
        assert {row["group_name"] for row in pooled.images()} == {"groupA", "groupB"}

        write_tiff(tiny_archive / "groupA/p1/2016-06-23/img009.tif", seed=9)
        (tiny_archive / "groupA/p1/2016-06-23/img009.txt").write_bytes(_sidecar(20000))
        assert scan(pooled, [RootSpec(root, "SU8230", layout="{project}/{group}/*")], workers=2).read == 1
        with Catalog(tmp_path / "fresh.sqlite") as fresh:
            scan(fresh, [RootSpec(root, "SU8230", layout="{project}/{group}/*", magnification_reference_m=0.1)],
                 workers=0)
            assert census_rows(pooled) == census_rows(fresh)
        assert {row["group_name"] for row in pooled.images()} == {"p1", "p2"}
        rows = census_rows(pooled)
        with pooled.db:
            pooled._recompute_root(pooled.roots()[0]["id"])  # noqa: SLF001 - what the settings derive
        assert census_rows(pooled) == rows
