"""`emcensus pubs`, `table1` and `lost`: the publication ledger and what it says about lost data."""

from __future__ import annotations

from pathlib import Path

import click

from emcensus.analysis.publications import (
    DEFAULT_VOCABULARY,
    SOURCES,
    Article,
    Ledger,
    article_id,
    read_bibliography,
    read_ledger,
)
from emcensus.analysis.table1 import DEFAULT_OUTLIER_THRESHOLD
from emcensus.catalog import Catalog
from emcensus.cli.output import emit, format_option, json_text
from emcensus.errors import LedgerError
from emcensus.report.build import LOSS_FIELDS, catalog_loss, catalog_table1

#: Columns of `pubs list` (the header of an empty list too).
SUMMARY_COLUMNS = ("id", "year", "source", "category", "subcategory", "journal", "title", "linked_images",
                   "counted_images")

until_option = click.option("--until", type=int, default=None, help="Last acquisition year (inclusive); the paper stops at 2023.")
outlier_option = click.option(
    "--outlier-threshold", type=click.IntRange(min=1), default=DEFAULT_OUTLIER_THRESHOLD, show_default=True,
    help="Table 1's restatement leaves out articles with more images than this.")


def _catalog(ctx: click.Context, readonly: bool = True) -> Catalog:
    return Catalog(ctx.find_root().obj["catalog"], readonly=readonly, create=False, verify=True)  # a scan makes one


def _is_scopus(path: Path) -> bool:
    """A Scopus export has a "Source title" column and no ledger "article" column."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().casefold()
    return "source title" in header and "article" not in header


def read_publications(path: Path, source: str | None) -> tuple[Ledger, bool]:
    """(ledger, fill_only): a ledger CSV overrides what the catalog knows, a bibliography only fills blanks."""
    if path.suffix.lower() != ".csv" or _is_scopus(path):
        return read_bibliography(path, source or "facility"), True
    ledger = read_ledger(path)
    if source:
        for article in ledger.articles:
            article.source = source
    return ledger, False


def _article_id(text: str) -> str:
    try:
        return article_id(text)
    except ValueError as exc:
        raise LedgerError(str(exc)) from exc


@click.group()
def pubs() -> None:
    """The publication ledger: which articles used which images (file level) or how many (count level)."""


@pubs.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(SOURCES), default=None,
              help="Mark every article as this (default: a ledger's source column, else facility).")
@click.pass_context
def import_(ctx: click.Context, file: Path, source: str | None) -> None:
    """Import a ledger CSV, or article metadata from BibTeX (.bib), RIS (.ris) or a Scopus CSV export.

    Refused rows are listed (row number and reason); the rest is imported in one transaction.
    """
    ledger, fill_only = read_publications(file, source)
    with _catalog(ctx, readonly=False) as catalog:
        result = catalog.import_ledger(ledger, fill_only=fill_only)
    for problem in result.problems:
        click.echo(f"{file}: {problem}", err=True)
    click.echo(f"imported {result.articles:,} article(s), {result.images:,} new image link(s), "
               f"{result.counts:,} count-level row(s) from {file}; {len(result.problems):,} row(s) refused")


@pubs.command()
@click.argument("article")
@click.option("--year", type=int)
@click.option("--title")
@click.option("--journal")
@click.option("--category", help=f"One of: {', '.join(DEFAULT_VOCABULARY.categories)}.")
@click.option("--subcategory")
@click.option("--authors")
@click.option("--source", type=click.Choice(SOURCES), default=None, help="Default: facility (kept when updating).")
@click.pass_context
def add(ctx: click.Context, article: str, year: int | None, title: str | None, journal: str | None,
        category: str | None, subcategory: str | None, authors: str | None, source: str | None) -> None:
    """Add ARTICLE (a DOI or a local id), or update the values given of a known one."""
    identifier = _article_id(article)
    with _catalog(ctx, readonly=False) as catalog:
        known = catalog.article(identifier)
        try:
            category, subcategory = DEFAULT_VOCABULARY.resolve(category or (known and known.category),
                                                               subcategory or (known and known.subcategory))
        except ValueError as exc:
            raise LedgerError(str(exc)) from exc
        catalog.save_article(Article(identifier, year, title, journal, category, subcategory,
                                     source or (known.source if known else "facility"), authors))
    click.echo(f"{'updated' if known else 'added'} article {identifier}")


@pubs.command()
@click.argument("article")
@click.argument("images", nargs=-1, required=True)
@click.option("--unlink", is_flag=True, help="Remove the links instead.")
@click.pass_context
def link(ctx: click.Context, article: str, images: tuple[str, ...], unlink: bool) -> None:
    """Record that ARTICLE shows IMAGES (paths absolute or relative to a scan root), or --unlink them."""
    identifier = _article_id(article)
    with _catalog(ctx, readonly=False) as catalog:
        if unlink:
            click.echo(f"removed {catalog.unlink_images(identifier, images):,} link(s) from {identifier}")
        else:
            click.echo(f"added {catalog.link_images(identifier, images):,} link(s) to {identifier}")


@pubs.command("list")
@format_option
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> None:
    """Every article with its linked (file-level) and counted (count-level) images."""
    with _catalog(ctx) as catalog:
        emit(catalog.article_summaries(), fmt, title="articles", columns=SUMMARY_COLUMNS)


@click.command()
@until_option
@outlier_option
@format_option
@click.pass_context
def table1(ctx: click.Context, until: int | None, outlier_threshold: int, fmt: str) -> None:
    """The paper's Table 1: images acquired (catalog), published (ledger) and lost, per technique.

    One window for both sides: with --until, published images are the linked images acquired up to
    that year, plus count-level rows of articles published up to it."""
    with _catalog(ctx) as catalog:
        table = catalog_table1(catalog, until, outlier_threshold)
    text = {"table": table.to_text, "json": lambda: json_text(table.to_dict()), "csv": table.to_csv}[fmt]()
    click.echo(text.rstrip("\n"))


@click.command()
@click.option("--by", "field", type=click.Choice(LOSS_FIELDS), default="year", show_default=True)
@until_option
@format_option
@click.pass_context
def lost(ctx: click.Context, field: str, until: int | None, fmt: str) -> None:
    """Lost data (images never used in a facility article) by one field."""
    with _catalog(ctx) as catalog:
        breakdown = catalog_loss(catalog, field, until)
    emit(breakdown.to_records(), fmt, title=f"lost data by {field}" + (f", acquired until {until}" if until else ""))
    for note in breakdown.notes():  # beside the table; on stderr so that CSV and JSON stay data
        click.echo(note, err=fmt != "table")
