"""Field of view, the paper's conditional scale bar, and order-of-magnitude bins.

Two routes lead to the FOV width of an image:

* pixel size × image width, when the file states a pixel size (the calibrated route, preferred);
* magnification reference width ÷ magnification. Magnification is only meaningful relative to the
  width it was defined on: Hitachi SEMs define it on a 127 mm wide display (the Polaroid 4×5"
  print), TEM magnification is defined at the camera or film plane, so the reference is the
  recording medium's width. The facility file sets it per instrument; the defaults below apply
  otherwise.

When both routes exist and disagree by more than 2 % the image is flagged: real readers have shipped
1000× unit errors in exactly this place, and magnification conventions differ between vendors.

Every input and every result must be finite and physically plausible (`MAGNIFICATION_RANGE`,
`PIXEL_SIZE_RANGE_M`, `FOV_RANGE_M`, ...): a value outside its range is dropped (None) with a
warning that says which value and why, never an overflow, a NaN or a decade of 10^308 m. Old
catalogs already hold such values, so these functions must be safe on their own.

The conditional scale bar is 10 % of the FOV width (the paper's convention). Bins are decades
[10^k, 10^(k+1)) m labelled by their ends: a 10 nm bar is in "10–100 nm", a 9.9 nm bar in
"1–10 nm". The six regular bins run from 1 nm to 1 mm; "< 1 nm" and "≥ 1 mm" catch the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Width on which Hitachi SEMs (SU8000, SU8230, Regulus…) define magnification: 127 mm.
HITACHI_SEM_REFERENCE_WIDTH_M = 0.127

#: Default magnification reference widths by (vendor, instrument technique); vendor None = any.
#: SEM: the Polaroid 4×5" (127 mm) convention, which Hitachi, FEI/Thermo "Polaroid 545" magnification
#: and most older SEMs use. TEM: a 4k × 15 µm camera (61.44 mm), the common size of Gatan, TVIPS and
#: Thermo Fisher cameras. Both are guesses for an unknown instrument: set `magnification_reference_mm`
#: per instrument in the facility file for real work.
DEFAULT_REFERENCE_WIDTHS_M: dict[tuple[str | None, str], float] = {
    ("Hitachi", "SEM"): HITACHI_SEM_REFERENCE_WIDTH_M,
    (None, "SEM"): 0.127,
    (None, "TEM"): 4096 * 15e-6,
}

#: Relative difference between the two FOV routes above which an image is flagged.
FOV_TOLERANCE = 0.02

#: The paper's convention: the conditional scale bar is this fraction of the FOV width.
SCALE_BAR_FRACTION = 0.1

#: Physically plausible values, inclusive. Magnification: from an SEM's lowest (a few ×) to beyond
#: any TEM's highest. Pixel size: a 0.1 pm STEM pixel to a 10 mm overview pixel. FOV: 1 pm to 1 m.
#: Reference width: the magnification reference is a display, film or camera: 0.1 mm to 10 m.
MAGNIFICATION_RANGE = (1.0, 1e8)
PIXEL_SIZE_RANGE_M = (1e-13, 1e-2)
FOV_RANGE_M = (1e-12, 1.0)
REFERENCE_WIDTH_RANGE_M = (1e-4, 10.0)


def plausible(value: float | int | None, bounds: tuple[float, float]) -> float | None:
    """`value` as a float when it is a finite number inside `bounds`, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and bounds[0] <= number <= bounds[1] else None


def _check(name: str, value: float | int | None, bounds: tuple[float, float], unit: str,
           warnings: list[str]) -> float | None:
    """A plausible value, or None plus a warning; None and 0 mean "not given" and warn nothing."""
    if value is None or value == 0:
        return None
    checked = plausible(value, bounds)
    if checked is None:
        warnings.append(f"{name} {value!r}{unit} is outside {bounds[0]:g}–{bounds[1]:g}{unit}: ignored")
    return checked


# Floating-point slack so that 0.1 × 100 nm lands in the 10 nm decade, not just below it.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ReferenceWidth:
    """Magnification reference width of an instrument and where it came from."""

    width_m: float
    source: str  # "facility" | "default:<vendor or any> <technique>"


