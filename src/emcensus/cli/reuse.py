"""`emcensus reuse`: the unpublished images as a dataset (`export`), and a group's own report (`report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from emcensus.catalog import Catalog
from emcensus.catalog.query import ImageFilter
from emcensus.cli.filters import filter_options, filter_values
from emcensus.reuse.export import DEFAULT_EMBARGO_YEARS, ReuseOptions, export_reuse
from emcensus.reuse.pseudonyms import SECRET_ENV, facility_secret_file, load_secret, secret_outside
from emcensus.reuse.splits import DEFAULT_SESSION_GAP_MINUTES, DEFAULT_SPLITS
from emcensus.reuse.writers import FORMATS


@click.group()
def reuse() -> None:
    """Put the unpublished images to use: a dataset export, a per-group report."""


def _catalog(ctx: click.Context) -> Catalog:
    return Catalog(ctx.find_root().obj["catalog"], readonly=True, verify=True)


@reuse.command("export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--license", "license_id", required=True, help="SPDX licence of the dataset, e.g. CC-BY-4.0, CC0-1.0.")
@click.option("--embargo-years", type=click.FloatRange(min=0), default=DEFAULT_EMBARGO_YEARS, show_default=True,
              help="Years after acquisition before an image may be exported.")
@click.option("--splits", default=DEFAULT_SPLITS, show_default=True, help="train,validation,test percentages.")
@click.option("--seed", type=int, default=0, show_default=True, help="Another seed gives another split.")
@click.option("--include-published", is_flag=True, help="Also export images shown in articles.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="folder", show_default=True,
              help="folder (imagefolder), webdataset (tar shards) or parquet (image bytes inside).")
@click.option("--session-gap", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SESSION_GAP_MINUTES,
              show_default=True, help="Minutes between two images that end an acquisition session.")
@click.option("--secret-file", type=click.Path(dir_okay=False),
              help=f"File holding the facility secret for pseudonyms (else ${SECRET_ENV}); never exported.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Facility file whose [reuse] secret_file names the secret (when --secret-file is not given).")
@click.option("--name", "dataset_name", default="Unpublished electron micrographs", show_default=True,
              help="Dataset name in the card, Croissant and RO-Crate.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Processes (default: all cores; 0: this one).")
@filter_options
@click.pass_context
def export_command(ctx: click.Context, out: Path, license_id: str, embargo_years: float, splits: str, seed: int,
                   include_published: bool, fmt: str, session_gap: float, secret_file: str | None, config_path: str | None,
                   dataset_name: str,
                   workers: int | None, **kwargs: Any) -> None:
    """Export the unpublished, readable, non-blank images whose embargo has passed into OUT (a new or
    empty folder outside the archive), with splits, pseudonyms, Croissant, RO-Crate and a dataset card."""
    secret_file = secret_file or (config_path and facility_secret_file(config_path))
    secret = load_secret(secret_file)
    secret_outside(secret_file, out.resolve())
    options = ReuseOptions(license=license_id, embargo_years=embargo_years, splits=splits, seed=seed,
                           include_published=include_published, fmt=fmt, session_gap_minutes=session_gap,
                           name=dataset_name)
    image_filter = ImageFilter.from_kwargs(**filter_values(kwargs))
    with _catalog(ctx) as catalog:
        summary = export_reuse(catalog, out, options, secret, image_filter=image_filter, workers=workers)
    click.echo(summary.paragraph())


@reuse.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--group", required=True, help="The group (from the facility layout) the report is for.")
@click.pass_context
def report_command(ctx: click.Context, out: Path, group: str) -> None:
    """Write OUT.html: what GROUP took, what it published, its best unpublished images."""
    from emcensus.reuse.report import write_group_report

    with _catalog(ctx) as catalog:
        target = write_group_report(catalog, out, group)
    click.echo(f"wrote {target}")
