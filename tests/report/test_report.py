"""The HTML report: Table 1 numbers, embedded figures, and every table as CSV and JSON."""

from __future__ import annotations

import csv
import json
import random
from html.parser import HTMLParser

import pytest

from emcensus.analysis.fov import DECADE_LABELS
from emcensus.analysis.loss import loss_breakdown, storage_table
from emcensus.analysis.storage import StorageSummary, fit_growth, lost_vs_published
from emcensus.analysis.publications import DEFAULT_CATEGORIES, Article, PublishedCount
from emcensus.analysis.table1 import compute_table1
from emcensus.report import ReportData, write_report


def synthetic_report_data(seed: int = 7) -> ReportData:
    """A facility of 13 years, three techniques, 120 articles in the paper's categories, 4 third-party articles."""
    rng = random.Random(seed)
    years = range(2011, 2024)
    acquired = {y: {"SEM": 6000 + 350 * (y - 2011) + rng.randint(-800, 800),
                    "TEM": 1800 + 120 * (y - 2011) + rng.randint(-300, 300),
                    "STEM": 250 + rng.randint(0, 200)} for y in years}
    archive_decades = {
        "SEM": dict(zip(DECADE_LABELS[1:7], [300, 9000, 38000, 45000, 20000, 4000])),
        "STEM": dict(zip(DECADE_LABELS[1:7], [900, 2100, 600, 40, 0, 0])),
        "TEM": dict(zip(DECADE_LABELS[1:7], [5200, 14800, 9000, 2600, 300, 0])),
    }
    pairs = [(c, s) for c, subs in DEFAULT_CATEGORIES.items() for s in (subs or (None,))]
    articles, published = [], []
    for i in range(120):
        category, sub = pairs[min(int(rng.expovariate(0.25)), len(pairs) - 1)]
        articles.append(Article(f"10.1000/em.{i}", rng.choice(list(years)), f"Article {i}", "J. Synthetic",
                                category, sub))
        published.append(PublishedCount(f"10.1000/em.{i}", rng.choice(["SEM", "SEM", "TEM", "STEM"]),
                                        rng.randint(1, 20) if i % 40 else 75))
    for i, (technique, n) in enumerate([("SEM", 12), ("STEM", 5), ("TEM", 9), ("SEM", 30)]):
        articles.append(Article(f"10.2000/ext.{i}", 2020, f"External {i}", "Small", source="third-party"))
        published.append(PublishedCount(f"10.2000/ext.{i}", technique, n))
    published_decades = {
        "SEM": dict(zip(DECADE_LABELS[1:7], [10, 200, 500, 300, 90, 10])),
        "STEM": dict(zip(DECADE_LABELS[1:7], [40, 80, 20, 0, 0, 0])),
        "TEM": dict(zip(DECADE_LABELS[1:7], [90, 240, 120, 20, 2, 0])),
    }
    by_technique: dict[str, int] = {}
    for y in acquired.values():
        for t, n in y.items():
            by_technique[t] = by_technique.get(t, 0) + n
    year_of = {a.id: a.year for a in articles}
    published_by_year: dict[int, int] = {}
    for p in published:
        if not p.article.startswith("10.2000/ext"):
            published_by_year[year_of[p.article]] = published_by_year.get(year_of[p.article], 0) + p.count
    return ReportData(
        facility="Synthetic core facility",
        acquired_by_year=acquired,
        archive_decades=archive_decades,
        table1=compute_table1(by_technique, published, articles),
        articles=articles,
        published=published,
        published_decades=published_decades,
        breakdowns=[loss_breakdown("year", {y: sum(c.values()) for y, c in acquired.items()}, published_by_year),
                    loss_breakdown("group", {"catalysis-lab": 50000, "materials": 60000, None: 3000},
                                   {"catalysis-lab": 900, "materials": 1100})],
        audit={"files seen": 140_511, "unreadable files": 17, "FOV disagreements > 2 %": 42,
               "FOV sources": {"pixel-size": 120_000, "magnification": 20_000}},
        storage=[storage_table("instrument", {"SU8230": 150 * 1024**3, "HT7700": 260 * 1024**3})],
        storage_summary=StorageSummary(
            breakdown=[], growth=fit_growth({y: (20 + 3 * (y - 2011)) * 10**9 for y in years}, current_year=2024),
            lost_vs_published=lost_vs_published(
                [{"technique": "SEM", "published_bytes": 10**9, "lost_bytes": 9 * 10**9}], "technique", 0)[0],
            costs=[], notes=["a note on the bytes"]),
        generated_at="2024-05-01T12:00:00+00:00",
    )


