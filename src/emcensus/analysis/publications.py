"""The publication ledger: which articles used which images, and article metadata from bibliographies.

A ledger is a CSV file, one row per published image:

    article,year,image[,title,journal,category,subcategory,source,technique,count]
    10.3390/chemistry7050160,2025,SU8230/groupA/p1/img001.tif,...
    local-42,2019,,,,,,,TEM,12                     <- count level: technique + count, no image

Rows that cannot be used are reported one by one (row number + reason) and the rest is kept, so one
typo does not hide a thousand good rows. Row numbers are spreadsheet rows: the header is row 1.

BibTeX, RIS and Scopus CSV files only bring article metadata (title, journal, year, abstract,
keywords); `merge_articles` fills the ledger's gaps from them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from emcensus.access import read_bounded
from emcensus.errors import LedgerError, UnreadableFileError
from emcensus.vocab import TECHNIQUES

SOURCES = ("facility", "third-party")

#: The paper's five categories and their subcategories (section 2.4); a facility may replace them.
DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Materials": (
        "Membranes and porous materials",
        "Composite and hybrid materials",
        "Soft materials",
        "Biomaterials",
        "Polymer materials",
        "Minerals and ceramics",
        "Carbon materials",
        "Metal particles on carbon supports",
        "Metallic nanoparticles",
        "Nonmetallic nanoparticles",
    ),
    "Catalysis": ("Heterogeneous catalysis", "Homogeneous catalysis and nanocatalysis"),
    "Organic chemistry": (),
    "Ionic liquids": (),
    "Microscopic control": (),
}


def _fold(text: str) -> str:
    """Spelling-insensitive key: case, '&' vs 'and', hyphens and spacing do not matter."""
    text = text.casefold().replace("&", " and ").replace("-", " ").replace("_", " ")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class CategoryVocabulary:
    """Allowed categories and subcategories; spelling variants resolve to the canonical names."""

    categories: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))

    def resolve(self, category: str | None, subcategory: str | None) -> tuple[str | None, str | None]:
        """Canonical (category, subcategory); ValueError naming the allowed values otherwise."""
        if not category:
            if subcategory:
                raise ValueError(f"subcategory {subcategory!r} given without a category")
            return None, None
        by_key = {_fold(name): name for name in self.categories}
        canonical = by_key.get(_fold(category))
        if canonical is None:
            raise ValueError(f"unknown category {category!r} (known: {', '.join(self.categories)})")
        if not subcategory:
            return canonical, None
        subs = {_fold(name): name for name in self.categories[canonical]}
        sub = subs.get(_fold(subcategory))
        if sub is None:
            known = ", ".join(self.categories[canonical]) or "none"
            raise ValueError(f"unknown subcategory {subcategory!r} of {canonical} (known: {known})")
        return canonical, sub


DEFAULT_VOCABULARY = CategoryVocabulary()


@dataclass(slots=True)
class Article:
    """A published article; `id` is its bare lower-case DOI, or a local id when it has none."""

    id: str
    year: int | None = None
    title: str | None = None
    journal: str | None = None
    category: str | None = None
    subcategory: str | None = None
    source: str = "facility"  # "facility" | "third-party"
    authors: str | None = None
    abstract: str | None = None  # from a bibliography: what `pubs classify` reads besides the title
    keywords: str | None = None  # "; "-separated

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class PublishedImage:
    """A file-level entry: this archive file appears in this article.

    `path` is as written in the ledger: absolute, or relative to a scan root. `technique` is only
    needed when the catalog cannot tell (a third-party image that is not in the archive)."""

    article: str
    path: str
    technique: str | None = None
    row: int | None = field(default=None, compare=False)  # ledger row, for problems found on import


@dataclass(frozen=True, slots=True)
class PublishedCount:
    """A count-level entry: this article shows `count` images of `technique` (None: unknown)."""

    article: str
    technique: str | None
    count: int


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row or record of an input file was not used."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass(slots=True)
class Ledger:
    """Everything read from a ledger or bibliography, plus the rows that were refused."""

    articles: list[Article] = field(default_factory=list)
    images: list[PublishedImage] = field(default_factory=list)
    counts: list[PublishedCount] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    source_name: str = ""

    def raise_for_problems(self) -> None:
        """For callers that want all-or-nothing: one LedgerError listing every refused row."""
        if self.problems:
            listing = "\n".join(f"  {p}" for p in self.problems)
            raise LedgerError(f"{self.source_name or 'ledger'}: {len(self.problems)} row(s) refused:\n{listing}")


_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def normalise_doi(text: str | None) -> str | None:
    """Bare lower-case DOI from `10.x/y`, `doi:10.x/y` or a doi.org URL; None when it is not a DOI."""
    if not text:
        return None
    match = _DOI.match(text.strip())
    return match.group(1).lower() if match else None


def article_id(text: str) -> str:
    """Ledger identity of an article: its normalised DOI, else the local id as written.

    ValueError for an id that is empty or holds control characters (a line break, a tab)."""
    identifier = normalise_doi(text) or text.strip()
    if not identifier:
        raise ValueError("an article needs an id (a DOI or a local id); it is empty")
    if any(ord(char) < 32 or ord(char) == 127 for char in identifier):
        raise ValueError(f"article id {identifier!r} holds control characters")
    return identifier


def check_article(article: Article) -> Article:
    """The rules every stored article obeys, whether it comes from a ledger row or `pubs add`:
    a non-empty id and a year in YEAR_RANGE. ValueError says which is broken."""
    article_id(article.id)
    if article.year is not None:
        check_year(article.year)
    return article


#: Years an article (and a filter) may name: the same bounds for a ledger row, `pubs add` and `count`.
YEAR_RANGE = (1900, 2100)


def check_year(year: int) -> int:
    """`year` when it lies in YEAR_RANGE; ValueError otherwise (one rule for import and `pubs add`)."""
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise ValueError(f"year {year} is not a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
    return year


def _parse_year(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d{4})(?:[-/].*)?\s*", text)
    if not match:
        raise ValueError(f"year {text.strip()!r} is not a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
    return check_year(int(match.group(1)))


def _parse_source(text: str | None) -> str:
    if not text or not text.strip():
        return "facility"
    value = "-".join(_fold(text).split())
    value = "third-party" if value in ("thirdparty", "third-party", "external") else value
    if value not in SOURCES:
        raise ValueError(f"source {text.strip()!r} must be 'facility' or 'third-party'")
    return value


def _parse_technique(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    value = text.strip().upper()
    if value == "S(T)EM":
        value = "SEM"
    if value not in TECHNIQUES:
        raise ValueError(f"technique {text.strip()!r} must be one of {', '.join(TECHNIQUES)}")
    return value


#: A ledger or bibliography larger than this is not one (and would be read into memory whole).
MAX_LEDGER_BYTES = 256 * 1024 * 1024

#: How to save a spreadsheet so that any ledger reader can read it.
RESAVE_ADVICE = "in Excel: File › Save As › 'CSV UTF-8 (Comma delimited)'; in LibreOffice: character set UTF-8"


def _read_text(path: str | Path) -> str:
    """The text of a ledger or bibliography: UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's
    "Unicode text"), else Windows-1252, what Excel writes as plain "CSV" on Western Windows."""
    try:
        data = read_bounded(path, MAX_LEDGER_BYTES, "ledger")  # a FIFO or device is refused, not waited on
    except UnreadableFileError as exc:
        raise LedgerError(f"cannot read {path}: {exc}") from exc
    encodings = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LedgerError(f"{path} is neither UTF-8 nor Windows-1252 text; save it as UTF-8 ({RESAVE_ADVICE})")


def _csv_rows(text: str, name: str, required: Iterable[tuple[str, ...]]
              ) -> Iterator[tuple[int, dict[str, str] | RowProblem]]:
    """(spreadsheet row, {lower-case column: stripped value}) per record, or (row, problem) for a
    record with more fields than the header; comma, semicolon or tab.

    Each entry of `required` lists alternatives, one of which the header must have. A quote that is
    never closed would swallow the rest of the file into one field: the whole file is refused."""
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    row_number = 1
    try:
        header = [column.strip().casefold() for column in next(reader, [])]
        missing = [" or ".join(choices) for choices in required if not set(choices) & set(header)]
        if missing:
            raise LedgerError(
                f"{name}: missing column(s) {', '.join(missing)}; the header has {', '.join(header) or 'nothing'}")
        for row_number, values in enumerate(reader, start=2):
            extra = [value for value in values[len(header):] if value.strip()]
            if extra:
                yield row_number, RowProblem(row_number, (
                    f"{len(values)} fields where the header names {len(header)} (an unquoted "
                    f"{'comma' if delimiter == ',' else 'separator'}?); extra: {', '.join(repr(v) for v in extra)}"))
            elif any(value.strip() for value in values):
                yield row_number, {column: value.strip() for column, value in zip(header, values)}
    except csv.Error as exc:
        raise LedgerError(f"{name}: row {row_number + 1} is not valid CSV ({exc}): a quote (\") opened there is "
                          "probably never closed; nothing was read. Close or remove the quote.") from None


_METADATA = ("year", "title", "journal", "category", "subcategory", "authors", "abstract", "keywords")


def _fill_blanks(known: Article, other: Article) -> None:
    for name in _METADATA:
        if getattr(known, name) is None:
            setattr(known, name, getattr(other, name))


class _ArticleTable:
    """Articles met so far; a row that contradicts an earlier row about the same article is refused."""

    def __init__(self) -> None:
        self.by_id: dict[str, Article] = {}

    def add(self, article: Article) -> None:
        known = self.by_id.get(article.id)
        if known is None:
            self.by_id[article.id] = article
            return
        for name in _METADATA:
            old, new = getattr(known, name), getattr(article, name)
            if new is not None and old is not None and old != new:
                raise ValueError(f"{name} {new!r} contradicts {old!r} given earlier for article {article.id}")
        _fill_blanks(known, article)
        # A blank source reads as "facility", so one row saying third-party is enough.
        if article.source == "third-party":
            known.source = "third-party"


#: A ledger needs these columns; count-only ledgers may leave out `image`.
LEDGER_COLUMNS = (("article",), ("year",), ("image", "count"))


def read_ledger(path: str | Path, vocabulary: CategoryVocabulary | None = DEFAULT_VOCABULARY) -> Ledger:
    """Read a publication ledger CSV; bad rows land in `problems`, whole-file faults raise LedgerError.

    `vocabulary=None` accepts any category names as written.
    """
    name = str(path)
    ledger = Ledger(source_name=name)
    table = _ArticleTable()
    seen_images: set[tuple[str, str]] = set()
    for row_number, row in list(_csv_rows(_read_text(path), name, LEDGER_COLUMNS)):
        if isinstance(row, RowProblem):
            ledger.problems.append(row)
            continue
        try:
            article, item = _ledger_entry(row, vocabulary)
            if isinstance(item, PublishedImage) and (article.id, item.path) in seen_images:
                raise ValueError(f"image {item.path} is already listed for article {article.id}")
            table.add(article)
        except ValueError as exc:
            ledger.problems.append(RowProblem(row_number, str(exc)))
            continue
        if isinstance(item, PublishedImage):
            seen_images.add((article.id, item.path))
            ledger.images.append(replace(item, row=row_number))
        else:
            ledger.counts.append(item)
    ledger.articles = list(table.by_id.values())
    return ledger


def _ledger_entry(row: Mapping[str, str], vocabulary: CategoryVocabulary | None
                  ) -> tuple[Article, PublishedImage | PublishedCount]:
    """One ledger row as (article, image or count); ValueError says what is wrong with it."""
    raw_id = row.get("article", "")
    if not raw_id:
        raise ValueError("no article (DOI or local id)")
    category, subcategory = row.get("category") or None, row.get("subcategory") or None
    if vocabulary is not None:
        category, subcategory = vocabulary.resolve(category, subcategory)
    article = Article(
        id=article_id(raw_id), year=_parse_year(row.get("year")), title=row.get("title") or None,
        journal=row.get("journal") or None, category=category, subcategory=subcategory,
        source=_parse_source(row.get("source")),
    )
    image, count_text = row.get("image", ""), row.get("count", "")
    technique = _parse_technique(row.get("technique"))
    if image and count_text:
        raise ValueError("give either an image path or technique + count, not both")
    if image:
        return article, PublishedImage(article.id, image, technique)
    if not count_text:
        raise ValueError("no image path and no count")
    if not re.fullmatch(r"\d+", count_text) or int(count_text) < 1:
        raise ValueError(f"count {count_text!r} is not a positive whole number")
    if technique is None:
        raise ValueError("a count-level row needs a technique (SEM, TEM or STEM)")
    return article, PublishedCount(article.id, technique, int(count_text))


def _clean_tex(text: str | None) -> str | None:
    """Title or journal text without BibTeX braces, escapes and line breaks."""
    if not text:
        return None
    text = re.sub(r"\\[a-zA-Z]+\s*\{([^{}]*)\}", r"\1", text)  # \emph{x} -> x
    text = re.sub(r"\\(.)", r"\1", text).replace("{", "").replace("}", "")
    return " ".join(text.split()) or None


def _bibliography(records: Iterable[tuple[int, Callable[[], Article]]], name: str) -> Ledger:
    """Collect articles from (row, builder) pairs; a builder's ValueError becomes that row's problem."""
    ledger = Ledger(source_name=name)
    table = _ArticleTable()
    for row, build in records:
        try:
            table.add(build())
        except ValueError as exc:
            ledger.problems.append(RowProblem(row, str(exc)))
    ledger.articles = list(table.by_id.values())
    return ledger


def _bib_article(identifier: str | None, fallback_id: str | None, what: str, source: str, **values: Any) -> Article:
    ident = normalise_doi(identifier) or (fallback_id.strip() if fallback_id and fallback_id.strip() else None)
    if ident is None:
        raise ValueError(f"{what} has neither a DOI nor an id")
    year = values.pop("year")
    return Article(ident, year=_parse_year(str(year)) if year else None, source=source,
                   **{key: _clean_tex(value) for key, value in values.items()})


def read_bibtex(path: str | Path, source: str = "facility") -> Ledger:
    """Article metadata from a BibTeX file; the DOI is the id, else the citation key.

    Rows are the 1-based line where each entry starts."""
    import bibtexparser  # only `pubs import` of a .bib needs it: not every command's startup

    library = bibtexparser.parse_string(_read_text(path))
    records: list[tuple[int, Callable[[], Article]]] = []
    for entry in library.entries:
        values = {key.lower(): str(value.value) for key, value in entry.fields_dict.items()}
        records.append((entry.start_line + 1, lambda e=entry, v=values: _bib_article(
            v.get("doi"), e.key, f"entry {e.key}", source, year=v.get("year"), title=v.get("title"),
            journal=v.get("journal") or v.get("booktitle"), authors=v.get("author"), abstract=v.get("abstract"),
            keywords=v.get("keywords"))))
    ledger = _bibliography(records, str(path))
    ledger.problems.extend(RowProblem(block.start_line + 1, "not a valid BibTeX entry")
                           for block in library.failed_blocks)
    ledger.problems.sort(key=lambda p: p.row)
    return ledger


_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -( |$)")


def read_ris(path: str | Path, source: str = "facility") -> Ledger:
    """Article metadata from an RIS file; the DO tag is the id, else ID. Rows are TY line numbers."""
    records: list[tuple[int, Callable[[], Article]]] = []
    problems: list[RowProblem] = []
    chunk: list[str] = []
    start = 0
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        tag = _RIS_TAG.match(line)
        if not chunk and not line.strip():
            continue
        if not chunk:
            start = number
        chunk.append(line)
        if tag and tag.group(1) == "ER":
            records.append((start, lambda text="\n".join(chunk) + "\n", row=start: _ris_article(text, row, source)))
            chunk = []
    if chunk:
        problems.append(RowProblem(start, "record is not closed by an 'ER  -' line"))
    ledger = _bibliography(records, str(path))
    ledger.problems = sorted(ledger.problems + problems, key=lambda p: p.row)
    return ledger


def _ris_article(text: str, row: int, source: str) -> Article:
    import rispy  # only `pubs import` of a .ris needs it

    entries = rispy.loads(text)
    if not entries:
        raise ValueError("record does not start with a 'TY  -' line")
    entry = entries[0]

    def first(*keys: str) -> str | None:
        for key in keys:
            value = entry.get(key)
            if value:
                return "; ".join(value) if isinstance(value, list) else str(value)
        return None

    return _bib_article(first("doi"), first("id"), f"record at line {row}", source,
                        year=first("year", "publication_year", "date"), title=first("title", "primary_title"),
                        journal=first("secondary_title", "journal_name", "alternate_title3", "alternate_title1"),
                        authors=first("authors", "first_authors"), abstract=first("abstract", "notes_abstract"),
                        keywords=first("keywords"))


SCOPUS_COLUMNS = (("title",), ("year",), ("source title",))


def read_scopus_csv(path: str | Path, source: str = "facility") -> Ledger:
    """Article metadata from a Scopus CSV export; the DOI is the id, else the EID."""
    name = str(path)
    rows = list(_csv_rows(_read_text(path), name, SCOPUS_COLUMNS))
    records = [
        (row_number, lambda r=row: _bib_article(
            r.get("doi"), r.get("eid"), "record", source, year=r.get("year"), title=r.get("title"),
            journal=r.get("source title"), authors=r.get("authors"), abstract=_scopus_abstract(r.get("abstract")),
            keywords="; ".join(k for k in (r.get("author keywords"), r.get("index keywords")) if k) or None))
        for row_number, row in rows if not isinstance(row, RowProblem)
    ]
    ledger = _bibliography(records, name)
    ledger.problems = sorted(ledger.problems + [row for _, row in rows if isinstance(row, RowProblem)],
                             key=lambda p: p.row)
    return ledger


def _scopus_abstract(text: str | None) -> str | None:
    """Scopus writes "[No abstract available]" where there is none."""
    return None if not text or text.strip().casefold() == "[no abstract available]" else text


def read_bibliography(path: str | Path, source: str = "facility") -> Ledger:
    """Pick the reader by file extension: .bib, .ris, or .csv (a Scopus export)."""
    readers = {".bib": read_bibtex, ".bibtex": read_bibtex, ".ris": read_ris, ".csv": read_scopus_csv}
    suffix = Path(path).suffix.lower()
    if suffix not in readers:
        raise LedgerError(f"{path}: unknown bibliography format {suffix!r} (use .bib, .ris or a Scopus .csv)")
    return readers[suffix](path, source)


def merge_articles(primary: Iterable[Article], extra: Iterable[Article]) -> list[Article]:
    """Primary articles (the ledger) with blanks filled from `extra` (a bibliography), matched by id;
    articles only in `extra` follow. Primary values always win."""
    merged = {article.id: replace(article) for article in primary}
    for article in extra:
        known = merged.get(article.id)
        if known is None:
            merged[article.id] = replace(article)
            continue
        _fill_blanks(known, article)
    return list(merged.values())


def resolve_images(images: Iterable[PublishedImage], technique_of: Callable[[str], str | None]
                   ) -> list[PublishedCount]:
    """File-level entries as counts per (article, technique), so Table 1 takes one input shape.

    `technique_of(path)` is the catalog's answer for a ledger path; the ledger's own technique is
    used where the catalog has none. STEM stays STEM here; Table 1 folds it into SEM."""
    totals: dict[tuple[str, str | None], int] = {}
    for image in images:
        technique = technique_of(image.path) or image.technique
        totals[(image.article, technique)] = totals.get((image.article, technique), 0) + 1
    return [PublishedCount(article, technique, count) for (article, technique), count in totals.items()]


UNCATEGORISED = "Uncategorised"


def articles_by_category(articles: Iterable[Article]) -> dict[str, dict[str | None, int]]:
    """category → subcategory (None: none given) → articles, for Fig. 3A."""
    result: dict[str, dict[str | None, int]] = {}
    for article in articles:
        by_sub = result.setdefault(article.category or UNCATEGORISED, {})
        by_sub[article.subcategory] = by_sub.get(article.subcategory, 0) + 1
    return result


def images_by_category_year(articles: Iterable[Article], counts: Iterable[PublishedCount]
                            ) -> dict[str, dict[int, int]]:
    """category → publication year → published images, for Fig. 3B; articles without a year are left out."""
    by_id = {article.id: article for article in articles}
    result: dict[str, dict[int, int]] = {}
    for item in counts:
        article = by_id.get(item.article)
        if article is None or article.year is None:
            continue
        by_year = result.setdefault(article.category or UNCATEGORISED, {})
        by_year[article.year] = by_year.get(article.year, 0) + item.count
    return result
