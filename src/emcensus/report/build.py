"""The catalog side of the analysis: Table 1, lost-data breakdowns and the report's data, queried
from a catalog and handed to the pure functions of `emcensus.analysis` and `report.html`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emcensus.analysis.loss import (
    LossBreakdown,
    loss_breakdown,
    storage_table,
)
from emcensus.analysis.storage import CostModel
from emcensus.analysis.table1 import DEFAULT_OUTLIER_THRESHOLD, Table1, compute_table1
from emcensus.catalog import Catalog
from emcensus.report.html import ReportData
from emcensus.report.storage import catalog_storage

#: Fields `lost --by` and the report break lost data down by.
LOSS_FIELDS = ("year", "instrument", "technique", "detector", "scalebar_decade", "group", "project")

#: Fields the report shows storage by.
STORAGE_FIELDS = ("year", "instrument", "technique")


def _years(until: int | None) -> dict[str, Any]:
    return {} if until is None else {"until": until}


def catalog_table1(catalog: Catalog, until: int | None = None,
                   outlier_threshold: int = DEFAULT_OUTLIER_THRESHOLD, acquired: Mapping[str | None, int] | None = None
                   ) -> Table1:
    """Table 1 over one window for both sides: images acquired up to `until`; published = those of
    them linked to articles, plus count-level rows by their article's year. `acquired`: `count` by
    technique in that window when the caller holds it already (the Overview: one read of a cube)."""
    if acquired is None:
        acquired = {row["technique"]: row["count"] for row in catalog.count("technique", **_years(until))}
    return compute_table1(acquired, catalog.published_counts(**_years(until)), catalog.articles(), outlier_threshold)


def catalog_loss(catalog: Catalog, field: str, until: int | None = None) -> LossBreakdown:
    """Lost % per key of `field`: acquired acquisitions against those used in facility articles."""
    acquired = {row[field]: row["count"] for row in catalog.count(field, **_years(until))}
    published = {row[field]: row["published"] for row in catalog.published(field, **_years(until))}
    return loss_breakdown(field, acquired, published)


def _nested(rows: list[dict[str, Any]], outer: str, inner: str, value: str) -> dict[Any, dict[Any, int]]:
    """[{outer, inner, value}] → outer → inner → value, leaving out rows whose inner key is unknown."""
    result: dict[Any, dict[Any, int]] = {}
    for row in rows:
        if row[inner] is not None:
            result.setdefault(row[outer], {})[row[inner]] = row[value]
    return result


def build_report_data(catalog: Catalog, *, until: int | None = None, facility: str = "facility",
                      outlier_threshold: int = DEFAULT_OUTLIER_THRESHOLD, costs: CostModel | None = None) -> ReportData:
    """Everything `report.html.write_report` shows, from one catalog (the cost of the lost data
    when the facility's `costs` are given)."""
    years = _years(until)
    audit = catalog.audit()
    storage = {field: {row[field]: row["bytes"] for row in catalog.storage(field, **years)} for field in STORAGE_FIELDS}
    archive_decades = catalog.count("technique,scalebar_decade", **years)
    published_decades = catalog.published("technique,scalebar_decade", **years)
    return ReportData(
        facility=facility,
        until=until,
        archive_without_fov=sum(row["count"] for row in archive_decades if row["scalebar_decade"] is None),
        published_without_fov=sum(row["published"] for row in published_decades if row["scalebar_decade"] is None),
        acquired_by_year=_nested(catalog.count("year,technique", **years), "year", "technique", "count"),
        archive_decades=_nested(archive_decades, "technique", "scalebar_decade", "count"),
        table1=catalog_table1(catalog, until, outlier_threshold),
        articles=catalog.articles(),
        published=catalog.published_counts(**years),
        published_decades=_nested(published_decades, "technique", "scalebar_decade", "published"),
        breakdowns=[catalog_loss(catalog, field, until) for field in LOSS_FIELDS],
        audit=audit,  # image_files, acquisitions, then one entry per `emcensus audit --list` kind
        storage=[storage_table(field, by_key) for field, by_key in storage.items()],
        storage_summary=catalog_storage(catalog, costs, by=("year",), until=until),
        classified_articles=catalog.classified_counts(),
    )
