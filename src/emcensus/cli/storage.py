"""`emcensus storage`: bytes per year × instrument × technique × group, growth forecast, lost vs
published bytes, and the cost of the lost data under the facility file's `[costs]`."""

from __future__ import annotations

from pathlib import Path

import click

from emcensus.catalog import Catalog
from emcensus.catalog.query import group_columns
from emcensus.cli.output import emit, format_option, json_text
from emcensus.config import load_costs
from emcensus.errors import ConfigError
from emcensus.report.storage import STORAGE_BY, catalog_storage

SECTIONS = ("all", "breakdown", "growth", "lost", "costs")
_TITLES = {"breakdown": "storage by {by}", "growth": "yearly intake and forecast",
           "lost": "bytes of lost and published images", "costs": "cost of lost data"}


@click.command()
@click.option("--by", default=",".join(STORAGE_BY), show_default=True, help="Fields to break storage down by.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Facility file whose [costs] table prices instrument time and storage (no costs without it).")
@click.option("--section", type=click.Choice(SECTIONS), default="all", show_default=True,
              help="Print one part only (CSV holds one table: give a section).")
@format_option
@click.pass_context
def storage(ctx: click.Context, by: str, config_path: Path | None, section: str, fmt: str) -> None:
    """Storage of the archive, its growth and 3-year forecast, and what the lost data cost.

    Every number comes with its assumptions; a cost whose price or time is not given is unknown, not 0."""
    if fmt == "csv" and section == "all":
        raise ConfigError("CSV holds one table: give --section breakdown, growth, lost or costs")
    fields = [name for name, _ in group_columns(by)]  # an unknown field is refused here
    costs = load_costs(config_path) if config_path else None
    with Catalog(ctx.find_root().obj["catalog"], readonly=True, verify=True) as catalog:
        summary = catalog_storage(catalog, costs, by=fields)
    sections = summary.sections()
    if fmt == "json":
        click.echo(json_text(summary.to_dict() if section == "all" else sections[section]))
        return
    for name in SECTIONS[1:] if section == "all" else (section,):
        if name == "costs" and costs is None:
            click.echo("costs: none computed; give --config with a [costs] table (see README)",
                       err=fmt != "table")
            continue
        emit(sections[name], fmt, title=_TITLES[name].format(by=" × ".join(fields)))
        lines = summary.growth.assumptions() if name == "growth" else summary.notes if name == "lost" else []
        for line in lines:  # beside the table; on stderr so that CSV stays data
            click.echo(f"  {line}", err=fmt != "table")
