"""The HTML report: one self-contained index.html, and every number in it as CSV and JSON.

Every table shown in the page is a `DataTable`, and every `DataTable` is also written to
`data/<name>.csv` and `data/<name>.json`, so nothing in the report exists only as a picture or only
as HTML. Figures are embedded as inline SVG (no external files, no CDN), and also written as PNG and
SVG under `figures/` for slides and papers.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from emcensus.analysis.fov import decade_sort_key
from emcensus.analysis.loss import (
    LossBreakdown,
    StorageTable,
    key_label,
    sort_keys,
)
from emcensus.analysis.publications import (
    Article,
    PublishedCount,
    articles_by_category,
    images_by_category_year,
)
from emcensus.analysis.storage import StorageSummary
from emcensus.analysis.table1 import Table1
from emcensus.outputs import guard_folder_rewrite, whole_file
from emcensus.vocab import technique_order


@dataclass(slots=True)
class ReportData:
    """Everything the report shows, as plain data; the catalog side fills it, nothing here queries.

    Decade keys are `analysis.fov.DECADE_LABELS`; technique keys are "SEM", "TEM", "STEM".
    """

    facility: str = "facility"
    acquired_by_year: dict[int | None, dict[str, int]] = field(default_factory=dict)  # year → technique → images
    archive_decades: dict[str, dict[str, int]] = field(default_factory=dict)  # technique → decade → images
    table1: Table1 | None = None
    articles: list[Article] = field(default_factory=list)
    published: list[PublishedCount] = field(default_factory=list)  # per article and technique
    published_decades: dict[str, dict[str, int]] = field(default_factory=dict)  # technique → decade → images
    breakdowns: list[LossBreakdown] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)  # e.g. {"files seen": 152097, "FOV disagreements": 12}
    storage: list[StorageTable] = field(default_factory=list)  # bytes by year, instrument, technique
    storage_summary: StorageSummary | None = None  # growth fit and forecast, lost vs published bytes
    classified_articles: tuple[int, int] = (0, 0)  # facility articles categorised by `pubs classify`, to review
    generated_at: str | None = None  # ISO 8601; now when None
    until: int | None = None  # last acquisition year of the window; None: every year
    archive_without_fov: int = 0  # images with no field of view: not in Fig. 2B
    published_without_fov: int = 0  # linked archive images with no field of view: not in Fig. 3C/3D


@dataclass(frozen=True, slots=True)
class DataTable:
    """A table shown in the report and written as data/<name>.csv and data/<name>.json."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]

    @classmethod
    def from_records(cls, name: str, title: str, records: list[dict[str, Any]]) -> DataTable:
        return cls(name, title, list(records[0]) if records else [], [list(r.values()) for r in records])

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class ReportOutput:
    """What `write_report` wrote."""

    index: Path
    figures: list[Path]
    data: list[Path]


