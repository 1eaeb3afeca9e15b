"""`emcensus demo`: the main job end to end on an embedded default — a generated facility archive,
its facility file, the census, a publication ledger, Table 1 and the HTML report."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from emcensus.analysis.publications import read_ledger
from emcensus.catalog import Catalog
from emcensus.config import load_facility
from emcensus.demo.generate import INSTRUMENTS, generate_archive
from emcensus.demo.sidecars import TEM_CAMERA_WIDTH_NM
from emcensus.demo.manifest import MANIFEST_NAME, Manifest
from emcensus.errors import ConfigError
from emcensus.outputs import guard_output, whole_file
from emcensus.demo.publications import write_demo_ledger
from emcensus.report.build import build_report_data, catalog_table1
from emcensus.report.html import write_report
from emcensus.scan import scan

#: The paper counts acquisitions up to 2023.
DEMO_UNTIL = 2023
#: Size and seed of a new demo archive unless asked otherwise.
DEMO_IMAGES = 3000
DEMO_SEED = 2011


def write_facility_file(directory: Path, archive: Path) -> Path:
    """The demo facility's TOML, as a facility manager would write it for the three instruments."""
    lines = ['[facility]', 'name = "emcensus demo facility"', 'layout = "{group}/{project}/**"', ""]
    for name in (name for name in INSTRUMENTS if (archive / name).is_dir()):  # a tiny demo has fewer
        lines += ["[[instrument]]", f'name = "{name}"', f'roots = ["{os.path.relpath(archive / name, directory)}"]']
        if name == "HT7700":  # the width its camera's magnification refers to (the generator's camera)
            lines.append(f"magnification_reference_mm = {TEM_CAMERA_WIDTH_NM / 1e6}")
        lines.append("")
    path = directory / "facility.toml"
    with whole_file(path) as partial:
        partial.write_text("\n".join(lines), encoding="utf-8")
    return path


def demo_archive(archive: Path, images: int | None, seed: int | None, echo: Callable[[str], None]) -> Manifest:
    """The demo archive at `archive`: generated when absent, reused when its manifest matches the size
    and seed asked for (None: any), refused otherwise. Nothing emcensus did not generate is touched."""
    if images is not None and images < 1:
        raise ConfigError(f"a demo needs at least one image, not {images}")
    if not archive.exists() or not any(archive.iterdir()):
        images, seed = images or DEMO_IMAGES, DEMO_SEED if seed is None else seed
        echo(f"Generating a sample facility archive of {images:,} images in {archive} ...")
        return generate_archive(archive, images, seed=seed)
    try:
        manifest = Manifest.load(archive / MANIFEST_NAME)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{archive} exists but is not a demo archive emcensus generated ({exc}); "
                          "choose another demo folder") from exc
    if images not in (None, manifest.n_images) or seed not in (None, manifest.seed):
        raise ConfigError(
            f"{archive} holds a demo archive of {manifest.n_images:,} images (seed {manifest.seed}); reuse it with "
            "that size and seed, or choose another demo folder for a new one (emcensus never deletes an archive)"
        )
    echo(f"Reusing the sample facility archive of {manifest.n_images:,} images in {archive}.")
    return manifest


def run_demo(directory: Path, *, images: int | None = None, seed: int | None = None,
             echo: Callable[[str], None] = print) -> Path:
    """Generate (or reuse) the sample archive under `directory`, census it, import a demo ledger,
    print the census and Table 1, write the report to `directory/report`."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "archive"
    manifest = demo_archive(archive, images, seed, echo)
    facility = load_facility(write_facility_file(directory, archive))
    roots = [spec.path for spec in facility.root_specs()]
    catalog_path = directory / "census.sqlite"
    with Catalog(catalog_path, archives=roots) as catalog:
        summary = scan(catalog, facility.root_specs())
        echo(summary.paragraph())
        totals = catalog.audit()
        echo(f"\nCensus: {totals['acquisitions']:,} images ({totals['image_files']:,} files), by year and technique:")
        rows = catalog.count("year,technique")
        years = sorted({r["year"] for r in rows if r["year"] is not None})
        techniques = ("SEM", "TEM", "STEM")
        cells = {(r["year"], r["technique"]): r["count"] for r in rows}
        echo("  year " + "".join(f"{t:>8}" for t in techniques))
        for year in years:
            echo(f"  {year} " + "".join(f"{cells.get((year, t), 0):>8,}" for t in techniques))
        echo(
            f"\nAudit: {totals['no-metadata']:,} images without metadata, {totals['orphan-sidecars']:,} orphan sidecars, "
            f"{totals['duplicate-exports']:,} frames exported in several formats, "
            f"{totals['date-disagreement']:,} files whose metadata and file dates disagree."
        )
        ledger_path = write_demo_ledger(manifest, directory / "publications.csv", seed=manifest.seed)
        imported = catalog.import_ledger(read_ledger(ledger_path))
        echo(f"\nPublication ledger {ledger_path}: {imported.articles:,} articles, {imported.images:,} new image links, "
             f"{imported.counts:,} count-level rows.\n")
        echo(catalog_table1(catalog, until=DEMO_UNTIL).to_text())
        report_dir = guard_output(directory / "report", roots, what="report", folder=True)
        output = write_report(report_dir, build_report_data(catalog, until=DEMO_UNTIL, facility=facility.name),
                              roots)
        echo(f"Report: {output.index}")
        echo(f"\nCatalog: {catalog.path}. Try: emcensus --catalog {catalog.path} count --by year,instrument")
    return catalog_path
