"""The paper-scale catalog the report and dashboard benchmarks run on: the generated 152,097-image
archive, censused, with the demo publication ledger imported. Built once, reused after."""

from __future__ import annotations

import tempfile
from pathlib import Path

from emcensus.analysis.publications import read_ledger
from emcensus.catalog import Catalog
from emcensus.demo import Manifest, generate_archive
from emcensus.demo.publications import write_demo_ledger
from emcensus.config import load_facility
from emcensus.demo.run import write_facility_file
from emcensus.scan import scan

ARCHIVE = Path(tempfile.gettempdir()) / "paper-archive"
CATALOG = Path(tempfile.gettempdir()) / "paper-census" / "census.sqlite"


def paper_catalog(archive: Path = ARCHIVE, catalog_path: Path = CATALOG, images: int = 152_097) -> Path:
    if catalog_path.exists():
        return catalog_path
    if not (archive / "manifest.json").exists():
        print(f"generating {images:,} images into {archive} ...", flush=True)
        generate_archive(archive, images)
    print(f"censusing {archive} into {catalog_path} ...", flush=True)
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    with Catalog(catalog_path) as catalog:
        facility = load_facility(write_facility_file(catalog_path.parent, archive))
        roots = facility.root_specs()
        scan(catalog, roots)
        ledger = write_demo_ledger(Manifest.load(archive), catalog_path.parent / "publications.csv")
        catalog.import_ledger(read_ledger(ledger))
    return catalog_path
