"""Filters and groupings of `count`, compiled to SQL over the `images` table.

The same `ImageFilter` serves the CLI, the Python API and (later) the web dashboard, so that a
filter means the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from emcensus.analysis.fov import DECADE_LABELS
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
    "scalebar_decade": "scalebar_decade",
    "fov_source": "fov_source",
    "group": "group_name",
    "project": "project",
}

_LENGTH_UNITS = {"": 0, "m": 0, "mm": -3, "um": -6, "µm": -6, "μm": -6, "nm": -9, "pm": -12}  # powers of ten
_LENGTH = r"[0-9.]+(?:[eE][+-]?[0-9]+)?\s*(?:[mnpuµμ]?m)?"
_LENGTH_RANGE = re.compile(rf"^\s*({_LENGTH})?\s*(?:-|:|\.\.)\s*({_LENGTH})?\s*$")

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


def _length(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+(?:[eE][+-]?[0-9]+)?)\s*(\S*)", text.strip())
    if not match or match.group(2) not in _LENGTH_UNITS:
        raise ValueError(text)
    return float(Decimal(match.group(1)).scaleb(_LENGTH_UNITS[match.group(2)]))  # exact: 10um is 1e-05


def parse_length_range(value: Any, name: str) -> tuple[float | None, float | None]:
    """`1e-6`, `1um-10um`, `500nm:2um`, `-1mm` → inclusive (low, high) in metres; None = open."""
    if value is None or isinstance(value, (int, float, tuple)):
        return parse_range(value, name)
    text = str(value).replace(" ", "")
    try:
        if re.fullmatch(_LENGTH, text):
            return _length(text), _length(text)
        match = _LENGTH_RANGE.match(text)
        if match:
            low, high = match.groups()
            return (_length(low) if low else None, _length(high) if high else None)
    except (ValueError, InvalidOperation):
        pass
    raise QueryError(f"--{name.replace('_', '-')}: {value!r} is not a length or a range like 1um-10um (units: m, mm, um, nm)")


def _fold_decade(label: str) -> str:
    """Typable form of a decade label: "10–100 nm" ~ "10-100nm", "100 nm–1 µm" ~ "100nm-1um"."""
    return label.replace("–", "-").replace("µ", "u").replace("≥", ">=").replace(" ", "").casefold()


def _decade_labels(value: Any) -> list[str]:
    by_fold = {_fold_decade(label): label for label in DECADE_LABELS}
    labels = []
    for item in _as_list(value):
        label = by_fold.get(_fold_decade(item))
        if label is None:
            raise QueryError(f"--scalebar-decade: {item!r} is not a decade; decades: {', '.join(DECADE_LABELS)}")
        labels.append(label)
    return labels


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
    fov: Any = None  # FOV width in metres or a range with units: "1um-10um"
    scalebar_decade: Any = None  # decade label(s): "10–100 nm" (or "10-100nm")
    group: Any = None  # from the facility layout
    project: Any = None
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

    def year_range(self) -> tuple[int | None, int | None]:
        """Inclusive (first, last) year from --year, --since and --until together; None = open."""
        low, high = parse_range(self.year, "year", int)
        if self.since is not None:
            low = max(low, int(self.since)) if low is not None else int(self.since)
        if self.until is not None:
            high = min(high, int(self.until)) if high is not None else int(self.until)
        return low, high

    def where(self, root_ids: dict[str, int]) -> tuple[str, list[Any]]:
        """SQL WHERE clause (without the keyword) and its parameters."""
        clauses: list[str] = ["readable = 1"]
        params: list[Any] = []
        if not self.include_missing:
            clauses.append("status = 'present'")

        _add_range(clauses, params, "year", *self.year_range())
        _add_range(clauses, params, "magnification", *parse_range(self.magnification, "magnification"))
        _add_range(clauses, params, "fov_m", *parse_length_range(self.fov, "fov"))
        decades = _decade_labels(self.scalebar_decade)
        if decades:
            clauses.append(f"scalebar_decade IN ({', '.join('?' * len(decades))})")
            params.extend(decades)

        for column, value in (
            ("instrument", self.instrument),
            ("technique", [v.upper() for v in _as_list(self.technique)]),
            ("detector_family", [v.upper() for v in _as_list(self.detector)]),
            ("vendor", self.vendor),
            ("group_name", self.group),
            ("project", self.project),
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
