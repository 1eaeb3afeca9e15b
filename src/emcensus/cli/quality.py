"""`emcensus quality`: per-image quality metrics and near-duplicate groups (issue 9)."""

from __future__ import annotations

import sys

import click

from emcensus.catalog import Catalog, display_path
from emcensus.cli.parallel import dask_client, parallel_options


@click.command()
@parallel_options("measure", file_timeout=("read and measure", "measured"))
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary; files not measured still go to stderr.")
@click.pass_context
def quality(ctx: click.Context, workers: int | None, dask_address: str | None, dask_timeout: float,
            file_timeout: float | None, quiet: bool) -> None:
    """Measure every catalogued image (blank, clipping, noise, sharpness, resolution, charging, drift),
    rank it among images of its instrument and magnification decade, and group near-duplicates.

    Incremental: a file whose size and time are unchanged is not read; a moved or copied file takes
    the metrics of its content. Filter on the result with `count --blank no --sharpness-pct 50-100`."""
    from emcensus.quality.runner import update_quality
    from emcensus.scan.pool import FILE_TIMEOUT_S

    show = not quiet and sys.stderr.isatty()
    with Catalog(ctx.find_root().obj["catalog"], create=False, verify=True) as catalog, \
            dask_client(dask_address, dask_timeout, exits_on_failure=True) as client:
        options = {"workers": workers, "executor": client.get_executor() if client else None,
                   "file_timeout": file_timeout or FILE_TIMEOUT_S}
        if show:
            from emcensus.cli.progress import RichScanProgress

            with RichScanProgress(label="quality") as bar:
                reported = [0]

                def progress(done: int, total: int) -> None:
                    if not reported[0]:
                        bar.queued(total)
                    bar.done(done - reported[0], 0)
                    reported[0] = done

                summary = update_quality(catalog, progress=progress, **options)
        else:
            summary = update_quality(catalog, **options)
    for path, why in summary.errors:
        click.echo(f"{display_path(path)}: not measured: {why}", err=True)
    if not quiet:
        click.echo(summary.paragraph())
