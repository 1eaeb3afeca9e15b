"""Filters and groupings of `count`, compiled to SQL over the `images` table.

The same `ImageFilter` serves the CLI, the Python API and (later) the web dashboard, so that a
filter means the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from emcensus.errors import QueryError

#: Fields `count --by` groups on, with the SQL expression behind each.
GROUP_FIELDS: dict[str, str] = {
    "year": "year",
    "instrument": "instrument",
    "technique": "technique",
    "detector": "detector_family",
    "detector_family": "detector_family",
    "detector_raw": "detector",
    "magnification": "magnification",
    "vendor": "vendor",
    "root": "root_id",
    "metadata_source": "metadata_source",
    "acquired_at_source": "acquired_at_source",
    "month": "substr(acquired_at, 1, 7)",
}

_RANGE = re.compile(r"^\s*([0-9.eE+]*)\s*(?:-|:|\.\.)\s*([0-9.eE+]*)\s*$")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v) for v in value]
    else:
        items = [str(value)]
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def parse_range(value: Any, name: str, cast: type = float) -> tuple[Any, Any]:
    """`5000`, `1000-50000`, `2015:2019`, `-2019`, `2015-` → inclusive (low, high); None = open."""
    if value is None:
        return None, None
    if isinstance(value, (int, float)):
        return cast(value), cast(value)
    if isinstance(value, tuple) and len(value) == 2:
        return value
    text = str(value).replace(",", "").replace("_", "")
    try:
        match = _RANGE.match(text)
        if match:
            low, high = match.groups()
            return (cast(float(low)) if low else None, cast(float(high)) if high else None)
        return cast(float(text)), cast(float(text))
    except ValueError:
        raise QueryError(f"--{name.replace('_', '-')}: {value!r} is not a number or a range like 1000-50000") from None


@dataclass
class ImageFilter:
    """Which images to count. Every field narrows the set; lists mean 'any of'."""

    year: Any = None  # 2019, "2015-2019"
    since: int | None = None  # first year, inclusive
    until: int | None = None  # last year, inclusive (the paper stops at 2023)
    instrument: Any = None
    technique: Any = None
    detector: Any = None  # detector family (SE, LA-BSE, BF-STEM, ...)
    vendor: Any = None
    magnification: Any = None  # 50000 or "1000-50000"
    root: Any = None  # a scan root path
    path: str | None = None  # glob on the full path, e.g. "*/GroupA/*"
    include_missing: bool = False

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> ImageFilter:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise QueryError(f"unknown filter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def where(self, root_ids: dict[str, int]) -> tuple[str, list[Any]]:
        """SQL WHERE clause (without the keyword) and its parameters."""
        clauses: list[str] = ["readable = 1"]
        params: list[Any] = []
        if not self.include_missing:
            clauses.append("status = 'present'")

        low, high = parse_range(self.year, "year", int)
        if self.since is not None:
            low = max(low, int(self.since)) if low is not None else int(self.since)
        if self.until is not None:
            high = min(high, int(self.until)) if high is not None else int(self.until)
        _add_range(clauses, params, "year", low, high)
        _add_range(clauses, params, "magnification", *parse_range(self.magnification, "magnification"))

        for column, value in (
            ("instrument", self.instrument),
            ("technique", [v.upper() for v in _as_list(self.technique)]),
            ("detector_family", [v.upper() for v in _as_list(self.detector)]),
            ("vendor", self.vendor),
        ):
            values = _as_list(value)
            if values:
                clauses.append(f"{column} COLLATE NOCASE IN ({', '.join('?' * len(values))})")
                params.extend(values)

        roots = _as_list(self.root)
        if roots:
            ids = []
            for root in roots:
                match = [rid for path, rid in root_ids.items() if path == root or path.rstrip("/") == root.rstrip("/")]
                if not match:
                    raise QueryError(f"--root: {root} is not a scan root of this catalog; roots: {', '.join(root_ids) or 'none'}")
                ids.extend(match)
            clauses.append(f"root_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        if self.path:
            clauses.append("path GLOB ?")
            params.append(self.path)
        return " AND ".join(clauses), params


def _add_range(clauses: list[str], params: list[Any], column: str, low: Any, high: Any) -> None:
    if low is not None and low == high:
        clauses.append(f"{column} = ?")
        params.append(low)
        return
    if low is not None:
        clauses.append(f"{column} >= ?")
        params.append(low)
    if high is not None:
        clauses.append(f"{column} <= ?")
        params.append(high)


def group_columns(by: Any) -> list[tuple[str, str]]:
    """(name, SQL expression) for each `--by` field, in order."""
    names = _as_list(by)
    unknown = [name for name in names if name not in GROUP_FIELDS]
    if unknown:
        raise QueryError(f"cannot group by {', '.join(unknown)}; fields: {', '.join(GROUP_FIELDS)}")
    return [(name, GROUP_FIELDS[name]) for name in names]
