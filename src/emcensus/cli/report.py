"""`emcensus report`: the self-contained HTML report, its figures and every number as CSV/JSON."""

from __future__ import annotations

from pathlib import Path

import click

from emcensus.catalog import Catalog
from emcensus.catalog.connection import archive_roots
from emcensus.cli.publications import outlier_option, until_option
from emcensus.config import load_costs
from emcensus.outputs import guard_output
from emcensus.report.build import build_report_data
from emcensus.report.html import write_report


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@until_option
@outlier_option
@click.option("--facility", "facility_name", default="facility", show_default=True, help="Name shown in the report.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Facility file whose [costs] table adds the cost of the lost data to the Storage section.")
@click.pass_context
def report(ctx: click.Context, out_dir: Path, until: int | None, outlier_threshold: int, facility_name: str,
           config_path: Path | None) -> None:
    """Write OUT_DIR/index.html (figures inline), OUT_DIR/figures (PNG, SVG) and OUT_DIR/data (CSV, JSON)."""
    costs = load_costs(config_path) if config_path else None
    with Catalog(ctx.find_root().obj["catalog"], readonly=True, verify=True) as catalog:
        archives = archive_roots(catalog.db)
        guard_output(out_dir, archives, what="report", folder=True)  # before the numbers are computed
        data = build_report_data(catalog, until=until, facility=facility_name, outlier_threshold=outlier_threshold,
                                 costs=costs)
    output = write_report(out_dir, data, archives)
    click.echo(f"wrote {output.index} ({len(output.figures)} figure files, {len(output.data)} data files)")