class _Collector(HTMLParser):
    """Checks the page parses and gathers what the test needs."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http:", "https:", "//")):
                self.external.append(value)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    data = synthetic_report_data()
    out = tmp_path_factory.mktemp("report")
    return data, out, write_report(out, data)


def test_index_is_self_contained_with_inline_figures(report):
    _, out, written = report
    html = written.index.read_text(encoding="utf-8")
    assert written.index == out / "index.html"
    parser = _Collector()
    parser.feed(html)
    assert parser.tags.count("svg") == 6  # Fig. 2A, 2B, 3A, 3B, 3C, 3D
    assert not parser.external and "<link" not in html and "<script" not in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    for caption in ("Figure 2A", "Figure 2B", "Figure 3A", "Figure 3B", "Figure 3C", "Figure 3D"):
        assert caption in html


def test_index_shows_table1_numbers(report):
    data, _, written = report
    html = written.index.read_text(encoding="utf-8")
    for column in data.table1.columns:
        cells = [f"{column.published:,}", f"{column.articles:,}", f"{column.per_article:.2f}"]
        if column.block == "facility":
            cells += [f"{column.acquired:,}", f"{column.published_pct:.2f}", f"{column.lost_pct:.2f}"]
        for cell in cells:
            assert f">{cell}<" in html, cell
    assert html.count(">no data<") == 4
    assert data.table1.restatement.sentence() in html
    assert "Core user facility" in html and "Third-party facilities" in html
    assert [c.published for c in data.table1.third_party] == [42, 5, 9, 56]


def test_every_table_is_written_as_csv_and_json(report):
    _, out, written = report
    names = {p.name for p in written.data}
    for stem in ("acquired_by_year", "archive_scale_bar_decades", "published_scale_bar_decades",
                 "articles_by_category", "published_by_category_year", "articles", "lost_by_year", "lost_by_group",
                 "storage_by_instrument", "storage_growth", "storage_lost_vs_published", "audit",
                 "table1"):
        assert {f"{stem}.csv", f"{stem}.json"} <= names, stem
    rows = list(csv.DictReader((out / "data" / "acquired_by_year.csv").open(encoding="utf-8")))
    assert [r["year"] for r in rows] == [str(y) for y in range(2011, 2024)]
    assert json.loads((out / "data" / "lost_by_group.json").read_text())[-1]["group"] == "TOTAL"
    assert json.loads((out / "data" / "table1.json").read_text())["restatement"]["threshold"] == 50
    html = written.index.read_text(encoding="utf-8")
    assert all(f'href="{p.relative_to(out).as_posix()}"' in html for p in written.data)


def test_figures_are_written_beside_the_page(report):
    _, out, written = report
    assert len(written.figures) == 12
    assert all(p.parent == out / "figures" and p.stat().st_size > 1000 for p in written.figures)


def test_breakdowns_storage_and_audit_appear(report):
    _, _, written = report
    html = written.index.read_text(encoding="utf-8")
    assert "Lost data by group" in html and "lost %" in html and "catalysis-lab" in html and "unknown" in html
    assert "410.0 GiB" not in html  # table shows per-instrument sizes
    assert "260.0 GiB" in html and "linear: +3 GB a year each year" in html and "prediction interval" in html
    assert "a note on the bytes" in html and "Bytes of lost and published images" in html
    growth = json.loads((written.index.parent / "data" / "storage_growth.json").read_text())
    assert growth["model"] == "linear" and [r["year"] for r in growth["rows"]][-3:] == [2025, 2026, 2027]
    assert "FOV disagreements &gt; 2 %" in html and "140,511" in html


def test_empty_report_still_renders(tmp_path):
    written = write_report(tmp_path, ReportData(facility="Empty <facility>"))
    html = written.index.read_text(encoding="utf-8")
    assert "Empty &lt;facility&gt;" in html  # escaped
    assert "No publication ledger" in html and written.figures == []
