"""Table 1 of the paper: acquired vs published images, per article, published and lost percentages.

Facility block: SEM (STEM folded in, as the paper does: STEM images were recorded on the SEMs),
TEM, TOTAL. An article with SEM and TEM images counts once in TOTAL. Images whose technique is
unknown count in TOTAL only. Third-party block: SEM, STEM, TEM, TOTAL, without acquired counts.
The outlier restatement removes facility articles with more than N images (the paper: 8 articles
over 50 images; 1,853 images in 284 articles remain, 6.5 per article).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emcensus.analysis.loss import PublishedShare, overcount_notes
from emcensus.analysis.publications import Article, PublishedCount

FACILITY_COLUMNS = ("SEM", "TEM")
THIRD_PARTY_COLUMNS = ("SEM", "STEM", "TEM")
DEFAULT_OUTLIER_THRESHOLD = 50


@dataclass(frozen=True, slots=True)
class Table1Column(PublishedShare):
    """One column of Table 1."""

    block: str  # "facility" | "third-party"
    label: str  # "SEM" | "STEM" | "TEM" | "TOTAL"
    acquired: int | None  # None: no data (third-party facilities)
    articles: int
    published: int

    @property
    def per_article(self) -> float | None:
        return self.published / self.articles if self.articles else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "block": self.block, "column": self.label, "acquired_images": self.acquired,
            "articles": self.articles, "published_images": self.published,
            "images_per_article": self.per_article, "published_pct": self.published_pct, "lost_pct": self.lost_pct,
        }


@dataclass(frozen=True, slots=True)
class OutlierRestatement:
    """Facility totals without the articles holding more than `threshold` images."""

    threshold: int
    removed_articles: int
    removed_images: int
    articles: int
    images: int

    @property
    def per_article(self) -> float | None:
        return self.images / self.articles if self.articles else None

    def sentence(self) -> str:
        per = "no" if self.per_article is None else f"{self.per_article:.1f}"
        return (f"Without the {self.removed_articles:,} article(s) holding more than {self.threshold} images "
                f"({self.removed_images:,} images): {self.images:,} images in {self.articles:,} articles, "
                f"{per} images per article.")

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "removed_articles": self.removed_articles,
                "removed_images": self.removed_images, "articles": self.articles, "images": self.images,
                "images_per_article": self.per_article}


_ROWS: tuple[tuple[str, str], ...] = (
    ("Acquired images", "acquired"),
    ("Published articles", "articles"),
    ("Published images", "published"),
    ("Images per article", "per_article"),
    ("Published data, %", "published_pct"),
    ("Lost data, %", "lost_pct"),
)


def _cell(column: Table1Column, attribute: str) -> str:
    value = getattr(column, attribute)
    if value is None:
        return "no data" if attribute == "acquired" else "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class Table1:
    """The facility block, the third-party block (empty without third-party articles), the restatement."""

    facility: tuple[Table1Column, ...]
    third_party: tuple[Table1Column, ...]
    restatement: OutlierRestatement

    @property
    def columns(self) -> tuple[Table1Column, ...]:
        return self.facility + self.third_party

    def rows(self) -> list[tuple[str, list[str]]]:
        """(row title, formatted cells), the table as people read it."""
        return [(title, [_cell(column, attribute) for column in self.columns]) for title, attribute in _ROWS]

    def to_text(self) -> str:
        """Plain-text Table 1 as in the paper, then the outlier restatement."""
        headers = [column.label for column in self.columns]
        body = self.rows()
        first = max(len(title) for title, _ in body)
        widths = [max(len(header), *(len(cells[i]) for _, cells in body)) for i, header in enumerate(headers)]
        blocks = [("Core user facility", len(self.facility))]
        if self.third_party:
            blocks.append(("Third-party facilities", len(self.third_party)))
        block_line, start = " " * first, 0
        for name, count in blocks:
            span = sum(widths[start:start + count]) + 2 * count
            block_line += name.rjust(span)
            start += count
        lines = [
            "Table 1. Electron microscopy images acquired, published and lost",
            block_line,
            " " * first + "".join("  " + h.rjust(w) for h, w in zip(headers, widths)),
        ]
        lines += [title.ljust(first) + "".join("  " + c.rjust(w) for c, w in zip(cells, widths)) for title, cells in body]
        return "\n".join(lines + ["", self.restatement.sentence(), *self.notes()]) + "\n"

    def notes(self) -> list[str]:
        """Why a column shows no percentage (more published than acquired), one sentence each."""
        return overcount_notes((f"{column.label} (core facility)", column) for column in self.facility)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [column.to_dict() for column in self.columns], "restatement": self.restatement.to_dict(),
                "notes": self.notes()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        """One line per column of the table (long format, unrounded), then the restatement as a row."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(self.columns[0].to_dict()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(column.to_dict() for column in self.columns)
        r = self.restatement
        writer.writerow({"block": "facility", "column": f"TOTAL without articles > {r.threshold} images",
                         "acquired_images": None, "articles": r.articles, "published_images": r.images,
                         "images_per_article": r.per_article, "published_pct": None, "lost_pct": None})
        return buffer.getvalue()


