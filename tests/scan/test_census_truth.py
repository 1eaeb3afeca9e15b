"""The census of a generated facility archive against the generator's ground truth, file by file."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.config import load_facility
from emcensus.demo import Manifest, generate_archive
from emcensus.demo.run import write_facility_file
from emcensus.scan import scan


@pytest.fixture(scope="module")
def censused(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    directory = tmp_path_factory.mktemp("truth")
    manifest = generate_archive(directory / "archive", 600, seed=7)
    facility = load_facility(write_facility_file(directory, directory / "archive"))
    catalog_path = directory / "census.sqlite"
    with Catalog(catalog_path) as catalog:
        summary = scan(catalog, facility.root_specs(), workers=2)
        assert summary.complete and summary.errors == 0 and summary.warnings == 0
    return manifest, catalog_path


def test_totals_match_the_ground_truth(censused: tuple[Manifest, Path]) -> None:
    manifest, path = censused
    files_per_frame = Counter((os.path.dirname(f.path), Path(f.path).stem.casefold()) for f in manifest.files)
    with Catalog(path, readonly=True) as catalog:
        assert catalog.total(files=True) == len(manifest.files)
        assert catalog.total() == len(files_per_frame)  # a copy in another folder is an acquisition of its own
        audit = catalog.audit()
        assert audit["orphan-sidecars"] == len(manifest.orphan_sidecars)
        assert audit["no-metadata"] == sum(1 for f in manifest.files if not f.has_sidecar)
        assert audit["duplicate-exports"] == sum(1 for count in files_per_frame.values() if count > 1)
        assert audit["fov-disagreement"] == 0


def test_every_file_with_a_sidecar_is_read_as_generated(censused: tuple[Manifest, Path]) -> None:
    manifest, path = censused
    with Catalog(path, readonly=True) as catalog:
        rows = {row["path"]: row for row in catalog.images()}
    checked = 0
    for truth in manifest.files:
        if not truth.has_sidecar:
            continue
        row = rows[str(manifest.abspath(truth.path))]
        assert row["instrument"] == truth.instrument
        assert row["technique"] == truth.technique, truth.path
        if truth.technique != "TEM":
            assert row["detector_family"] == truth.detector_family, truth.path
        assert row["magnification"] == truth.magnification
        assert row["accelerating_voltage_v"] == pytest.approx(truth.accelerating_voltage_v)
        assert row["year"] == truth.year and row["acquired_at"] == truth.acquired_at[:19]
        assert row["acquired_at_source"] == "metadata"
        assert row["fov_m"] == pytest.approx(truth.pixel_size_m * truth.width, rel=1e-3)
        checked += 1
    assert checked > 400


def test_instrument_is_known_from_the_root_without_a_sidecar(censused: tuple[Manifest, Path]) -> None:
    manifest, path = censused
    with Catalog(path, readonly=True) as catalog:
        rows = {row["path"]: row for row in catalog.images()}
    bare = [f for f in manifest.files if not f.has_sidecar]
    assert bare, "the generator should leave some images without a sidecar"
    for truth in bare:
        row = rows[str(manifest.abspath(truth.path))]
        assert row["instrument"] == truth.instrument
        assert row["metadata_source"] == "none" and row["acquired_at_source"] in ("mtime", "metadata")
        if truth.instrument == "HT7700":
            assert row["technique"] == "TEM"
