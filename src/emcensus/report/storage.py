"""The catalog side of `emcensus storage`: storage, growth and the cost of lost data, queried from a
catalog and handed to the pure functions of `analysis.storage` (the CLI, the report and the
dashboard share it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from emcensus.analysis.loss import loss_breakdown
from emcensus.analysis.storage import (
    CostModel,
    StorageSummary,
    acquisition_costs,
    find_sessions,
    fit_growth,
    keeping_costs,
    lost_vs_published,
    published_split,
    sum_bytes,
    with_gigabytes,
)
from emcensus.catalog import Catalog

#: Default grouping of `emcensus storage`: the issue's GB per year × instrument × technique × group.
STORAGE_BY = ("year", "instrument", "technique", "group")


def catalog_storage(catalog: Catalog, costs: CostModel | None = None, *, by: Sequence[str] = STORAGE_BY,
                    until: int | None = None) -> StorageSummary:
    """Bytes per group (every file kind: spectra and stacks take disk too), the growth fit, bytes of
    lost and published images, and what the lost images cost under `costs` (none: no cost lines).

    With `until`, only acquisitions up to that year count, and the fit takes every year up to it."""
    window = {} if until is None else {"until": until}
    current_year = until + 1 if until is not None else date.today().year
    parts = catalog.storage_parts(by, **window)  # one pass over the files for every figure below
    breakdown = with_gigabytes(sum_bytes(parts, by))
    growth = fit_growth({row["year"]: row["bytes"] for row in sum_bytes(parts, ["year"])}, current_year=current_year)
    split, notes = lost_vs_published(published_split(parts, "technique"), "technique", catalog.count_level_published())
    lines = []
    if costs is not None:
        loss = loss_breakdown("instrument", {row["instrument"]: row["count"] for row in catalog.count("instrument")},
                              {row["instrument"]: row["published"] for row in catalog.published("instrument")})
        lost = {row.key: row.acquired - row.published for row in loss.rows if not row.overcounted}
        notes += loss.notes()
        sessions, untimed = (find_sessions(catalog.acquisition_times(), costs.session_gap_minutes)
                             if costs.session_gap_minutes is not None else (None, None))
        total = split[-1]
        lines = acquisition_costs(lost, costs, sessions, untimed) + keeping_costs(
            total["lost_bytes"], total["published_bytes"], costs)
    return StorageSummary(breakdown, growth, split, lines, notes)
