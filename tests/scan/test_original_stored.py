"""A census stores a plain Hitachi sidecar's text as its original metadata (schema 13): every reader of
the catalog (record, export, reuse rows) still gets the dict a direct read of the file gives."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from emcensus.catalog import Catalog
from emcensus.export import export_catalog
from emcensus.readers import read_metadata
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff


def _archive(root: Path) -> dict[Path, str | None]:
    """Images and what their metadata is stored as: a plain sidecar as text, the rest as JSON."""
    day = root / "group" / "2016-06-23"
    write_tiff(day / "plain.tif")
    (day / "plain.txt").write_text(hitachi_sidecar(40000, "SE(U)"), encoding="utf-8")
    write_tiff(day / "export.tif", seed=1)  # a frame saved twice shares its sidecar
    write_tiff(day / "export.tiff", seed=2)
    (day / "export.txt").write_text(hitachi_sidecar(500, "BSE").replace("Time=", "Media=HD[Data]\r\nTime="),
                                    encoding="cp1252")
    write_tiff(day / "two-sections.tif", seed=3)
    (day / "two-sections.txt").write_text(hitachi_sidecar(800, "SE") + "[Extra]\r\nMagnification=9\r\n")
    write_tiff(day / "no-sidecar.tif", seed=4)
    (day / "orphan.txt").write_text(hitachi_sidecar(300, "LA-BSE"), encoding="utf-16")
    return {day / "plain.tif": "hitachi-sem", day / "export.tif": "hitachi-sem", day / "export.tiff": "hitachi-sem",
            day / "two-sections.tif": None, day / "no-sidecar.tif": None, day / "orphan.txt": "hitachi-sem"}


def test_every_reader_of_the_catalog_gets_the_direct_read_s_dict(tmp_path: Path) -> None:
    forms = _archive(tmp_path / "archive")
    direct = {path: read_metadata(path).original_metadata for path in forms}
    assert direct[tmp_path / "archive/group/2016-06-23/two-sections.tif"]["Extra"] == {"Magnification": "9"}
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tmp_path / "archive"))], workers=0)
        stored = dict(catalog.db.execute("SELECT i.path, m.form FROM images i JOIN metadata m ON m.image_id = i.id"))
        assert stored == {str(path): form for path, form in forms.items()}
        text = catalog.db.execute("SELECT m.json FROM images i JOIN metadata m ON m.image_id = i.id WHERE i.path = ?",
                                  (str(tmp_path / "archive/group/2016-06-23/plain.tif"),)).fetchone()[0]
        assert text == hitachi_sidecar(40000, "SE(U)")  # the sidecar as written, not JSON

        for path, metadata in direct.items():
            assert catalog.record(str(path)).original_metadata == metadata, path.name
        reused = {item["path"]: item["original_metadata"] for item in catalog.reuse_candidates()}
        assert reused == {path: direct[Path(path)] for path in reused} and len(reused) >= 4
        for out in (tmp_path / "all.parquet", tmp_path / "all.csv"):
            assert export_catalog(catalog, out) == len(forms)
        table = pq.read_table(tmp_path / "all.parquet").to_pylist()
        assert {row["path"]: json.loads(row["original_metadata"]) for row in table} == {
            str(path): metadata for path, metadata in direct.items()}
        assert (tmp_path / "all.csv").read_text(encoding="utf-8").count("SemImageFile") == len(forms) - 1


def test_json_rows_of_earlier_catalogs_still_read(tmp_path: Path) -> None:
    """A catalog of schema 12 (JSON rows, no `form`) is migrated and read as it always was."""
    forms = _archive(tmp_path / "archive")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tmp_path / "archive"))], workers=0)
        with catalog.db:
            for path in forms:
                catalog.db.execute("UPDATE metadata SET json = ? WHERE image_id = (SELECT id FROM images WHERE path = ?)",
                                   (orjson.dumps(read_metadata(path).original_metadata).decode(), str(path)))
            catalog.db.execute("ALTER TABLE metadata DROP COLUMN form")
            catalog.db.execute("PRAGMA user_version = 12")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.db.execute("SELECT count(*) FROM metadata WHERE form IS NULL").fetchone()[0] == len(forms)
        for path in forms:
            assert catalog.record(str(path)).original_metadata == read_metadata(path).original_metadata
        export_catalog(catalog, tmp_path / "all.parquet")
        assert {row["path"]: json.loads(row["original_metadata"]) for row in pq.read_table(tmp_path / "all.parquet").to_pylist()} == {
            str(path): read_metadata(path).original_metadata for path in forms}
