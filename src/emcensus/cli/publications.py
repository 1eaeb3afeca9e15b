"""`emcensus pubs`, `table1` and `lost`: the publication ledger and what it says about lost data."""

from __future__ import annotations

from pathlib import Path

import click

from emcensus.access import read_bounded, read_head
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
from emcensus.analysis.topics import (
    MIN_LABELS,
    classify,
    cross_check,
    default_lexicon,
    default_lexicon_text,
    parse_lexicon,
)
from emcensus.catalog import Catalog
from emcensus.cli.output import emit, format_option, json_text
from emcensus.errors import ConfigError, LedgerError, UnreadableFileError
from emcensus.report.build import LOSS_FIELDS, catalog_loss, catalog_table1

#: Columns of `pubs list` (the header of an empty list too).
SUMMARY_COLUMNS = ("id", "year", "source", "category", "subcategory", "journal", "title", "linked_images",
                   "counted_images", "category_source", "category_confidence", "needs_review")
#: `pubs list` as a table: a classified category's confidence and review flag go into its
#: `category_source` cell, so that a long article id still prints whole on one line.
SUMMARY_TABLE_COLUMNS = SUMMARY_COLUMNS[:-2]
#: Columns of `pubs classify`.
CLASSIFY_COLUMNS = ("id", "title", "category", "subcategory", "confidence", "needs_review", "method")
#: A lexicon lists words per topic: anything near this size is not one.
MAX_LEXICON_BYTES = 1 << 20
#: A CSV's header line is read to tell a Scopus export from a ledger; a line longer than this is neither.
MAX_HEADER_BYTES = 64 * 1024

until_option = click.option("--until", type=int, default=None, help="Last acquisition year (inclusive); the paper stops at 2023.")
outlier_option = click.option(
    "--outlier-threshold", type=click.IntRange(min=1), default=DEFAULT_OUTLIER_THRESHOLD, show_default=True,
    help="Table 1's restatement leaves out articles with more images than this.")


def _catalog(ctx: click.Context, readonly: bool = True) -> Catalog:
    return Catalog(ctx.find_root().obj["catalog"], readonly=readonly, create=False, verify=True)  # a scan makes one


def _is_scopus(path: Path) -> bool:
    """A Scopus export has a "Source title" column and no ledger "article" column."""
    try:
        head = read_head(path, MAX_HEADER_BYTES)
    except UnreadableFileError as exc:
        raise LedgerError(f"cannot read {path}: {exc}") from exc
    header = head.decode("utf-8-sig", errors="replace").partition("\n")[0].casefold()
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
        summaries = catalog.article_summaries()
    if fmt == "table":
        emit([_summary_for_people(row) for row in summaries], fmt, title="articles", columns=SUMMARY_TABLE_COLUMNS)
    else:
        emit(summaries, fmt, title="articles", columns=SUMMARY_COLUMNS)


def _summary_for_people(row: dict) -> dict:
    """One `category_source` cell for a table: "classified 0.82, review" for a proposal to check."""
    if row["category_source"] != "classified":
        return row
    confidence = row["category_confidence"]
    cell = "classified" if confidence is None else f"classified {confidence:.2f}"
    return {**row, "category_source": f"{cell}, review" if row["needs_review"] else cell}


def _lexicon(path: Path | None) -> dict:
    """The lexicon of `--lexicon FILE` (read under the file-access policy), else the shipped one."""
    if path is None:
        return default_lexicon()
    try:
        return parse_lexicon(read_bounded(path, MAX_LEXICON_BYTES, "lexicon").decode("utf-8"), name=str(path))
    except (UnreadableFileError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"lexicon {path}: {exc}") from exc


@pubs.command("classify")
@click.option("--lexicon", "lexicon_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Topic lexicon TOML (default: the shipped one; `emcensus pubs lexicon` prints it to edit).")
@click.option("--min-labels", type=click.IntRange(min=3), default=MIN_LABELS, show_default=True,
              help="Ledger-labelled articles every class needs before a calibrated regression decides it.")
@click.option("--dry-run", is_flag=True, help="Show the proposals without storing them.")
@click.option("--check", is_flag=True,
              help="Only measure: hide the ledger's labels fold by fold (5 folds) and say how many come back.")
@format_option
@click.pass_context
def classify_(ctx: click.Context, lexicon_path: Path | None, min_labels: int, dry_run: bool, check: bool,
              fmt: str) -> None:
    """Propose a category and subcategory for every article the ledger leaves uncategorised.

    Reads title, abstract and keywords (offline: TF-IDF against the lexicon and the ledger's own
    labels). A category the ledger gives is never changed; proposals are stored as 'classified'
    with their confidence, and the doubtful ones are marked "needs review"."""
    lexicon = _lexicon(lexicon_path)
    if check:
        with _catalog(ctx) as catalog:
            score, labelled = cross_check(catalog.topic_inputs(), lexicon, min_labels=min_labels)
        click.echo(f"category macro-F1 {score:.3f} over {labelled:,} ledger-labelled article(s), each hidden once "
                   "(5 folds)" if score is not None else
                   f"no check: {labelled:,} ledger-labelled article(s), at least 5 are needed")
        return
    with _catalog(ctx, readonly=dry_run) as catalog:
        inputs = catalog.topic_inputs()
        results = classify(inputs, lexicon, min_labels=min_labels)
        stored = 0 if dry_run else catalog.save_classifications(results)
    titles = {item.id: item.title for item in inputs}
    emit([{**r.to_dict(), "title": titles[r.id]} for r in results], fmt, title="proposed topics",
         columns=CLASSIFY_COLUMNS)
    labelled = sum(item.label is not None for item in inputs)
    click.echo(f"{len(results):,} article(s) classified, {sum(r.needs_review for r in results):,} need review; "
               f"{labelled:,} ledger label(s) used, none changed; "
               + ("nothing stored (--dry-run)" if dry_run else f"{stored:,} stored"), err=fmt != "table")


@pubs.command("lexicon")
def lexicon_() -> None:
    """Print the shipped topic lexicon (TOML), to save, edit and pass to `pubs classify --lexicon`."""
    click.echo(default_lexicon_text(), nl=False)


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
