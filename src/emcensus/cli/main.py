"""`emcensus` commands. Each one parses options, calls the library, prints; errors are turned into
messages in one place (`EmcensusGroup.invoke`)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from emcensus import __version__
from emcensus.catalog import AUDIT_KINDS, Catalog
from emcensus.catalog.query import GROUP_FIELDS, group_columns
from emcensus.cli.filters import filter_options, filter_values
from emcensus.cli.output import emit, format_option, json_text
from emcensus.cli.parallel import dask_client, parallel_options
from emcensus.cli.roots import root_options, root_specs
from emcensus.errors import EmcensusError

DEFAULT_CATALOG = "emcensus.sqlite"
#: What Ctrl-C prints, once, whatever the command was doing.
INTERRUPTED = "Interrupted: stopped (Ctrl-C)."


class EmcensusGroup(click.Group):
    """Turns every `EmcensusError`, and any operating-system error on a file it writes (a report
    folder where none can be made, a full disk), into a one-line message and exit status 1; Ctrl-C
    into one line and status 130 (the workers ignore it and are ended by the command; a scan goes on
    where it stopped when run again).

    Commands of other modules are named in `lazy` ("module:attribute") and imported when run or
    listed: `emcensus count` or a rescan does not load pyarrow, numpy and the exporters first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmcensusError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            ctx.exit(130)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc


@click.group(cls=EmcensusGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--catalog",
    "catalog_path",
    envvar="EMCENSUS_CATALOG",
    default=DEFAULT_CATALOG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Catalog file (SQLite). Also $EMCENSUS_CATALOG.",
)
@click.version_option(__version__, prog_name="emcensus")
@click.pass_context
def main(ctx: click.Context, catalog_path: str) -> None:
    """Census of electron-microscopy archives: what was acquired, what was published, what was lost."""
    ctx.obj = {"catalog": catalog_path}


def _open(ctx: click.Context, readonly: bool = True) -> Catalog:
    """The catalog, checked in full: a command runs once, and a damaged page must not give a plausible number."""
    return Catalog(ctx.obj["catalog"], readonly=readonly, verify=True)


# ---------------------------------------------------------------------------------------- scan
@main.command()
@root_options
@parallel_options("read", file_timeout=("read", "read"))
@click.option("--retry-unread", is_flag=True,
              help="Read again the files not read for a limit (memory cap, time budget, a worker that died), "
                   "unchanged as they are: after raising it. Damaged or unsupported files are not.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary (for cron); errors still go to stderr.")
@click.pass_context
def scan(ctx: click.Context, roots: tuple[str, ...], instrument: str | None, vendor: str | None, technique: str | None,
         layout: str | None, magnification_reference_mm: float | None, config_path: str | None, workers: int | None,
         dask_address: str | None, dask_timeout: float, file_timeout: float | None, retry_unread: bool, quiet: bool) -> None:
    """Census ROOTS (or the facility file's roots) into the catalog, read-only.

    Unchanged files are skipped, vanished ones marked missing; an interrupted scan resumes.
    """
    from emcensus.scan import FILE_TIMEOUT_S
    from emcensus.scan import scan as run_scan

    specs = root_specs(roots, instrument, vendor, technique, layout, magnification_reference_mm, config_path)
    show = not quiet and sys.stderr.isatty()
    # The catalog is checked (never in an archive, whole) before a cluster is waited for.
    with Catalog(ctx.obj["catalog"], archives=[spec.path for spec in specs]) as catalog, \
            dask_client(dask_address, dask_timeout, exits_on_failure=True) as client:
        options = {"executor": client.get_executor() if client else None, "workers": workers,
                   "file_timeout": file_timeout or FILE_TIMEOUT_S, "retry_unread": retry_unread}
        if show:
            from emcensus.cli.progress import RichScanProgress

            with RichScanProgress() as progress:
                summary = run_scan(catalog, specs, progress=progress, **options)
        else:
            summary = run_scan(catalog, specs, **options)
    if not quiet:
        click.echo(summary.paragraph())