def _per_article(counts: Iterable[PublishedCount], fold_stem: bool) -> dict[str, dict[str | None, int]]:
    """article → technique → images; with `fold_stem`, STEM images count as SEM."""
    result: dict[str, dict[str | None, int]] = {}
    for item in counts:
        technique = "SEM" if fold_stem and item.technique == "STEM" else item.technique
        by_technique = result.setdefault(item.article, {})
        by_technique[technique] = by_technique.get(technique, 0) + item.count
    return result


def _block(block: str, labels: tuple[str, ...], per_article: Mapping[str, Mapping[str | None, int]],
           acquired: Mapping[str | None, int] | None) -> tuple[Table1Column, ...]:
    columns = []
    for label in labels:
        holding = [counts[label] for counts in per_article.values() if counts.get(label)]
        columns.append(Table1Column(block, label, None if acquired is None else acquired.get(label, 0),
                                    len(holding), sum(holding)))
    totals = [sum(counts.values()) for counts in per_article.values() if sum(counts.values())]
    columns.append(Table1Column(block, "TOTAL", None if acquired is None else sum(acquired.values()),
                                len(totals), sum(totals)))
    return tuple(columns)


def compute_table1(acquired: Mapping[str | None, int], published: Iterable[PublishedCount],
                   articles: Iterable[Article] = (),
                   outlier_threshold: int = DEFAULT_OUTLIER_THRESHOLD) -> Table1:
    """Table 1 from acquired images per technique (SEM, TEM, STEM; None or others: unknown) and
    published counts per article.

    `articles` gives each article's source; articles not listed there are facility articles.
    File-level ledger entries go through `publications.resolve_images` first.
    """
    third_party_ids = {article.id for article in articles if article.source == "third-party"}
    published = list(published)
    facility_acquired: dict[str | None, int] = {label: 0 for label in FACILITY_COLUMNS}
    for technique, count in acquired.items():
        label = "SEM" if technique == "STEM" else technique
        key = label if label in FACILITY_COLUMNS else None  # unknown technique: TOTAL only
        facility_acquired[key] = facility_acquired.get(key, 0) + count
    facility = _per_article((p for p in published if p.article not in third_party_ids), fold_stem=True)
    third_party = _per_article((p for p in published if p.article in third_party_ids), fold_stem=False)
    totals = [sum(counts.values()) for counts in facility.values()]
    outliers = [total for total in totals if total > outlier_threshold]
    kept = [total for total in totals if 0 < total <= outlier_threshold]
    return Table1(
        facility=_block("facility", FACILITY_COLUMNS, facility, facility_acquired),
        third_party=_block("third-party", THIRD_PARTY_COLUMNS, third_party, None) if third_party else (),
        restatement=OutlierRestatement(outlier_threshold, len(outliers), sum(outliers), len(kept), sum(kept)),
    )
