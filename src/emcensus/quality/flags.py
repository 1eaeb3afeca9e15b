"""Quality flags relative to comparable images: the same instrument and magnification decade.

Sharpness and noise depend on the instrument, the detector and the magnification far more than on
the operator, so an absolute threshold would flag every high-magnification TEM image as blurred.
Each image is ranked within its instrument x magnification decade instead: `sharpness_pct` is its
percentile there (0: the least sharp), and a relative flag needs both a rank among the worst
`WORST_PERCENT` and a value more than `OUTLIER_SIGMAS` robust standard deviations (of the log
values) and a factor `MIN_FACTOR` from the group's median, so that a group of good images flags
none. Blank and clipped are properties of one frame's pixels and are judged alone (a clipped frame
is still ranked: it can be sharp; a blank one is not). An image gets the first flag that applies,
in the order of `catalog.query.QUALITY_FLAGS` (most serious first). Groups of fewer than
`MIN_GROUP` ranked images get no percentile and no relative flag (unknown, not "ok").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from scipy.stats import rankdata

#: A frame with more than this fraction of its pixels at either end of its range is clipped.
CLIPPED_FRACTION = 0.05
#: Comparable images needed for a percentile.
MIN_GROUP = 10
WORST_PERCENT = 10.0
OUTLIER_SIGMAS = 3.0
#: ... and at least this factor from the median: in a tight group 10 % less sharp is not blurred.
MIN_FACTOR = 1.5
_MAD_TO_SIGMA = 1.4826

#: Relative flags: (flag, metric, True when high values are bad).
_RELATIVE = (("charging", "charging", True), ("drift", "drift", True), ("blurred", "sharpness", False),
             ("noisy", "snr", False))


def comparable_group(instrument: str | None, magnification: float | None) -> tuple[str | None, int | None]:
    """(instrument, magnification decade): the images an image is ranked among."""
    decade = math.floor(math.log10(magnification)) if magnification and magnification > 0 else None
    return instrument, decade


def percentiles(values: np.ndarray) -> np.ndarray:
    """Rank percentile of each value, 0 (lowest) to 100 (highest); ties share their mean rank."""
    return 100.0 * (rankdata(values, method="average") - 1) / max(len(values) - 1, 1)


def _outliers(values: np.ndarray, pct: np.ndarray, high_is_bad: bool) -> np.ndarray:
    """Among the worst WORST_PERCENT, OUTLIER_SIGMAS robust σ and MIN_FACTOR beyond the median (of log values)."""
    logs = np.log(np.clip(values, 1e-12, None))
    median = np.median(logs)
    spread = _MAD_TO_SIGMA * np.median(np.abs(logs - median)) or 1e-12
    z = (logs - median) / spread
    far = np.abs(logs - median) > np.log(MIN_FACTOR)
    if high_is_bad:
        return (pct >= 100 - WORST_PERCENT) & (z > OUTLIER_SIGMAS) & far
    return (pct <= WORST_PERCENT) & (z < -OUTLIER_SIGMAS) & far


def relative_quality(rows: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """image_id → {sharpness_pct, quality_flag} for measured rows (keys image_id, instrument,
    magnification, error, blank, clipped_low, clipped_high, sharpness, snr, charging, drift)."""
    result: dict[int, dict[str, Any]] = {}
    by_group: dict[tuple[str | None, int | None], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["error"] is not None:
            continue
        result[row["image_id"]] = {"sharpness_pct": None, "quality_flag": _absolute_flag(row)}
        if not row["blank"] and row["sharpness"] is not None:  # a clipped frame can be sharp: it is ranked
            by_group.setdefault(comparable_group(row["instrument"], row["magnification"]), []).append(row)
    for members in by_group.values():
        if len(members) < MIN_GROUP:
            continue
        found: dict[str, np.ndarray] = {}
        for flag, metric, high_is_bad in _RELATIVE:
            values = np.array([np.nan if m[metric] is None else m[metric] for m in members], np.float64)
            known = np.isfinite(values)
            flagged = np.zeros(len(members), bool)
            if known.sum() >= MIN_GROUP:
                pct = percentiles(values[known])
                flagged[known] = _outliers(values[known], pct, high_is_bad)
                if metric == "sharpness":
                    for member, value in zip(np.array(members, dtype=object)[known], pct, strict=True):
                        result[member["image_id"]]["sharpness_pct"] = float(value)
            found[flag] = flagged
        for index, member in enumerate(members):
            value = result[member["image_id"]]
            value["quality_flag"] = value["quality_flag"] or next(
                (flag for flag, _, _ in _RELATIVE if found[flag][index]), "ok")
    return result


def _absolute_flag(row: Mapping[str, Any]) -> str | None:
    if row["blank"]:
        return "blank"
    if max(row["clipped_low"] or 0, row["clipped_high"] or 0) > CLIPPED_FRACTION:
        return "clipped"
    return None