def reference_width(vendor: str | None, technique: str | None,
                    configured_m: float | None = None) -> ReferenceWidth | None:
    """The width magnification refers to on an instrument: the facility file's value, else a default.

    `technique` is the instrument's technique (a STEM detector on a SEM uses the SEM's reference).
    """
    if configured_m is not None:
        return ReferenceWidth(configured_m, "facility")
    technique = (technique or "").upper()
    for key in ((vendor, technique), (None, technique)):
        if key in DEFAULT_REFERENCE_WIDTHS_M:
            return ReferenceWidth(DEFAULT_REFERENCE_WIDTHS_M[key], f"default:{key[0] or 'any'} {technique}")
    return None


@dataclass(frozen=True, slots=True)
class FovEstimate:
    """FOV width of one image, the route it came from, and whether the two routes agree."""

    fov_width_m: float | None
    source: str | None  # "pixel-size" | "magnification" | None
    from_pixel_size_m: float | None = None
    from_magnification_m: float | None = None
    warnings: tuple[str, ...] = ()  # inputs or results left out because they are implausible

    @property
    def ratio(self) -> float | None:
        """Pixel-size FOV ÷ magnification FOV: 1000 or 0.001 points at a unit error."""
        if self.from_pixel_size_m and self.from_magnification_m:
            return self.from_pixel_size_m / self.from_magnification_m
        return None

    @property
    def disagreement(self) -> float | None:
        """Relative difference of the two routes, |a − b| / b with b the magnification route."""
        ratio = self.ratio
        return None if ratio is None else abs(ratio - 1.0)

    @property
    def disagrees(self) -> bool:
        disagreement = self.disagreement
        return disagreement is not None and disagreement > FOV_TOLERANCE

    @property
    def note(self) -> str | None:
        """A sentence for the audit when the routes disagree, naming a likely unit error."""
        if not self.disagrees:
            return None
        ratio = self.ratio
        assert ratio is not None
        powers = round(math.log10(ratio) / 3)
        if powers and abs(math.log10(ratio) - 3 * powers) < math.log10(1 + FOV_TOLERANCE):
            return (f"pixel-size FOV is {ratio:.4g}× the magnification FOV: "
                    "a pixel-size unit error (nm/µm/mm mix-up) is likely")
        return (f"pixel-size FOV is {ratio:.4g}× the magnification FOV: "
                "check the instrument's magnification reference width")

    @property
    def scale_bar_m(self) -> float | None:
        return None if self.fov_width_m is None else conditional_scale_bar(self.fov_width_m)


def estimate_fov(pixel_size_m: float | None, width_px: int | None, magnification: float | None,
                 reference_width_m: float | None) -> FovEstimate:
    """FOV width from the pixel size where the file gives one, else from magnification; both kept.

    Implausible inputs and results are left out with a warning (see `plausible`)."""
    warnings: list[str] = []
    pixel = _check("pixel size", pixel_size_m, PIXEL_SIZE_RANGE_M, " m", warnings)
    width = _check("image width", width_px, (1, 1e7), " px", warnings)
    mag = _check("magnification", magnification, MAGNIFICATION_RANGE, "", warnings)
    reference = _check("magnification reference width", reference_width_m, REFERENCE_WIDTH_RANGE_M, " m", warnings)
    by_pixels = _check("pixel-size FOV", pixel * width, FOV_RANGE_M, " m", warnings) if pixel and width else None
    by_mag = _check("magnification FOV", reference / mag, FOV_RANGE_M, " m", warnings) if reference and mag else None
    if by_pixels is not None:
        return FovEstimate(by_pixels, "pixel-size", by_pixels, by_mag, tuple(warnings))
    if by_mag is not None:
        return FovEstimate(by_mag, "magnification", None, by_mag, tuple(warnings))
    return FovEstimate(None, None, warnings=tuple(warnings))


def conditional_scale_bar(fov_width_m: float) -> float:
    """The paper's conditional scale bar: 10 % of the FOV width."""
    return SCALE_BAR_FRACTION * fov_width_m


