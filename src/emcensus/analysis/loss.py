"""Lost data broken down by any field, and storage by field (growth and costs: `analysis.storage`).

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
