"""Lost data broken down by any field, and storage by field with a yearly growth trend.

Inputs are plain mappings key → number, as a catalog GROUP BY returns them; None keys mean
"unknown" and are kept, because a large unknown share is itself a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emcensus.analysis.fov import DECADE_LABELS, decade_sort_key

Key = str | int | None

#: Fields whose keys are scale-bar decade labels, sorted by size rather than alphabetically.
DECADE_FIELDS = frozenset({"scale_bar", "scale_bar_decade", "decade"})


def sort_keys(field: str, keys: Any) -> list[Key]:
    """Keys in reading order: decades by size, years by number, names alphabetically, unknown last."""
    if field in DECADE_FIELDS or (keys and all(k in DECADE_LABELS for k in keys if k is not None)):
        return sorted(keys, key=decade_sort_key)
    return sorted(keys, key=lambda k: (k is None, not isinstance(k, int), k if isinstance(k, int) else 0, str(k)))


def key_label(key: Key) -> str:
    return "unknown" if key is None else str(key)


#: Why a share has no percentage: said once under every table that leaves one out.
OVERCOUNT_CAUSE = ("No percentage where more images were published than catalogued in the window: count-level "
                   "ledger rows and images from outside the archive count by their article's year (they name no "
                   "acquisition), or the archive is incomplete.")


def overcount_notes(shares: Iterable[tuple[str, PublishedShare]]) -> list[str]:
    """One line per (label, share) whose share is impossible, then the cause once; [] when none is."""
    notes = [f"{label}: {share.published:,} published, {share.acquired:,} acquired"
             for label, share in shares if share.overcounted]
    return [*notes, OVERCOUNT_CAUSE] if notes else []


class PublishedShare:
    """Published and lost % of anything counting `acquired` and `published` images.

    A share over 100 % is impossible, so it has no percentage (None) and a `note` says why."""

    __slots__ = ()
    acquired: int | None
    published: int

    @property
    def overcounted(self) -> bool:
        """More published than acquired: the ledger and the archive disagree."""
        return self.acquired is not None and self.published > self.acquired

    @property
    def published_pct(self) -> float | None:
        if not self.acquired or self.overcounted:
            return None
        return 100.0 * self.published / self.acquired

    @property
    def lost_pct(self) -> float | None:
        published = self.published_pct
        return None if published is None else 100.0 - published


@dataclass(frozen=True, slots=True)
class LossRow(PublishedShare):
    """Acquired and published images of one key."""

    key: Key
    acquired: int
    published: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "acquired": self.acquired, "published": self.published,
                "lost": None if self.overcounted else self.acquired - self.published,
                "published_pct": self.published_pct, "lost_pct": self.lost_pct}


@dataclass(frozen=True, slots=True)
class LossBreakdown:
    """Lost data by one field (year, instrument, technique, detector, scale-bar decade, group…)."""

    field: str
    rows: tuple[LossRow, ...]
    total: LossRow

    def to_records(self) -> list[dict[str, Any]]:
        """Rows then the total, ready for CSV/JSON; the key column is named after the field."""
        records = [row.to_dict() for row in self.rows] + [self.total.to_dict() | {"key": "TOTAL"}]
        return [{self.field: r.pop("key"), **r} for r in records]

    def notes(self) -> list[str]:
        """Which rows show no percentage, and why (an overcounted row makes the total overcounted too)."""
        return overcount_notes((f"{self.field} {key_label(row.key)}", row) for row in self.rows)


def loss_breakdown(field: str, acquired: Mapping[Key, int], published: Mapping[Key, int]) -> LossBreakdown:
    """Lost % per key of `field` from acquired and published image counts per key."""
    keys = sort_keys(field, set(acquired) | set(published))
    rows = tuple(LossRow(key, acquired.get(key, 0), published.get(key, 0)) for key in keys)
    total = LossRow("TOTAL", sum(row.acquired for row in rows), sum(row.published for row in rows))
    return LossBreakdown(field, rows, total)


def format_bytes(size: float) -> str:
    """1536 → "1.5 KiB": storage as people read it (binary units, like file managers)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class StorageTable:
    """Bytes per key of one field, with each key's share."""

    field: str
    bytes_by_key: tuple[tuple[Key, int], ...]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.bytes_by_key)

    def to_records(self) -> list[dict[str, Any]]:
        total = self.total_bytes
        return [{self.field: key_label(key), "bytes": size, "size": format_bytes(size),
                 "share_pct": 100.0 * size / total if total else None} for key, size in self.bytes_by_key]


def storage_table(field: str, bytes_by_key: Mapping[Key, int]) -> StorageTable:
    """Storage by year, instrument or technique, in reading order."""
    return StorageTable(field, tuple((key, bytes_by_key[key]) for key in sort_keys(field, list(bytes_by_key))))


@dataclass(frozen=True, slots=True)
class StorageTrend:
    """Bytes written per year and a least-squares line through them.

    `slope_bytes_per_year` is how much the yearly intake changes from one year to the next;
    `growth_pct_per_year` is that slope relative to the mean yearly intake."""

    years: tuple[int, ...]
    annual_bytes: tuple[int, ...]
    slope_bytes_per_year: float | None
    intercept_bytes: float | None

    @property
    def mean_bytes_per_year(self) -> float:
        return sum(self.annual_bytes) / len(self.annual_bytes) if self.annual_bytes else 0.0

    @property
    def growth_pct_per_year(self) -> float | None:
        mean = self.mean_bytes_per_year
        return None if self.slope_bytes_per_year is None or not mean else 100.0 * self.slope_bytes_per_year / mean

    @property
    def cumulative_bytes(self) -> tuple[int, ...]:
        running, result = 0, []
        for size in self.annual_bytes:
            running += size
            result.append(running)
        return tuple(result)

    def fitted(self, year: int) -> float | None:
        """The trend line's yearly intake for `year` (a projection outside the data)."""
        if self.slope_bytes_per_year is None or self.intercept_bytes is None:
            return None
        return self.intercept_bytes + self.slope_bytes_per_year * year

    def to_dict(self) -> dict[str, Any]:
        return {
            "years": list(self.years), "annual_bytes": list(self.annual_bytes),
            "cumulative_bytes": list(self.cumulative_bytes), "mean_bytes_per_year": self.mean_bytes_per_year,
            "slope_bytes_per_year": self.slope_bytes_per_year, "growth_pct_per_year": self.growth_pct_per_year,
            "projected_next_year_bytes": self.fitted(self.years[-1] + 1) if self.years else None,
        }


def storage_trend(bytes_by_year: Mapping[int | None, int]) -> StorageTrend:
    """Yearly intake with missing years inside the range as 0 (nothing written is a real zero);
    images of unknown year are left out of the fit."""
    known = {int(year): size for year, size in bytes_by_year.items() if year is not None}
    if not known:
        return StorageTrend((), (), None, None)
    years = tuple(range(min(known), max(known) + 1))
    sizes = tuple(known.get(year, 0) for year in years)
    if len(years) < 2:
        return StorageTrend(years, sizes, None, None)
    mean_x, mean_y = sum(years) / len(years), sum(sizes) / len(sizes)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(years, sizes))
             / sum((x - mean_x) ** 2 for x in years))
    return StorageTrend(years, sizes, slope, mean_y - slope * mean_x)
