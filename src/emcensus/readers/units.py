"""Numbers with units as microscope software writes them (`15000 Volt`, `7706.35 um`, `50.00 K X`).

Every function returns SI values (metres, volts) or None: a census of a damaged archive must
keep going when one field is garbage, so nothing here raises.
"""

from __future__ import annotations

import math
import re
from typing import Any

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\d\s].*?)?\s*$")

#: Length units in metres; keys are lower case. `a` is ångström (DM writes "A").
LENGTH_UNITS: dict[str, float] = {
    "m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "µm": 1e-6, "μm": 1e-6, "micron": 1e-6,
    "microns": 1e-6, "nm": 1e-9, "pm": 1e-12, "a": 1e-10, "å": 1e-10, "ang": 1e-10,
}
#: Voltage units in volts; keys are lower case.
VOLTAGE_UNITS: dict[str, float] = {
    "v": 1.0, "volt": 1.0, "volts": 1.0, "kv": 1e3, "kilovolt": 1e3, "kilovolts": 1e3, "mv": 1e6,
}


def number(value: Any) -> float | None:
    """A finite float from a number or a numeric string (`"1,5"` is 1.5), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            return number(value.item())
        except (TypeError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            result = float(text)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def positive(value: Any) -> float | None:
    """`number(value)` when it is above zero: vendors write 0 or -1 for 'not recorded'."""
    result = number(value)
    return result if result is not None and result > 0 else None


def split_quantity(text: Any) -> tuple[float, str] | None:
    """`"7706.35 um"` → (7706.35, "um"); a bare number has unit ""."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = number(text)
        return (value, "") if value is not None else None
    if not isinstance(text, str):
        return None
    match = _QUANTITY.match(text)
    if not match:
        return None
    value = number(match.group(1))
    if value is None:
        return None
    return value, (match.group(2) or "").strip()


def _scaled(text: Any, table: dict[str, float], default_unit: str) -> float | None:
    parsed = split_quantity(text)
    if parsed is None:
        return None
    value, unit = parsed
    factor = table.get((unit or default_unit).lower().rstrip("."))
    if factor is None:
        return None
    result = value * factor
    return result if result > 0 and math.isfinite(result) else None


def to_metres(text: Any, default_unit: str = "m") -> float | None:
    """A length in metres from `"7706.35 um"`, `"2.77"` (in `default_unit`), `"100nm"`."""
    return _scaled(text, LENGTH_UNITS, default_unit)


def to_volts(text: Any, default_unit: str = "V") -> float | None:
    """A voltage in volts from `"15000 Volt"`, `"15 kV"`, `"1.00"` (in `default_unit`)."""
    return _scaled(text, VOLTAGE_UNITS, default_unit)


_MAGNIFICATION = re.compile(rf"^\s*[xX×]?\s*({_NUMBER})\s*([kKmM])?\s*[xX×]?\s*$")


def to_magnification(text: Any) -> float | None:
    """Magnification from `200`, `"x200"`, `"50.00 K X"`, `"X150k"`, `"2.5kx"`."""
    if not isinstance(text, str):
        return positive(text)
    match = _MAGNIFICATION.match(text)
    if not match:
        return None
    value = number(match.group(1))
    if value is None:
        return None
    scale = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1.0)
    return positive(value * scale)
