"""Physical ranges of every number a reader returns, checked once for all readers (`readers._record`).

A value outside its range is a typo, a unit error or a damaged file, never a measurement: it is
dropped (None) with a warning that names it, so that every derived number (FOV, scale-bar decade)
is finite and plausible, and nothing downstream overflows (`Magnification=1e-310`, `PixelSize=1e308`).

| field                    | range            | why the ends are there                                           |
|--------------------------|------------------|------------------------------------------------------------------|
| magnification            | 1 – 1e8 ×        | SEM overview/navigation views go down to 5–20 ×; STEM reaches ~1e7 × |
| pixel size               | 1e-13 – 1e-2 m   | 0.1 pm is below any detector sampling; 1 cm/pixel is a stage photo |
| accelerating voltage     | 10 V – 3 MV      | deceleration-mode SEM lands at tens of volts; HVEMs run at 1–3 MV |
| working distance         | 1 µm – 1 m       | a WD is millimetres (immersion lenses: ~0.1 mm); a metre is no column |
| width, height            | 1 – 1e6 px       | SEM montages reach 40k–100k px; 1e6 leaves room, 2³²−1 is junk   |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from emcensus.readers.base import Reading
from emcensus.readers.generic import MAX_SIDE_PX
from emcensus.record import Problem


@dataclass(frozen=True, slots=True)
class Range:
    """Closed range of one numeric `Reading` field, with the words a warning uses."""

    label: str
    low: float
    high: float
    unit: str

    def holds(self, value: float) -> bool:
        return math.isfinite(value) and self.low <= value <= self.high


#: The one table of physical ranges (see the module docstring for the reasons).
PHYSICAL_RANGES: dict[str, Range] = {
    "magnification": Range("magnification", 1, 1e8, "×"),
    "pixel_size_m": Range("pixel size", 1e-13, 1e-2, "m"),
    "accelerating_voltage_v": Range("accelerating voltage", 10, 3e6, "V"),
    "working_distance_m": Range("working distance", 1e-6, 1, "m"),
    "width_px": Range("width", 1, MAX_SIDE_PX, "px"),
    "height_px": Range("height", 1, MAX_SIDE_PX, "px"),
}


#: (field, low, high, range) of every checked field: a census checks six per file.
_CHECKS = tuple((name, bounds.low, bounds.high, bounds) for name, bounds in PHYSICAL_RANGES.items())


def drop_impossible(reading: Reading, path: str, problems: list[Problem]) -> None:
    """Set every out-of-range or non-finite field of `reading` to None, with a warning for each."""
    for name, low, high, bounds in _CHECKS:
        value = getattr(reading, name)
        # the usual value, a plain number in range, is taken without a call (1.5 -> 1.0 us a reading)
        if value is None or (type(value) is float or type(value) is int) and low <= value <= high:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not bounds.holds(number):
            problems.append(Problem(
                path,
                f"{bounds.label} {value!r} is outside the physical range {bounds.low:g}–{bounds.high:g} "
                f"{bounds.unit}; not recorded",
                "warning",
            ))
            setattr(reading, name, None)