def _fold_stem(counts: Mapping[str, Mapping[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """(S(T)EM, TEM) decade counts: STEM was recorded on the SEMs, as in the paper's Fig. 3C."""
    sem: dict[str, int] = {}
    for technique in ("SEM", "STEM"):
        for decade, n in counts.get(technique, {}).items():
            sem[decade] = sem.get(decade, 0) + n
    return sem, dict(counts.get("TEM", {}))


def _facility_articles(data: ReportData) -> list[Article]:
    """Fig. 3 and the category tables describe the facility's own articles, as in the paper."""
    return [article for article in data.articles if article.source == "facility"]


def _decade_table(name: str, title: str, counts: Mapping[str, Mapping[str, int]]) -> DataTable:
    techniques = technique_order(counts)
    decades = sorted({d for by_decade in counts.values() for d in by_decade}, key=decade_sort_key)
    rows = [[d, *(counts[t].get(d, 0) for t in techniques)] for d in decades]
    return DataTable(name, title, ["scale_bar_decade", *techniques], rows)


def build_tables(data: ReportData) -> list[DataTable]:
    """Every table of the report, in page order (Table 1 is rendered and exported on its own)."""
    tables = []
    techniques = technique_order(t for counts in data.acquired_by_year.values() for t in counts)
    years = sort_keys("year", list(data.acquired_by_year))
    tables.append(DataTable(
        "acquired_by_year", "Images acquired per year", ["year", *techniques, "total"],
        [[key_label(y), *(data.acquired_by_year[y].get(t, 0) for t in techniques),
          sum(data.acquired_by_year[y].values())] for y in years]))
    tables.append(_decade_table("archive_scale_bar_decades", "Archived images by scale-bar decade", data.archive_decades))
    tables.append(_decade_table("published_scale_bar_decades", "Published images by scale-bar decade",
                                data.published_decades))
    images_per_article: dict[str, int] = {}
    for item in data.published:
        images_per_article[item.article] = images_per_article.get(item.article, 0) + item.count
    by_category = articles_by_category(_facility_articles(data))
    total_articles = sum(sum(subs.values()) for subs in by_category.values())
    tables.append(DataTable(
        "articles_by_category", "Facility articles by category", ["category", "subcategory", "articles", "share_pct"],
        [[c, s or "", n, 100.0 * n / total_articles] for c, subs in by_category.items() for s, n in subs.items()]))
    by_year = images_by_category_year(_facility_articles(data), data.published)
    tables.append(DataTable(
        "published_by_category_year", "Published images by category and year", ["category", "year", "images"],
        [[c, y, n] for c, years_ in by_year.items() for y, n in sorted(years_.items())]))
    article_columns = ["id", "year", "title", "journal", "category", "subcategory", "source", "authors"]
    tables.append(DataTable(
        "articles", "Articles", [*article_columns, "published_images"],
        [[getattr(a, c) for c in article_columns] + [images_per_article.get(a.id, 0)] for a in data.articles]))
    tables += [DataTable.from_records(f"lost_by_{b.field}", f"Lost data by {b.field.replace('_', ' ')}", b.to_records())
               for b in data.breakdowns]
    tables += [DataTable.from_records(f"storage_by_{s.field}", f"Storage by {s.field.replace('_', ' ')}", s.to_records())
               for s in data.storage if s.bytes_by_key]
    if data.storage_summary:
        if data.storage_summary.growth.years:
            tables.append(DataTable.from_records("storage_growth", "Storage intake per year and forecast (GB)",
                                                 data.storage_summary.growth.records()))
        tables.append(DataTable.from_records("storage_lost_vs_published", "Bytes of lost and published images",
                                             data.storage_summary.lost_vs_published))
        if data.storage_summary.costs:
            tables.append(DataTable.from_records("storage_costs", "Cost of the lost data, with its assumptions",
                                                 [line.to_dict() for line in data.storage_summary.costs]))
    tables.append(DataTable("audit", "Audit summary", ["item", "value"],
                            [[k, v if isinstance(v, int | float | str) or v is None else json.dumps(v)]
                             for k, v in data.audit.items()]))
    return tables


def _inline_svg(path: Path, prefix: str) -> Markup:
    """The SVG element alone (no XML prolog, DOCTYPE or metadata), its ids prefixed so that several
    figures in one page never share an id."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.DOTALL)
    for old in set(re.findall(r'\bid="([^"]+)"', text)):
        text = re.sub(rf'(\bid="|#){re.escape(old)}(?=["\)])', rf"\g<1>{prefix}-{old}", text)
    return Markup(text)


def render_figures(data: ReportData, out_dir: str | Path) -> dict[str, list[Path]]:
    """Figures 2A–3D as PNG and SVG under `out_dir`; name → paths. Figures without data are skipped."""
    from emcensus.report import (
        figures,  # matplotlib: only paid for when figures are drawn
    )

    out_dir = Path(out_dir)
    written: dict[str, list[Path]] = {}
    if data.acquired_by_year:
        years_known = {y: c for y, c in data.acquired_by_year.items() if y is not None}
        written["fig2a"] = figures.images_per_year(years_known, out_dir)
    if data.archive_decades or data.archive_without_fov:
        written["fig2b"] = figures.scale_bar_decades(data.archive_decades, out_dir, without_fov=data.archive_without_fov)
    if _facility_articles(data):
        written["fig3a"] = figures.articles_by_category(articles_by_category(_facility_articles(data)), out_dir)
        by_year = images_by_category_year(_facility_articles(data), data.published)
        if by_year:
            written["fig3b"] = figures.published_by_category_year(by_year, out_dir)
    if data.published_decades:
        published_sem, published_tem = _fold_stem(data.published_decades)
        archive_sem, archive_tem = _fold_stem(data.archive_decades)
        written["fig3c"] = figures.published_vs_archive_decades(published_sem, archive_sem, "S(T)EM", out_dir, "C")
        written["fig3d"] = figures.published_vs_archive_decades(published_tem, archive_tem, "TEM", out_dir, "D")
    return written


FIGURE_CAPTIONS = {
    "fig2a": "Figure 2A. Images acquired per year by technique.",
    "fig2b": "Figure 2B. Images by conditional scale bar (10 % of the field of view), grouped by order of magnitude.",
    "fig3a": "Figure 3A. Published articles by category and subcategory.",
    "fig3b": "Figure 3B. Published images by article category and publication year.",
    "fig3c": "Figure 3C. S(T)EM: scale bars of published images next to the archive's, each as % of its total.",
    "fig3d": "Figure 3D. TEM: scale bars of published images next to the archive's, each as % of its total.",
}


def _fmt(value: Any, column: str = "") -> str:
    """A cell as people read it: thousands separators, two decimals, years as they are, "unknown"
    for a value nobody knows (the CLI's word), blank for one not given."""
    if value is None:
        return "unknown"
    if value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if column == "year" else f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("emcensus.report", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["numeric"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    return env


def _write_table(directory: Path, name: str, columns: list[str], records: Iterable[dict[str, Any]]) -> list[Path]:
    records = list(records)
    csv_path, json_path = directory / f"{name}.csv", directory / f"{name}.json"
    with whole_file(csv_path) as partial, partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    _write_text(json_path, json.dumps(records, indent=2, ensure_ascii=False, default=str))
    return [csv_path, json_path]


def _write_text(path: Path, text: str) -> None:
    """`path` written whole: the report's folder is rewritten in place, each of its files old or new, never half."""
    with whole_file(path) as partial:
        partial.write_text(text, encoding="utf-8")


def _headline(data: ReportData) -> dict[str, Any]:
    acquired = sum(sum(c.values()) for c in data.acquired_by_year.values())
    headline: dict[str, Any] = {"Images acquired": acquired, "Articles": len(data.articles),
                                "Images published": sum(p.count for p in data.published)}
    if data.table1:
        total = data.table1.facility[-1]
        headline["Images published"] = total.published  # the facility's own, as the lost % beside it
        headline["Lost data, %"] = total.lost_pct
    return headline


def window_sentence(until: int | None) -> str:
    """The one definition of what Table 1, the lost-data tables and Fig. 3 count, in words."""
    window = f"acquired up to {until}" if until is not None else "acquired in any year"
    articles = f"published up to {until}" if until is not None else "of any year"
    return (f"Window: images {window}. Published images are those of them linked to an article (whatever "
            f"the article's year), plus count-level ledger rows and images from outside the archive of "
            f"articles {articles}: these name no acquisition, so they count by their article's year.")


def totals_sentences(data: ReportData) -> list[str]:
    """Why Table 1, Fig. 3C/3D and the lost-data tables give different totals, with the numbers."""
    if data.table1 is None or not data.articles:
        return []
    table_total = data.table1.facility[-1].published
    shown = sum(sum(by_decade.values()) for by_decade in data.published_decades.values())
    linked = shown + data.published_without_fov
    return [
        f"Table 1 counts {table_total:,} published images: {linked:,} linked archive images acquired in the "
        f"window, and {max(table_total - linked, 0):,} from count-level ledger rows, images from outside the "
        "archive, and images shown in more than one article (Table 1 counts an image once per article).",
        f"Fig. 3C and 3D (n in their legends) show the {shown:,} linked archive images with a known field of "
        f"view (linked images without one: {data.published_without_fov:,}); count-level rows have no scale bar.",
        "Lost data by instrument, detector, scale-bar decade, group and project counts linked archive images "
        "only; by technique and by year it adds count-level rows (under their article's year).",
    ] + ([f"The categories of {data.classified_articles[0]:,} facility article(s) in Fig. 3A and 3B were proposed by "
          f"`emcensus pubs classify`, not given by the ledger; {data.classified_articles[1]:,} of them are marked "
          "for review."] if data.classified_articles[0] else [])


def write_report(out_dir: str | Path, data: ReportData, archives: Iterable[str | Path] = ()) -> ReportOutput:
    """Write index.html (self-contained), figures/ (PNG + SVG) and data/ (CSV + JSON) under `out_dir`;
    each folder and what is already in it guarded first (never a write through a link into `archives`)."""
    out_dir = Path(out_dir)
    archives = list(archives)
    data_dir, figures_dir = out_dir / "data", out_dir / "figures"
    for folder in (out_dir, data_dir, figures_dir):
        guard_folder_rewrite(folder, archives, what="report")
    written_figures = render_figures(data, figures_dir)
    tables = build_tables(data)
    data_files: list[Path] = []
    for table in tables:
        data_files += _write_table(data_dir, table.name, table.columns, table.records())
    if data.table1:
        for suffix, text in (("csv", data.table1.to_csv()), ("json", data.table1.to_json()),
                             ("txt", data.table1.to_text())):
            _write_text(data_dir / f"table1.{suffix}", text)
            data_files.append(data_dir / f"table1.{suffix}")
    if data.storage_summary:
        _write_text(data_dir / "storage_growth.json", json.dumps(data.storage_summary.growth.to_dict(), indent=2))
        data_files.append(data_dir / "storage_growth.json")
    generated_at = data.generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    html = _environment().get_template("report.html").render(
        facility=data.facility,
        generated_at=generated_at,
        headline=_headline(data),
        table1=data.table1,
        window=window_sentence(data.until),
        totals=totals_sentences(data),
        archive_without_fov=data.archive_without_fov,
        figures=[(name, FIGURE_CAPTIONS[name], _inline_svg(next(p for p in paths if p.suffix == ".svg"), name))
                 for name, paths in written_figures.items()],
        tables={table.name: table for table in tables},
        storage=data.storage_summary,
        data_files=[path.relative_to(out_dir).as_posix() for path in data_files],
    )
    index = out_dir / "index.html"
    _write_text(index, html)
    return ReportOutput(index, [p for paths in written_figures.values() for p in paths], data_files)
