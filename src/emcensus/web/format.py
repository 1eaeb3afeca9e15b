"""How numbers and messages read on the dashboard: units people use, and no file contents in errors."""

from __future__ import annotations

import math
import re
from typing import Any

#: SI prefixes for lengths, from metres down to picometres.
_LENGTH_UNITS = ((1.0, "m"), (1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"), (1e-12, "pm"))
#: A Python bytes literal, as library messages quote a file's first bytes (`b'root:x:0'`).
_BYTES_LITERAL = re.compile(r"""\bb(['"])(?:\\.|(?!\1).)*\1""")


def no_file_content(text: str) -> str:
    """`text` with quoted file bytes left out: errors shown on the web never carry file contents."""
    return _BYTES_LITERAL.sub("b'…'", text)


def quantity(value: Any, name: str = "") -> str:
    """A record value for people: `1.97 nm` for `pixel_size_m = 1.97331e-09`, `80 kV`, `×50,000`.

    The unit comes from the field name's suffix (`_m` metres, `_v` volts, `_px` pixels); values that
    are not finite numbers are shown as absent, never as a plausible number.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if not math.isfinite(value):
        return "—"
    if name.endswith("_m"):
        scale, unit = next(((s, u) for s, u in _LENGTH_UNITS if abs(value) >= s), _LENGTH_UNITS[-1])
        return f"{value / scale:.3g} {unit}"
    if name.endswith("_v"):
        return f"{value / 1000:.3g} kV" if abs(value) >= 1000 else f"{value:.3g} V"
    if name.endswith("_px"):
        return f"{value:,} px" if isinstance(value, int) else f"{value:,.6g} px"
    if name == "magnification":
        return f"×{value:,.0f}" if abs(value) >= 100 else f"×{value:.3g}"
    return f"{value:.6g}" if isinstance(value, float) else str(value)
