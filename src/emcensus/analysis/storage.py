"""Storage of an archive and the cost of its lost data: pure functions over catalog numbers.

* `fit_growth`: yearly intake (bytes written per year) fitted by a straight line and by an
  exponential (a straight line through the logarithms), the one with the smaller squared error in
  bytes kept, and forecast `horizon` years ahead with a prediction interval. The current year is
  still being written and is left out of the fit; with fewer than `MIN_FIT_YEARS` complete years
  there is no fit, and the reason is said instead of a number.
* `find_sessions`: instrument sessions from acquisition times (consecutive acquisitions on one
  instrument less than `session_gap_minutes` apart: `analysis.sessions`, as the reuse splits use).
* `acquisition_costs`, `keeping_costs`: what the lost images cost to acquire and to keep, each
  number with the assumptions it rests on; a missing price or time gives no number (None), never 0.

Sizes are decimal (1 GB = 10⁹ bytes, 1 TB = 10¹² bytes), as storage is priced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from emcensus.analysis.sessions import session_starts

GB = 10**9
TB = 10**12

#: Fewest complete years a growth fit takes: two parameters, and two degrees of freedom left for
#: the residual spread the prediction interval needs.
MIN_FIT_YEARS = 4
#: Central probability of the forecast's prediction interval.
INTERVAL_LEVEL = 0.90
FORECAST_YEARS = 3


@dataclass(frozen=True, slots=True)
class Forecast:
    """Predicted intake of one future year, with its prediction interval."""

    year: int
    bytes: float
    low_bytes: float
    high_bytes: float


@dataclass(frozen=True, slots=True)
class GrowthFit:
    """Yearly intake, the growth model chosen (None: no fit, `note` says why) and its forecast."""

    years: tuple[int, ...]
    annual_bytes: tuple[int, ...]
    model: str | None = None  # "linear" | "exponential"
    rate: float | None = None  # bytes per year per year (linear) or fractional growth per year (exponential)
    r_squared: float | None = None  # of the chosen model, in bytes
    forecast: tuple[Forecast, ...] = ()
    stored_bytes: int = 0  # everything catalogued now, years unknown and the current year included
    notes: tuple[str, ...] = ()
    level: float = INTERVAL_LEVEL

    def model_text(self) -> str:
        """The model in words, e.g. 'exponential: +18.0 % a year (R² 0.97 on bytes)'."""
        if self.model is None or self.rate is None or self.r_squared is None:
            return "no fit"
        rate = (f"{100 * self.rate:+.1f} % a year" if self.model == "exponential"
                else f"{self.rate / GB:+,.3g} GB a year each year")
        return f"{self.model}: {rate} (R² {self.r_squared:.2f} on bytes, fitted on {self.years[0]}–{self.years[-1]})"

    def records(self) -> list[dict[str, Any]]:
        """One row per fitted year then per forecast year, in GB; cumulative totals for the forecast."""
        rows: list[dict[str, Any]] = [
            {"year": year, "kind": "measured", "gb": size / GB, "low_gb": None, "high_gb": None, "cumulative_gb": None,
             "cumulative_low_gb": None, "cumulative_high_gb": None} for year, size in zip(self.years, self.annual_bytes)]
        total, low, high = float(self.stored_bytes), float(self.stored_bytes), float(self.stored_bytes)
        for item in self.forecast:
            total, low, high = total + item.bytes, low + item.low_bytes, high + item.high_bytes
            rows.append({"year": item.year, "kind": f"forecast ({self.model})", "gb": item.bytes / GB,
                         "low_gb": item.low_bytes / GB, "high_gb": item.high_bytes / GB, "cumulative_gb": total / GB,
                         "cumulative_low_gb": low / GB, "cumulative_high_gb": high / GB})
        return rows

    def assumptions(self) -> list[str]:
        """What the forecast rests on, to print next to it."""
        if self.model is None:
            return list(self.notes)
        return [f"model {self.model_text()}; chosen over the other model by the smaller squared error in bytes",
                f"interval: {100 * self.level:.0f} % prediction interval of each year's intake (t distribution, "
                f"{len(self.years) - 2} degrees of freedom); cumulative bounds add the yearly bounds (wider than a joint interval)",
                f"cumulative totals start from the {self.stored_bytes / GB:,.1f} GB catalogued now",
                *self.notes]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_text": self.model_text(), "rate": self.rate, "r_squared": self.r_squared,
                "interval_level": self.level, "stored_gb": self.stored_bytes / GB, "rows": self.records(),
                "assumptions": self.assumptions()}


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Least-squares line: slope, intercept, residual standard error, Sxx."""
    mean_x = x.mean()
    sxx = float(((x - mean_x) ** 2).sum())
    slope = float(((x - mean_x) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * mean_x)
    residual = y - (intercept + slope * x)
    return slope, intercept, math.sqrt(float((residual**2).sum()) / (len(x) - 2)), sxx


def fit_growth(bytes_by_year: Mapping[int | None, int], *, current_year: int, horizon: int = FORECAST_YEARS,
               level: float = INTERVAL_LEVEL) -> GrowthFit:
    """Fit yearly intake and forecast `horizon` years after `current_year`.

    Years inside the range with nothing written count as 0 (a real zero: nothing was acquired);
    an exponential cannot fit a 0, so then only the line is tried. Files of unknown year, of the
    current year (still being written) and of later years (wrong clocks) stay in `stored_bytes`
    but out of the fit, each said in `notes`."""
    stored = int(sum(bytes_by_year.values()))
    known = {int(year): int(size) for year, size in bytes_by_year.items() if year is not None}
    notes = []
    unknown = bytes_by_year.get(None, 0)
    if unknown:
        notes.append(f"{unknown / GB:,.1f} GB of files with no acquisition year are stored but not fitted")
    partial = sum(size for year, size in known.items() if year >= current_year)
    if partial:
        notes.append(f"{partial / GB:,.1f} GB dated {current_year} or later (a year still being written, or "
                     "wrong clocks) are stored but not fitted")
    complete = {year: size for year, size in known.items() if year < current_year}
    years = tuple(range(min(complete), max(complete) + 1)) if complete else ()
    sizes = tuple(complete.get(year, 0) for year in years)
    if len(years) < MIN_FIT_YEARS:
        notes.insert(0, f"no growth forecast: a fit needs at least {MIN_FIT_YEARS} complete years of acquisitions, "
                        f"the catalog has {len(years)}")
        return GrowthFit(years, sizes, stored_bytes=stored, notes=tuple(notes), level=level)
    x, y = np.array(years, dtype=float), np.array(sizes, dtype=float)
    future = np.arange(current_year + 1, current_year + 1 + horizon, dtype=float)
    from scipy import stats  # noqa: PLC0415 (scipy.stats takes ~0.5 s to import: only when a fit is made)

    t = float(stats.t.ppf(0.5 + level / 2, len(years) - 2))
    candidates = []
    slope, intercept, spread, sxx = _line(x, y)
    half = t * spread * np.sqrt(1 + 1 / len(x) + (future - x.mean()) ** 2 / sxx)
    centre = intercept + slope * future
    candidates.append(("linear", slope, intercept + slope * x, centre, centre - half, centre + half))
    if all(sizes):
        log_slope, log_intercept, log_spread, _ = _line(x, np.log(y))
        log_half = t * log_spread * np.sqrt(1 + 1 / len(x) + (future - x.mean()) ** 2 / sxx)
        log_centre = log_intercept + log_slope * future
        candidates.append(("exponential", math.expm1(log_slope), np.exp(log_intercept + log_slope * x),
                           np.exp(log_centre), np.exp(log_centre - log_half), np.exp(log_centre + log_half)))
    else:
        notes.append("a year with nothing written (0 bytes) rules out the exponential model: linear only")
    model, rate, fitted, centre, low, high = min(candidates, key=lambda c: float(((y - c[2]) ** 2).sum()))
    total = float(((y - y.mean()) ** 2).sum())
    r_squared = 1 - float(((y - fitted) ** 2).sum()) / total if total else None
    if (low < 0).any():
        notes.append("lower bounds below 0 are shown as 0 (a year cannot write less than nothing)")
    forecast = tuple(Forecast(int(year), max(float(c), 0.0), max(float(lo), 0.0), float(hi))
                     for year, c, lo, hi in zip(future, centre, low, high))
    return GrowthFit(years, sizes, model, rate, r_squared, forecast, stored, tuple(notes), level)


# ----------------------------------------------------------------------------- sessions


@dataclass(slots=True)
class Session:
    """Consecutive acquisitions on one instrument, each less than the gap after the one before."""

    instrument: str | None
    start: datetime
    end: datetime
    images: int = 1
    lost: int = 0

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _parse_time(text: str | None) -> datetime | None:
    """An ISO acquisition time as the instrument's clock wrote it (a time zone, if any, is dropped:
    one instrument keeps one clock); None when absent or unreadable."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None) if text else None
    except ValueError:
        return None


def find_sessions(acquisitions: Iterable[tuple[str | None, str | None, bool]], gap_minutes: float
                  ) -> tuple[list[Session], dict[str | None, int]]:
    """Sessions from (instrument, ISO acquisition time, published), per instrument
    (`analysis.sessions`), in the order of their first acquisition given; and the lost acquisitions
    per instrument that have no usable time (not in any session)."""
    rows = [(instrument, _parse_time(text), published) for instrument, text, published in acquisitions]
    starts = session_starts([instrument for instrument, _, _ in rows], [time for _, time, _ in rows], gap_minutes)
    sessions: dict[tuple[str | None, datetime], Session] = {}
    untimed: dict[str | None, int] = {}
    for (instrument, time, published), start in zip(rows, starts, strict=True):
        if time is None or start is None:
            if not published:
                untimed[instrument] = untimed.get(instrument, 0) + 1
            continue
        session = sessions.setdefault((instrument, start), Session(instrument, start, start, 0, 0))
        session.end = max(session.end, time)
        session.images += 1
        session.lost += not published
    return list(sessions.values()), untimed


# ----------------------------------------------------------------------------- costs


@dataclass(frozen=True, slots=True)
class CostModel:
    """The `[costs]` table of a facility file; None: not given (its costs are then absent)."""

    currency: str = "EUR"
    instrument_hour: float | None = None  # price of one hour on an instrument
    instrument_hours: Mapping[str, float] = field(default_factory=dict)  # per instrument, overrides the above
    tb_year: float | None = None  # price of keeping 1 TB (10¹² bytes) for one year
    minutes_per_image: float | None = None  # instrument time one image takes
    session_gap_minutes: float | None = None  # acquisitions closer than this are one session
    session_overhead_minutes: float = 0.0  # set-up time of every session (loading, pumping, alignment)

    def hour_price(self, instrument: str | None) -> float | None:
        return self.instrument_hours.get(instrument or "", self.instrument_hour)


@dataclass(frozen=True, slots=True)
class CostLine:
    """One costed item: its value (None: an input is missing), unit, and what it assumes."""

    item: str
    instrument: str | None
    value: float | None
    unit: str
    assumptions: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "instrument": self.instrument, "value": self.value, "unit": self.unit,
                "assumptions": self.assumptions}


def _price_text(model: CostModel, instrument: str | None) -> str:
    price = model.hour_price(instrument)
    return f"{price:,.2f} {model.currency}/instrument hour" if price is not None else "no instrument-hour price given"


def _cost(hours: float | None, price: float | None) -> float | None:
    return None if hours is None or price is None else hours * price


def acquisition_costs(lost_by_instrument: Mapping[str | None, int], model: CostModel,
                      sessions: list[Session] | None = None,
                      untimed_lost: Mapping[str | None, int] | None = None) -> list[CostLine]:
    """Instrument time and money spent acquiring the lost images, per instrument and in total.

    By images (`minutes_per_image`) and, when sessions are given, by sessions: each session's
    length (first to last acquisition, plus the set-up overhead) shared among its images, the lost
    ones' share counted. A total is only given when every instrument has a price."""
    lines: list[CostLine] = []
    instruments = sorted(lost_by_instrument, key=lambda name: (name is None, name or ""))
    methods: list[tuple[str, dict[str | None, float | None], str]] = []  # (method, hours, basis)
    untimed = untimed_lost or {}
    if model.minutes_per_image is not None:
        methods.append(("by images", {name: lost_by_instrument[name] * model.minutes_per_image / 60
                                      for name in instruments},
                        f"{model.minutes_per_image:g} min of instrument time per image"))
    else:
        methods.append(("by images", dict.fromkeys(instruments), "no minutes_per_image given"))
    if sessions is not None:
        timed: dict[str | None, tuple[float, int]] = {}
        for session in sessions:
            if session.lost:
                hours, lost = timed.get(session.instrument, (0.0, 0))
                length = session.hours + (model.minutes_per_image or 0) / 60 + model.session_overhead_minutes / 60
                timed[session.instrument] = (hours + length * session.lost / session.images, lost + session.lost)
        # an instrument whose lost images have no acquisition time has no session hours: unknown, not 0
        by_sessions = {name: timed[name][0] if name in timed else (0.0 if not lost_by_instrument[name] else None)
                       for name in instruments}
        methods.append(("by sessions", by_sessions, (
            f"sessions: acquisitions on one instrument less than {model.session_gap_minutes:g} min apart; a session "
            f"lasts from its first to its last acquisition, plus the last image's {model.minutes_per_image or 0:g} min "
            f"and {model.session_overhead_minutes:g} min set-up, shared equally among its images; times from the "
            "instruments' metadata"
            + ("; with no minutes_per_image and no set-up time a session of one image counts 0 h (a lower bound)"
               if not model.minutes_per_image and not model.session_overhead_minutes else ""))))
    for method, hours_by_instrument, basis in methods:
        for name in instruments:
            hours_text = "unknown" if hours_by_instrument[name] is None else f"{hours_by_instrument[name]:,.1f} h"
            unknown_times = (f"; {untimed[name]:,} of them with no acquisition time in their metadata are not "
                             "costed (a lower bound)" if method == "by sessions" and untimed.get(name) else "")
            lines.append(CostLine(f"instrument time for lost images ({method})", name, hours_by_instrument[name], "h",
                                  f"{lost_by_instrument[name]:,} lost image(s); {basis}{unknown_times}"))
            lines.append(CostLine(f"cost of acquiring lost images ({method})", name,
                                  _cost(hours_by_instrument[name], model.hour_price(name)), model.currency,
                                  f"{hours_text} × {_price_text(model, name)}"))
        costs = [_cost(hours_by_instrument[name], model.hour_price(name)) for name in instruments]
        missing = [name or "unknown instrument" for name, cost in zip(instruments, costs) if cost is None]
        lines.append(CostLine(f"cost of acquiring lost images ({method})", "TOTAL",
                              None if missing or not costs else sum(c for c in costs if c is not None), model.currency,
                              f"no total: no price or time for {', '.join(missing)}" if missing
                              else f"sum over {len(costs)} instrument(s)" if costs else "no lost images catalogued"))
    return lines


def keeping_costs(lost_bytes: int | None, published_bytes: int | None, model: CostModel, *,
                  years: int = FORECAST_YEARS) -> list[CostLine]:
    """Yearly cost of keeping the lost and the published data, and of keeping the lost data `years` more years."""
    price = f"{model.tb_year:,.2f} {model.currency}/TB-year" if model.tb_year is not None else "no tb_year price given"
    lines = []
    for what, size in (("lost", lost_bytes), ("published", published_bytes)):
        size_text = "unknown size" if size is None else f"{size / TB:,.4f} TB"
        value = None if size is None or model.tb_year is None else size / TB * model.tb_year
        lines.append(CostLine(f"cost of keeping {what} data for one year", "TOTAL", value, model.currency,
                              f"{size_text} × {price} (1 TB = 10¹² bytes)"))
    yearly = lines[0].value
    lines.append(CostLine(f"cost of keeping lost data {years} more years", "TOTAL",
                          None if yearly is None else yearly * years, model.currency,
                          f"{years} × the yearly cost at today's size and price (no growth, no price change)"))
    return lines


@dataclass(frozen=True, slots=True)
class StorageSummary:
    """Everything `emcensus storage` prints: each part as rows, plus the notes that qualify them."""

    breakdown: list[dict[str, Any]]  # bytes and GB per group
    growth: GrowthFit
    lost_vs_published: list[dict[str, Any]]  # per technique, then TOTAL
    costs: list[CostLine]
    notes: list[str]

    def sections(self) -> dict[str, list[dict[str, Any]]]:
        """Each part as rows, by name (one CSV table each)."""
        return {"breakdown": self.breakdown, "growth": self.growth.records(),
                "lost": self.lost_vs_published, "costs": [line.to_dict() for line in self.costs]}

    def to_dict(self) -> dict[str, Any]:
        return {"breakdown": self.breakdown, "growth": self.growth.to_dict(), "lost": self.lost_vs_published,
                "costs": [line.to_dict() for line in self.costs], "notes": self.notes}


def with_gigabytes(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of `bytes`/`*_bytes` columns with a GB column beside each."""
    result = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            out[key] = value
            if key == "bytes" or key.endswith("_bytes"):
                out[key.removesuffix("bytes") + "gb"] = None if value is None else value / GB
        result.append(out)
    return result


def sum_bytes(parts: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Bytes of `parts` (rows with a `bytes` column) added up per combination of `fields`, sorted
    with unknown keys last."""
    totals: dict[tuple[Any, ...], int] = {}
    for part in parts:
        key = tuple(part[name] for name in fields)
        totals[key] = totals.get(key, 0) + part["bytes"]
    order = sorted(totals, key=lambda key: [(value is None, str(value) if value is not None else "") for value in key])
    return [{**dict(zip(fields, key)), "bytes": totals[key]} for key in order]


def published_split(parts: Iterable[Mapping[str, Any]], field: str) -> list[dict[str, Any]]:
    """Bytes of image files per key of `field`, as `published_bytes` and `lost_bytes` (parts: rows
    of `bytes` and `published_bytes` with an `image` flag)."""
    images = [part for part in parts if part["image"]]
    published = {row[field]: row["bytes"] for row in
                 sum_bytes([{field: p[field], "bytes": p["published_bytes"]} for p in images], [field])}
    return [{field: row[field], "published_bytes": published[row[field]],
             "lost_bytes": row["bytes"] - published[row[field]]} for row in sum_bytes(images, [field])]


def lost_vs_published(rows: list[dict[str, Any]], field: str, count_level_images: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Per-key rows of published and lost bytes with a TOTAL row and the lost share of bytes, and
    notes; count-level ledger rows name no file, so their bytes are unknown and the lost bytes are
    then an upper bound (said in a note)."""
    total = {field: "TOTAL", "published_bytes": sum(r["published_bytes"] for r in rows),
             "lost_bytes": sum(r["lost_bytes"] for r in rows)}
    table = []
    for row in [*rows, total]:
        size = row["published_bytes"] + row["lost_bytes"]
        table.append({**row, "lost_pct": 100.0 * row["lost_bytes"] / size if size else None})
    notes = []
    if count_level_images:
        notes.append(f"{count_level_images:,} published image(s) are count-level ledger rows that name no file: their "
                     "bytes and images count as lost, so lost bytes and the cost of lost images are upper bounds")
    return with_gigabytes(table), notes
