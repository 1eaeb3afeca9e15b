"""`emcensus figures`: find the archive images that articles publish (issue 8).

`index` builds the visual index of the catalogued images beside the catalog, `match` finds each
panel of the documents given and proposes its archive image, `accept` / `reject` decide, `list`
shows the queue. Accepted matches are ledger links of source 'matched' (Table 1, `lost`, report).
"""

from __future__ import annotations

from typing import Any

import click

from emcensus.catalog import Catalog
from emcensus.cli.output import emit, format_option
from emcensus.cli.parallel import dask_client, parallel_options, workers_option

#: Columns of `figures match --format table|csv` (JSON has every key of `FoundPanel.to_dict`).
MATCH_COLUMNS = ("article", "page", "image", "score", "inliers", "scale", "scale_bar_m", "panel_fov_m", "related",
                 "scale_bar_check")
#: Columns of `figures list`.
LIST_COLUMNS = ("id", "status", "article", "page", "image", "score", "inliers", "scale_bar_m", "panel_fov_m")


def _catalog(ctx: click.Context, readonly: bool = True) -> Catalog:
    return Catalog(ctx.find_root().obj["catalog"], readonly=readonly, create=False, verify=True)


@click.group()
def figures() -> None:
    """Find published images: article PDFs, figure images, .docx/.pptx/.odp → panels → archive images."""


@figures.command()
@parallel_options("extract", file_timeout=("read and extract", "indexed"))
@click.pass_context
def index(ctx: click.Context, workers: int | None, dask_address: str | None, dask_timeout: float,
          file_timeout: float | None) -> None:
    """Build or update the visual index of the catalogued images (CATALOG.figures/ beside the catalog).

    Incremental: only new or changed images are read; images gone from the catalog leave the index."""
    from emcensus.figures.index import update_index
    from emcensus.scan.pool import FILE_TIMEOUT_S

    with _catalog(ctx) as catalog, dask_client(dask_address, dask_timeout, exits_on_failure=True) as client:
        summary = update_index(catalog, ctx.find_root().obj["catalog"], workers=workers,
                               executor=client.get_executor() if client else None,
                               file_timeout=file_timeout or FILE_TIMEOUT_S)
    for path, why in summary.skipped:
        click.echo(f"{path}: not indexed: {why}", err=True)
    for path, why in summary.no_thumbnail:
        click.echo(f"{path}: no thumbnail (its keypoints stay indexed): {why}", err=True)
    click.echo(summary.paragraph())


@figures.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--all", "weaker", is_flag=True, help="Also list weaker candidates (not stored for review).")
@workers_option("Processes matching panels, sharing one loaded index")
@click.option("--panel-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds matching one panel may take (default: 120); a slower one is listed as not matched "
                   "(with --workers 0 by an alarm, which a hang inside a C library does not reach).")
@format_option
@click.pass_context
def match(ctx: click.Context, paths: tuple[str, ...], weaker: bool, workers: int | None, panel_timeout: float | None,
          fmt: str) -> None:
    """Match every panel of the documents PATHS (PDFs, images, .docx/.pptx/.odp; folders are walked)
    against the visual index, print the matches and store them for review (figures list/accept).

    A document that gives no figures (corrupt, encrypted, image-less, a zip bomb, one that crashes or
    hangs its reader) is one line on stderr; the others are processed. Pairs rejected before are not
    proposed again. The panels are matched on all cores (`--workers`), listed in the documents' order
    whatever the number of workers; a panel that crashes or hangs its worker is one line."""
    from emcensus.figures.index import VisualIndex, index_folder
    from emcensus.figures.match import PANEL_TIMEOUT_S, Matcher, match_documents

    catalog_path = ctx.find_root().obj["catalog"]
    with _catalog(ctx, readonly=False) as catalog:
        matcher = Matcher(VisualIndex.load(index_folder(catalog_path)))

        def year_of(article: str) -> int | None:
            known = catalog.article(article)
            return known.year if known else None

        found = list(match_documents(paths, matcher, year_of=year_of, weaker=weaker, workers=workers,
                                     warn=lambda line: click.echo(line, err=True),
                                     panel_timeout=panel_timeout or PANEL_TIMEOUT_S))
        catalog.save_figure_matches(f.proposed() for f in found if not f.weak)
    rows = [f.to_dict() | ({"weak": f.weak} if weaker else {}) for f in found]
    emit(rows, fmt, title="figure matches", columns=[*MATCH_COLUMNS, *(["weak"] if weaker else [])])


@figures.command()
@click.option("--min-score", type=float, default=0.0, show_default=True, help="Accept proposed matches scoring at least this.")
@click.pass_context
def accept(ctx: click.Context, min_score: float) -> None:
    """Accept proposed matches in bulk: each becomes a ledger link (source 'matched')."""
    with _catalog(ctx, readonly=False) as catalog:
        count = catalog.accept_figure_matches(min_score)
    click.echo(f"accepted {count:,} match(es) scoring at least {min_score:g}")


@figures.command()
@click.argument("ids", nargs=-1, required=True, type=int)
@click.pass_context
def reject(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Reject matches by id (see figures list): remembered, never proposed again; an accepted one's link goes."""
    with _catalog(ctx, readonly=False) as catalog:
        for match_id in ids:
            catalog.decide_figure_match(match_id, "rejected")
    click.echo(f"rejected {len(ids):,} match(es)")


@figures.command("list")
@click.option("--status", type=click.Choice(["proposed", "accepted", "rejected"]), default=None,
              help="Only matches with this status (default: all).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@format_option
@click.pass_context
def list_(ctx: click.Context, status: str | None, limit: int | None, fmt: str) -> None:
    """Stored matches, surest first."""
    with _catalog(ctx) as catalog:
        rows: list[dict[str, Any]] = catalog.figure_matches(status, limit=limit)
    emit(rows, fmt, title="figure matches", columns=LIST_COLUMNS)