# ---------------------------------------------------------------------------------------- count
@main.command()
@filter_options
@click.option("--by", default="", help=f"Group by field(s), comma-separated: {', '.join(GROUP_FIELDS)}.")
@click.option("--files", is_flag=True, help="Count image files instead of acquisitions (a tif + jpg of one frame counts twice).")
@format_option
@click.pass_context
def count(ctx: click.Context, by: str, files: bool, fmt: str, **kwargs: Any) -> None:
    """Count images: filter (the paper's P1 & P2 & P3) and/or group (its sorting into subarrays).

    By default counts acquisitions: a frame exported as tif + jpg + bmp is one image.
    """
    filters = filter_values(kwargs)
    with _open(ctx) as catalog:
        rows = catalog.count(by, files=files, **filters)
    unit = "image files" if files else "images (acquisitions)"
    emit(rows, fmt, title=f"{unit}" + (f" — {', '.join(f'{k}={v}' for k, v in filters.items())}" if filters else ""),
         columns=[*(name for name, _ in group_columns(by)), "count"])


# ---------------------------------------------------------------------------------------- inspect
@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--sidecar", type=click.Path(exists=True, dir_okay=False), help="Sidecar to use instead of the one found by stem.")
@click.option("--instrument", help="Instrument name, as a facility file would give it.")
@click.option("--json", "as_json", is_flag=True, help="Print the normalised record as JSON.")
def inspect(file: str, sidecar: str | None, instrument: str | None, as_json: bool) -> None:
    """Read one FILE (no catalog needed) and print its normalised record."""
    from emcensus.readers import read_metadata

    record = read_metadata(file, sidecar, instrument=instrument).to_dict()
    if as_json:
        click.echo(json_text(record))
        return
    emit([{"field": k, "value": v} for k, v in record.items() if k != "original_metadata"], "table", title=file)
    click.echo(f"original metadata: {len(json.dumps(record['original_metadata'], default=str)):,} bytes of JSON (--json shows it)")


# ---------------------------------------------------------------------------------------- audit
@main.command()
@click.option("--list", "kind", type=click.Choice(list(AUDIT_KINDS)), help="Print the entries of one list.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many entries.")
@format_option
@click.pass_context
def audit(ctx: click.Context, kind: str | None, limit: int | None, fmt: str) -> None:
    """Metadata completeness: images without metadata, orphan sidecars, unreadable files, duplicate
    exports, metadata-vs-file date disagreements, missing files, FOV disagreements."""
    with _open(ctx) as catalog:
        if kind:
            emit(catalog.audit_list(kind, limit), fmt, title=AUDIT_KINDS[kind], columns=catalog.audit_columns(kind))
            return
        counts = catalog.audit()
    rows = [{"list": k, "entries": v, "what": AUDIT_KINDS.get(k, "census total")} for k, v in counts.items()]
    emit(rows, fmt, title="metadata audit (emcensus audit --list NAME shows the entries)")


# ---------------------------------------------------------------------------------------- export
@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default=None,
              help="Default: from OUT's extension (.parquet or .csv).")
@click.pass_context
def export(ctx: click.Context, out: str, fmt: str | None) -> None:
    """Write the whole catalog (every file, present and missing, with original metadata as JSON) to
    Parquet or CSV, for DuckDB, Polars, pandas or Spark. OUT's folder must exist and be outside the archive."""
    from emcensus.export import export_catalog

    with _open(ctx) as catalog:
        rows = export_catalog(catalog, out, fmt)
    click.echo(f"wrote {rows:,} rows to {out}")


# ---------------------------------------------------------------------------------------- demo
@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="emcensus-demo", show_default=True,
              help="Where to generate the sample archive and its catalog.")
@click.option("--images", type=click.IntRange(min=1), default=None,
              help="Images in a new demo archive (default 3,000; paper scale: 152097). "
                   "An existing demo is reused, never generated over.")
@click.option("--seed", type=int, default=None, help="Seed of a new demo archive (default 2011).")
@click.pass_context
def demo(ctx: click.Context, directory: str, images: int | None, seed: int | None) -> None:
    """Generate a sample facility archive (SU8000, SU8230, HT7700), census it and report."""
    from emcensus.demo.run import run_demo

    run_demo(Path(directory), images=images, seed=seed, echo=click.echo)


main.lazy.update({
    "serve": "emcensus.cli.serve:serve",
    "pubs": "emcensus.cli.publications:pubs",
    "table1": "emcensus.cli.publications:table1",
    "lost": "emcensus.cli.publications:lost",
    "report": "emcensus.cli.report:report",
    "figures": "emcensus.cli.figures:figures",
    "storage": "emcensus.cli.storage:storage",
    "watch": "emcensus.cli.watch:watch",
    "reuse": "emcensus.cli.reuse:reuse",
    "quality": "emcensus.cli.quality:quality",
})

if __name__ == "__main__":  # pragma: no cover
    main()
