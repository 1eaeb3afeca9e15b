"""Filters and groupings of `count`, compiled to SQL over the `images` table.

The same `ImageFilter` serves the CLI, the Python API and the web dashboard, so that a filter means
the same everywhere, and so does a refusal: its messages name no CLI flag (the API answers them
with a 400).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from emcensus.analysis.fov import DECADE_LABELS, format_length
from emcensus.analysis.publications import YEAR_RANGE
from emcensus.catalog.connection import file_stamp, stamp_settled
from emcensus.catalog.paths import db_text, display_path
from emcensus.catalog.quality import CURRENT_FILE
from emcensus.catalog.schema import EXTENSION_CHARACTERS, EXTENSION_SQL
from emcensus.errors import QueryError
from emcensus.record import KINDS
from emcensus.vocab import TECHNIQUES

#: The row of `quality` measured on a file as it is now (a file changed since is not measured). The
#: outer row gives only its id, which every index holds: a group-by stays on the census index instead
#: of reading each row of the table for its size and mtime (2.5 s -> 0.5 s at a million images).
_CURRENT_QUALITY = f"FROM quality q JOIN images i ON {CURRENT_FILE} WHERE q.image_id = images.id"

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
    "kind": "kind",
    "quality_flag": f"(SELECT q.quality_flag {_CURRENT_QUALITY})",
}

#: Columns of `images` each filter reads (`quality`: the quality table's), beside the readable, status
#: and kind every filter reads: what decides whether the census cube can answer a query.
FILTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "year": ("year",), "since": ("year",), "until": ("year",), "instrument": ("instrument",),
    "technique": ("technique",), "detector": ("detector_family",), "vendor": ("vendor",),
    "magnification": ("magnification",), "fov": ("fov_m",), "scalebar_decade": ("scalebar_decade",),
    "group": ("group_name",), "project": ("project",), "root": ("root_id",), "path": ("path",),
    "include_missing": (), "kind": (), "blank": ("quality",), "sharpness_pct": ("quality",),
    "quality_flag": ("quality",),
}

#: Quality metrics of the file's current state (`emcensus quality`), as sort keys: NULL when not measured.
QUALITY_SORTS = ("sharpness_pct", "snr", "noise_sigma", "resolution_m", "dup_group")
#: Keys `Catalog.images` sorts on (`-key`: descending), with the SQL expression behind each.
SORT_FIELDS: dict[str, str] = {
    **GROUP_FIELDS, "path": "path", "acquired_at": "acquired_at", "size_bytes": "size_bytes",
    **{name: f"(SELECT q.{name} {_CURRENT_QUALITY})" for name in QUALITY_SORTS},
}

#: `_glob_tokens` of the characters an extension in the folder table is made of.
_EXTENSION_TOKENS = frozenset("=" + char for char in EXTENSION_CHARACTERS)

#: What `emcensus quality` may call an image (most serious first), as `--quality-flag` takes it.
QUALITY_FLAGS = ("blank", "clipped", "charging", "drift", "blurred", "noisy", "ok")
_YES, _NO = ("yes", "true", "1"), ("no", "false", "0")

#: Filters whose values must be known to the catalog: (filter, column, what to call it).
_KNOWN_VALUES = (("instrument", "instrument", "instrument"), ("detector", "detector_family", "detector"),
                 ("vendor", "vendor", "vendor"), ("group", "group_name", "group"), ("project", "project", "project"))

_LENGTH_UNITS = {"": 0, "m": 0, "mm": -3, "um": -6, "µm": -6, "μm": -6, "nm": -9, "pm": -12}  # powers of ten
_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_LENGTH = rf"{_NUMBER}(?:[mnpuµμ]?m)?"
_SEPARATOR = r"(?:-|:|\.\.)"

#: `kind` of the images counted unless a filter asks for others; "all" lifts the restriction.
DEFAULT_KIND, ALL_KINDS = "image", "all"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v) for v in value]
    else:
        items = [str(value)]
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _split_range(text: str, number: str) -> tuple[str | None, str | None] | None:
    """`5`, `1-5`, `1:5`, `1..5`, `1-`, `:5` → (low, high) texts; None when it is neither a value
    nor a range. A leading "-" is a minus sign, not an open range (write `:5` for "up to 5")."""
    if re.fullmatch(f"-?{number}", text):
        return text, text
    match = re.fullmatch(f"({number})?{_SEPARATOR}({number})?", text)
    if match is None or text.startswith("-") or match.groups() == (None, None):
        return None
    return match.group(1), match.group(2)


def _check_order(low: Any, high: Any, name: str, show: Any = str) -> None:
    if low is not None and high is not None and low > high:
        raise QueryError(f"{name} range {show(low)}–{show(high)} is reversed: the first value must not be larger")


def _positive(value: Any, name: str, original: Any) -> float:
    """`value` as a positive finite float; QueryError quoting `original` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise QueryError(f"{name}: {_quote(original)} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise QueryError(f"{name} {_quote(original)} must be a positive number")
    return number


def parse_range(value: Any, name: str) -> tuple[float | None, float | None]:
    """`5000`, `1000-50000`, `1000:50000`, `1000-` or `:50000` → inclusive (low, high) of positive
    finite numbers; None = open. Negative, zero, infinite and reversed values are refused."""
    if value is None:
        return None, None
    if isinstance(value, tuple) and len(value) == 2:
        low, high = (None if v is None else _positive(v, name, v) for v in value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        low = high = _positive(value, name, value)
    else:
        text = re.sub(r"[\s,_]", "", str(value))
        parts = _split_range(text, _NUMBER)
        if parts is None:
            raise QueryError(f"{name}: {_quote(value)} is not a number or a range like 1000-50000")
        low, high = (None if part is None else _positive(part, name, part) for part in parts)
    _check_order(low, high, name, lambda v: f"{v:g}")
    return low, high


def _year(value: Any, what: str) -> int:
    """A whole year inside YEAR_RANGE, from an int or its text (2019.5 and True are refused)."""
    text = str(value).strip()
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"\d+", text):
        raise QueryError(f"{what}: {_quote(value)} is not a year (a whole number like 2019)")
    if len(text) > 4 or not YEAR_RANGE[0] <= int(text) <= YEAR_RANGE[1]:
        raise QueryError(f"{what}: {_quote(text)} is not a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
    return int(text)


def _quote(value: Any) -> str:
    """A value as an error message quotes it: at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def parse_year_range(value: Any) -> tuple[int | None, int | None]:
    """`2019`, `2015-2019`, `2015:2019`, `2015-` or `:2019` → inclusive (first, last) year; None = open."""
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        return _year(value, "year"), _year(value, "year")
    parts = _split_range(re.sub(r"\s", "", str(value)), r"[0-9]+")
    if parts is None:
        raise QueryError(f"year: {_quote(value)} is not a year or a range of years like 2015-2019")
    low, high = (None if part is None else _year(part, "year") for part in parts)
    _check_order(low, high, "year")
    return low, high


def _length(text: str) -> float:
    match = re.fullmatch(rf"({_NUMBER})(\S*)", text)
    if not match or match.group(2) not in _LENGTH_UNITS:
        raise ValueError(text)
    return float(Decimal(match.group(1)).scaleb(_LENGTH_UNITS[match.group(2)]))  # exact: 10um is 1e-05


def parse_length_range(value: Any, name: str) -> tuple[float | None, float | None]:
    """`1e-6`, `1um-10um`, `500nm:2um`, `:1mm` → inclusive (low, high) in metres; None = open."""
    if value is None or isinstance(value, (int, float, tuple)):
        return parse_range(value, name)
    text = str(value).replace(" ", "")
    parts = _split_range(text, _LENGTH)
    try:
        if parts is None:
            raise ValueError(text)
        low, high = (None if part is None else _positive(_length(part), name, part) for part in parts)
    except (ValueError, InvalidOperation):
        raise QueryError(f"{name}: {_quote(value)} is not a length or a range like 1um-10um (units: m, mm, um, nm)") from None
    _check_order(low, high, name, format_length)
    return low, high


def _kinds(value: Any) -> list[str] | None:
    """Kinds to count: `image` unless asked; None for all kinds."""
    kinds = [kind.casefold() for kind in _as_list(value)] or [DEFAULT_KIND]
    if ALL_KINDS in kinds:
        return None
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise QueryError(f"unknown kind {_quote(unknown[0])}; kinds: {', '.join(KINDS)}, {ALL_KINDS}")
    return kinds


def _fold_decade(label: str) -> str:
    """Typable form of a decade label: "10–100 nm" ~ "10-100nm", "100 nm–1 µm" ~ "100nm-1um"."""
    return label.replace("–", "-").replace("µ", "u").replace("≥", ">=").replace(" ", "").casefold()


def _decade_labels(value: Any) -> list[str]:
    by_fold = {_fold_decade(label): label for label in DECADE_LABELS}
    labels = []
    for item in _as_list(value):
        label = by_fold.get(_fold_decade(item))
        if label is None:
            raise QueryError(f"scale-bar decade {_quote(item)} is not a decade; decades: {', '.join(DECADE_LABELS)}")
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
    kind: Any = None  # "image" unless given: spectrum, diffraction, spectrum-image, stack, sidecar-only, all
    blank: Any = None  # "yes" | "no": measured as an empty frame or not (`emcensus quality`)
    sharpness_pct: Any = None  # "50-100": percentile of sharpness among comparable images
    quality_flag: Any = None  # flag(s): ok, blank, clipped, charging, drift, blurred, noisy

    def __post_init__(self) -> None:
        """Refuse nonsense at once (a plausible 0 for a typo is worse than an error); values that
        need the catalog (unknown instruments, roots) are checked by `where`."""
        self.year_range()
        parse_range(self.magnification, "magnification")
        parse_length_range(self.fov, "fov")
        _decade_labels(self.scalebar_decade)
        _kinds(self.kind)
        _blank(self.blank)
        parse_percent_range(self.sharpness_pct, "sharpness percentile")
        _quality_flags(self.quality_flag)
        unknown = [t for t in _as_list(self.technique) if t.upper() not in TECHNIQUES]
        if unknown:
            raise QueryError(f"unknown technique {_quote(unknown[0])}; known: {', '.join(TECHNIQUES)}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> ImageFilter:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise QueryError(f"unknown filter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def year_range(self) -> tuple[int | None, int | None]:
        """Inclusive (first, last) year of year, since and until together; None = open.

        A window that holds no year (since 2020, until 2015) is refused, not answered with 0."""
        low, high = parse_year_range(self.year)
        if self.since is not None:
            since = _year(self.since, "since")
            low = since if low is None else max(low, since)
        if self.until is not None:
            until = _year(self.until, "until")
            high = until if high is None else min(high, until)
        if low is not None and high is not None and low > high:
            raise QueryError(f"no year is in the window asked for: the first year ({low}) is after the last ({high})")
        return low, high

    def columns(self) -> set[str]:
        """Every column the WHERE clause of `where` reads."""
        asked = [name for name, value in vars(self).items()
                 if value is not None and not (isinstance(value, (str, list, tuple)) and not value)]
        columns = {"readable", "status", "kind"}.union(*(FILTER_COLUMNS[name] for name in asked))
        glob = path_in_folders(self.path) if self.path else None
        if glob is not None:  # the folder table may decide it (`where(table=...)`, `CubeMixin.census_source`)
            columns = columns - {"path"} | {"folder", "extension", glob}
        return columns

    def where(self, db: sqlite3.Connection, *, in_index_order: bool = False, table: str = "images") -> tuple[str, list[Any]]:
        """SQL WHERE clause (without the keyword) and its parameters, for the catalog behind `db`.

        Values the catalog does not know (an instrument, a group, a root) are refused with the
        known ones listed. `in_index_order`: for rows read in the order of the path index walked and
        stopped at the page, which matches `--path` row by row as it goes, with no sort of all matches
        nor a read of all their ids first.
        `table`: the table the clause is for (`images` or a cube holding `columns()`)."""
        self._check_known(db)
        clauses: list[str] = ["readable = 1"]
        params: list[Any] = []
        if not self.include_missing:
            clauses.append("status = 'present'")
        kinds = _kinds(self.kind)
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)

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
            root_ids = dict(db.execute("SELECT path, id FROM roots"))
            ids = []
            for root in roots:
                stored = db_text(str(root)).rstrip("/")  # a root named in bytes that are not UTF-8 matches too
                match = [rid for path, rid in root_ids.items() if path.rstrip("/") == stored]
                if not match:
                    known = ", ".join(display_path(path) for path in root_ids) or "none"
                    raise QueryError(f"{display_path(stored)} is not a scan root of this catalog; roots: {known}")
                ids.extend(match)
            clauses.append(f"root_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        glob = path_in_folders(self.path) if self.path and table == "census_folders" else None
        if glob is not None:
            clause, values = glob.decided()
            clauses.append(clause)
            params.extend(values)
        elif self.path:
            clause, values = _path_clause(db, self.path, in_index_order)
            clauses.append(clause)
            params.extend(values)
        self._add_quality(db, clauses, params)
        return " AND ".join(clauses), params

    def _add_quality(self, db: sqlite3.Connection, clauses: list[str], params: list[Any]) -> None:
        """Filters on the quality of each file's current state: an image never measured matches none
        of them (unknown is neither blank nor sharp), and a catalog never measured is refused."""
        quality: list[str] = []
        blank = _blank(self.blank)
        if blank is not None:
            quality.append("q.blank = ?")
            params.append(int(blank))
        _add_range(quality, params, "q.sharpness_pct", *parse_percent_range(self.sharpness_pct, "sharpness percentile"))
        flags = _quality_flags(self.quality_flag)
        if flags:
            quality.append(f"q.quality_flag IN ({', '.join('?' * len(flags))})")
            params.extend(flags)
        if not quality:
            return
        if db.execute("SELECT 1 FROM quality LIMIT 1").fetchone() is None:
            raise QueryError("no image of this catalog has quality metrics yet: run `emcensus quality` first")
        clauses.append(f"EXISTS (SELECT 1 {_CURRENT_QUALITY} AND {' AND '.join(quality)})")

    def _check_known(self, db: sqlite3.Connection) -> None:
        """Each instrument, detector, vendor, group and project named must occur in the catalog: looked
        up in a cube, which holds every value of these columns (1 M images: a refused typo 0.3-0.4 s
        -> ms)."""
        from emcensus.catalog.cube import values_source  # cube.py imports this module

        for name, column, what in _KNOWN_VALUES:
            values = _as_list(getattr(self, name))
            table = values_source(db, column) if values else "images"
            for value in values:
                sql = f"SELECT 1 FROM {table} WHERE {column} = ? COLLATE NOCASE LIMIT 1"
                if db.execute(sql, (value,)).fetchone() is None:
                    known = [row[0] for row in db.execute(
                        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1")]
                    raise QueryError(f"unknown {what} {_quote(value)}; known: {', '.join(known) or 'none'}")


#: Files under the folders (the folder table, migration 12) whose own path, '/' included, matches the
#: glob: each matched folder is a range of the path index (every path that starts with it). A folder
#: below a matched one is matched too: its files are found twice, counted once. The folder of a path
#: without a '/' is '', which every path starts with: its range ends above every text (a blob).
FOLDER_FILES = ("JOIN images i ON i.path >= f.folder AND i.path < CASE f.folder WHEN '' THEN x''"
                 " ELSE substr(f.folder, 1, length(f.folder) - 1) || '0' END")
_FILES_OF_MATCHED_FOLDERS = f"rowid IN (SELECT i.rowid FROM (SELECT DISTINCT folder FROM census_folders WHERE folder GLOB ?) f {FOLDER_FILES})"
#: Files under the folders matching a glob (the candidates, `_candidate_folders`) that match another.
_MATCHES_IN_CANDIDATE_FOLDERS = _FILES_OF_MATCHED_FOLDERS[:-1] + " AND i.path GLOB ?)"

#: What `_candidate_folders` weighs, in reads of one entry of the path index (~0.12 us): a seek to a
#: folder's range of it, and a file read there and matched (1 M images, 2,645 folders of 68 k files:
#: 29 ms of CPU).
_FOLDER_SEEK, _FOLDER_FILE = 32, 2.5


def _path_clause(db: sqlite3.Connection, pattern: str, in_index_order: bool) -> tuple[str, list[str]]:
    """The SQL that matches `path GLOB pattern` (clause, parameters) the fastest way it can.

    A page in path order walks the path index in order, stopped at the page (0.7 s -> 1 ms: no sort of
    580 k matches). While the folder table is in step, read in the snapshot of the query (a bulk load
    drops its triggers): a count of a glob that the folder decides (`folder_decides`) matches the
    folders and reads their files' ranges of the path index (1 M images, `*/vol03/*`: 0.3 s -> 0.1 s of
    CPU); another glob holding a '/' reads the ranges of the folders it may match in (1 M images,
    `*/2019-*/*x*.tif`: 0.19-0.22 -> 0.05 s of CPU). Any other glob: every entry of the path index, not
    row by row in a table walk the other filters chose (a literal prefix is a range of it; 2 s -> 0.3 s
    at a million images)."""
    from emcensus.catalog.cube import cube_in_step  # cube.py imports this module

    if in_index_order:
        return "path GLOB ?", [pattern]
    if db.in_transaction and cube_in_step(db, "census_folders"):
        if folder_decides(pattern):
            return _FILES_OF_MATCHED_FOLDERS, [pattern]
        folders = _candidate_folders(db, pattern)
        if folders is not None:
            return _MATCHES_IN_CANDIDATE_FOLDERS, [folders, pattern]
    return "rowid IN (SELECT rowid FROM images WHERE path GLOB ?)", [pattern]


def _candidate_folders(db: sqlite3.Connection, pattern: str) -> str | None:
    """A glob of the folders (the folder table's) that hold every path `pattern` matches, when reading
    their files costs less than reading every path; None when the pattern holds no '/' of its own.

    The last literal '/' of the pattern matches a '/' of the path, which is one of its folder's: the
    part of the pattern up to it matches a start of the folder, and '*' the rest of the folder."""
    pieces = _glob_pieces(pattern) or []
    slash = max((at for at, (token, _) in enumerate(pieces) if token == "=/"), default=None)
    if slash is None:
        return None
    folders = "".join(text for _, text in pieces[:slash + 1]) + "*"
    candidates, files, total = db.execute(
        "SELECT count(DISTINCT CASE WHEN m THEN folder END), coalesce(sum(CASE WHEN m THEN n END), 0), coalesce(sum(n), 0)"
        " FROM (SELECT folder, n, folder GLOB ? AS m FROM census_folders)", (folders,)).fetchone()
    return folders if candidates * _FOLDER_SEEK + files * _FOLDER_FILE < total else None


def _glob_tokens(pattern: str) -> list[str] | None:
    """A GLOB pattern as SQLite reads it: '*', '?', '[' for a class, or a literal character; None
    when a class is not closed (such a pattern matches nothing)."""
    pieces = _glob_pieces(pattern)
    return None if pieces is None else [token for token, _ in pieces]


def _glob_pieces(pattern: str) -> list[tuple[str, str]] | None:
    """(token as `_glob_tokens` gives it, its text in the pattern) for each token of a GLOB pattern."""
    pieces, at = [], 0
    while at < len(pattern):
        char = pattern[at]
        if char != "[":
            pieces.append((char if char in "*?" else "=" + char, char))
            at += 1
            continue
        end = at + 1 + (pattern[at + 1:at + 2] == "^")
        end = pattern.find("]", end + 1)  # a ']' first in the class is one of its characters
        if end < 0:
            return None
        pieces.append(("[", pattern[at:end + 1]))
        at = end + 1
    return pieces


def folder_decides(pattern: str) -> bool:
    """Whether `path GLOB pattern` is decided by the path's folder (all of it up to its last '/',
    that '/' included) alone: when the pattern is a part ending in a literal '/', then only '*'s. The
    '/' it ends in is one of the path's, so that part matches a prefix of the folder, and the '*'s
    take the rest of the folder and the name, or anything after it: the path matches exactly when
    its folder does (tests/catalog/test_query_path.py holds it to plain GLOB)."""
    tokens = _glob_tokens(pattern)
    if not tokens:
        return False
    stars = 0
    while stars < len(tokens) and tokens[-1 - stars] == "*":
        stars += 1
    return 0 < stars < len(tokens) and tokens[-1 - stars] == "=/"


#: Extensions longer than this (none in practice) are left undecided by `FolderGlob.undecided`.
_LONGEST_EXTENSION = 32


class FolderGlob(str):
    """A `--path` glob as the folder table (folder, extension, file state) tests it: an entry of
    `ImageFilter.columns()` beside the table's columns (its text: `path GLOB <pattern>`).

    The glob is a head (only '*'s, or a part `folder_decides` ending in '*') and a tail of `length`
    tokens with no '*' (`*.t?f`: `*` and `.t?f`). A path is its folder, a name without '/', and its
    extension (`schema.EXTENSION_SQL`) at the end when it has one. A row whose extension holds the
    whole tail decides all its files by itself: they match when the extension's last characters
    match the tail and the folder the head (the tail then lies in the name, so the head's last '/'
    is one of the folder's). A row whose extension is shorter than the tail, or absent, is undecided
    (the name before the extension is unknown) unless the extension can not end the tail; when the
    tail ends in a literal '.' and extension characters, no path without an extension matches. The
    folder matching the head is needed for every match. Undecided rows exist in few catalogs (a name
    without an extension, `*.t?f` against `x.t.f`): while one matches, the glob is read from the
    paths (tests/catalog/test_query_path.py holds both to plain GLOB)."""

    head: str
    tail_pieces: tuple[tuple[str, str], ...]  # (token, its text) of the tail, as `_glob_pieces` gives them

    @property
    def tail(self) -> str:
        return "".join(text for _, text in self.tail_pieces)

    @property
    def length(self) -> int:
        """The tail's tokens: the characters it matches."""
        return len(self.tail_pieces)

    def decided(self) -> tuple[str, list[str]]:
        """(clause, parameters) over the folder table: the rows all of whose files match."""
        if not self.length:
            return "folder GLOB ?", [self.head]
        pieces = [token for token, _ in self.tail_pieces]
        if pieces[0] == "=." and _EXTENSION_TOKENS.issuperset(pieces[1:]):  # `*.tif`: that extension (half the CPU)
            return "folder GLOB ? AND extension = ?", [self.head, self.tail]
        return (f"folder GLOB ? AND length(extension) >= {self.length} AND substr(extension, -{self.length}) GLOB ?",
                [self.head, self.tail])

    def undecided(self) -> tuple[str, list[str]]:
        """(clause, parameters) over the folder table: the rows some files of which may match, and
        others not (an over-approximation: every other row is decided)."""
        if not self.length:
            return "0", []
        pieces = [token for token, _ in self.tail_pieces]
        # a shorter extension starts with a '.' that one of the tail's tokens after its first must match
        shorter = min(self.length - 1, _LONGEST_EXTENSION) if {"?", "=.", "["} & set(pieces[1:]) else 0
        cases = " ".join(f"WHEN {size} THEN extension GLOB ?" for size in range(1, shorter + 1))
        suffixes = ["".join(text for _, text in self.tail_pieces[-size:]) for size in range(1, shorter + 1)]
        literal = 0  # the extension characters the tail ends in
        while literal < len(pieces) and pieces[-1 - literal] in _EXTENSION_TOKENS:
            literal += 1
        if literal < len(pieces) and pieces[-1 - literal] == "=." and not cases:
            return "0", []  # no row can be undecided (`*.tif`): no read of the table to know it
        none = "0" if literal < len(pieces) and pieces[-1 - literal] == "=." else "extension IS NULL"
        short = f"length(extension) < {self.length} AND CASE length(extension) {cases} ELSE 1 END" if cases else "0"
        return f"folder GLOB ? AND ({none} OR {short})", [self.head, *suffixes]

    def undecided_files(self) -> tuple[str, list[str]]:
        """(clause, parameters) over `images`: the files the glob matches among those of the undecided
        rows, read from their folders' ranges of the path index only (the decided rows are summed
        over the folder table: `CubeMixin.folders_and_files`). A file is of an undecided row when
        its own folder (a range's files not in a folder below) and extension meet `undecided`'s
        clause, which no decided row meets."""
        clause, params = self.undecided()
        return (f"rowid IN (SELECT rowid FROM (SELECT i.rowid, i.path, f.folder, {EXTENSION_SQL.format(path='i.path')}"
                f" AS extension FROM (SELECT DISTINCT folder FROM census_folders WHERE {clause}) f {FOLDER_FILES}"
                f" AND instr(substr(i.path, length(f.folder) + 1), '/') = 0) WHERE {clause} AND path GLOB ?)",
                [*params, *params, self.head + self.tail])


def literal_extension(pattern: str) -> str | None:
    """The extension (`schema.EXTENSION_SQL`) of every path `pattern` matches, when the pattern ends in
    a literal '.' and extension characters (`*_001.tif`: '.tif'), a glob holding no '/' of its own; None
    otherwise."""
    tokens = _glob_tokens(pattern) or ["=/"]
    if "=/" in tokens:
        return None
    run = 0
    while run < len(tokens) and tokens[-1 - run] in _EXTENSION_TOKENS:
        run += 1
    if not run or run == len(tokens) or tokens[-1 - run] != "=.":
        return None
    return "." + "".join(token[1:] for token in tokens[len(tokens) - run:])


def path_in_folders(pattern: str) -> FolderGlob | None:
    """The glob as the folder table tests it (`FolderGlob`), or None when its head is neither only
    '*'s nor a part the folder decides, it has no '*', or a class is left open."""
    pieces = _glob_pieces(pattern)
    if not pieces or "*" not in (token for token, _ in pieces):
        return None
    last_star = max(at for at, (token, _) in enumerate(pieces) if token == "*")
    head, tail = "".join(text for _, text in pieces[:last_star + 1]), pieces[last_star + 1:]
    if head.strip("*") and not folder_decides(head):
        return None
    glob = FolderGlob(f"path GLOB {pattern}")
    glob.head, glob.tail_pieces = head, tuple(tail)
    return glob


def _blank(value: Any) -> bool | None:
    """`yes`/`no` (also true/false, 1/0) → True/False; None when not asked."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _YES or text in _NO:
        return text in _YES
    raise QueryError(f"blank: {_quote(value)} is not yes or no")


def _quality_flags(value: Any) -> list[str]:
    flags = [flag.casefold() for flag in _as_list(value)]
    unknown = [flag for flag in flags if flag not in QUALITY_FLAGS]
    if unknown:
        raise QueryError(f"unknown quality flag {_quote(unknown[0])}; flags: {', '.join(QUALITY_FLAGS)}")
    return flags


def parse_percent_range(value: Any, name: str) -> tuple[float | None, float | None]:
    """`50-100`, `90-`, `:10`, `50` → inclusive (low, high) percentiles between 0 and 100; None = open."""
    if value is None or value == "":
        return None, None
    parts = _split_range(re.sub(r"[\s%]", "", str(value)), _NUMBER)
    if parts is None:
        raise QueryError(f"{name}: {_quote(value)} is not a percentile or a range like 50-100")
    low, high = (None if part is None else float(part) for part in parts)
    for bound in (low, high):
        if bound is not None and not 0 <= bound <= 100:
            raise QueryError(f"{name} {bound:g} is not a percentile (0 to 100)")
    _check_order(low, high, name, lambda v: f"{v:g}")
    return low, high


#: A single measured value (a magnification, a FOV) matches within this relative difference: the
#: rounded value that `count` prints finds the images it counted (119.99976834 is printed as 120).
_SAME_VALUE = 1e-5


def _add_range(clauses: list[str], params: list[Any], column: str, low: Any, high: Any) -> None:
    if low is not None and low == high:
        if isinstance(low, float):
            low, high = low * (1 - _SAME_VALUE), high * (1 + _SAME_VALUE)
        else:
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
    """(name, SQL expression) for each `--by` field, in order; a field named twice is grouped on once."""
    names = list(dict.fromkeys(_as_list(by)))
    unknown = [name for name in names if name not in GROUP_FIELDS]
    if unknown:
        raise QueryError(f"cannot group by {', '.join(unknown)}; fields: {', '.join(GROUP_FIELDS)}")
    return [(name, GROUP_FIELDS[name]) for name in names]


class ResultCache:
    """Rows of reads on read-only catalogs, kept while the catalog file and its WAL are unchanged.

    The dashboard asks the same counts on every visit, and at a million images one group-by reads a
    million index entries; any write (a scan, a ledger import, a decision) changes the files' size or
    mtime, and the next read computes again. Results over `max_rows` rows are never kept, nor results
    read while the files were written less than `SETTLED_S` ago (a write in the same mtime tick could
    leave the same stamp)."""

    SETTLED_S = 2.0

    def __init__(self, entries: int = 256, max_rows: int = 5000) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[str, list[str], list[tuple[Any, ...]]]] = OrderedDict()
        self._size, self._max_rows = entries, max_rows
        self._lock = threading.Lock()

    def fetch(self, db: sqlite3.Connection, catalog_path: Path, sql: str, params: Sequence[Any] = (), *,
              stamp: str | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of `sql` on `db`, the catalog at `catalog_path`; `stamp`: the file's
        stamp taken before the read transaction the read is part of began, if one is open."""
        stamp = stamp or file_stamp(catalog_path)  # taken before the read: a write meanwhile is seen by the next call
        key = (str(catalog_path), sql, tuple(params))
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and stamp is not None and hit[0] == stamp:
                self._entries.move_to_end(key)
                return list(hit[1]), list(hit[2])  # copies: a caller may extend or sort what it gets
        cursor = db.execute(sql, params)
        names, rows = [d[0] for d in cursor.description], cursor.fetchall()
        if stamp is not None and len(rows) <= self._max_rows and stamp_settled(stamp, self.SETTLED_S):
            with self._lock:
                self._entries[key] = (stamp, names, list(rows))
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return names, rows

    def clear(self) -> None:
        """Forget every result, as a write to each catalog would (`bench_scale.py`: a page's call after a write)."""
        with self._lock:
            self._entries.clear()


#: The one cache of this process (the dashboard opens a catalog per request).
RESULTS = ResultCache()