def nice_scale_bar(length_m: float) -> float:
    """The largest 1-2-5 × 10^k length not above `length_m`: what a microscope would draw.

    It never leaves the decade of `length_m`, so binning either value gives the same bin.
    """
    if not 0 < length_m < math.inf:  # also NaN
        raise ValueError("a scale bar length must be positive and finite")
    exponent = math.floor(math.log10(length_m) + _EPS)
    mantissa = length_m / 10.0**exponent
    step = max(m for m in (1, 2, 5) if m <= mantissa * (1 + _EPS))
    return step * 10.0**exponent


_UNITS = ((1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"))


def format_length(length_m: float) -> str:
    """`5e-8` → "50 nm", `2e-6` → "2 µm": the way a scale bar is labelled."""
    for unit_m, unit in _UNITS:
        if length_m >= unit_m * (1 - _EPS) or unit == "nm":
            return f"{length_m / unit_m:.3g} {unit}"
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Decade:
    """An order-of-magnitude bin [low_m, high_m) of scale-bar length."""

    exponent: int  # low_m = 10**exponent; -9 is "1–10 nm"
    label: str
    low_m: float
    high_m: float


def _decade_label(exponent: int) -> str:
    """"1–10 nm" when both ends share a unit, "100 nm–1 µm" when they do not."""
    low, high = format_length(10.0**exponent), format_length(10.0 ** (exponent + 1))
    low_value, low_unit = low.split(" ")
    return f"{low_value}–{high}" if high.endswith(f" {low_unit}") else f"{low}–{high}"


#: Exponents of the regular bins: 1 nm (10^-9 m) up to 1 mm.
FIRST_EXPONENT, LAST_EXPONENT = -9, -4
UNDER_LABEL, OVER_LABEL = "< 1 nm", "≥ 1 mm"

#: Every bin, smallest first; the regular six are "1–10 nm" … "100 µm–1 mm".
DECADES: tuple[Decade, ...] = (
    (Decade(FIRST_EXPONENT - 1, UNDER_LABEL, 0.0, 10.0**FIRST_EXPONENT),)
    + tuple(Decade(k, _decade_label(k), 10.0**k, 10.0 ** (k + 1)) for k in range(FIRST_EXPONENT, LAST_EXPONENT + 1))
    + (Decade(LAST_EXPONENT + 1, OVER_LABEL, 10.0 ** (LAST_EXPONENT + 1), math.inf),)
)

#: Labels in size order, for sorting tables and figure axes.
DECADE_LABELS: tuple[str, ...] = tuple(d.label for d in DECADES)


def decade_of(length_m: float) -> Decade:
    """The bin a scale-bar length falls in (under- and overflow bins included, up to infinity)."""
    if not length_m > 0:  # also NaN
        raise ValueError("a scale bar length must be positive")
    if math.isinf(length_m):
        return DECADES[-1]
    exponent = math.floor(math.log10(length_m) + _EPS)
    exponent = min(max(exponent, FIRST_EXPONENT - 1), LAST_EXPONENT + 1)
    return DECADES[exponent - (FIRST_EXPONENT - 1)]


def scale_bar_decade(fov_width_m: float | None) -> str | None:
    """Bin label of an image's conditional scale bar; None when its FOV is unknown."""
    if plausible(fov_width_m, FOV_RANGE_M) is None:
        return None
    return decade_of(conditional_scale_bar(fov_width_m)).label


def magnification_decade(magnification: float | None) -> int | None:
    """k of the magnification decade [10^k, 10^(k+1)) ×; None when the value is implausible."""
    value = plausible(magnification, MAGNIFICATION_RANGE)
    return None if value is None else math.floor(math.log10(value) + _EPS)


def decade_sort_key(label: str | None) -> tuple[int, str]:
    """Sort key that puts decade labels in size order, unknown and foreign labels last."""
    if label in DECADE_LABELS:
        return DECADE_LABELS.index(label), ""
    return len(DECADE_LABELS), str(label)
