"""JEOL SEM `.txt` sidecar (`$CM_FORMAT JEOL-SEM`, versions 1.0 and 1.5, and the newer
`$CM_FORMAT Bitmap` layout of JSM-IT/6700F software): `$KEY value` lines, the value after any run of
spaces or tabs.

Units: `$CM_ACCEL_VOLT` in kV, `$$SM_WD` in mm. There is no pixel size: it is derived from the
scale bar, `$$SM_MICRON_MARKER` (`100nm`, `5um`, `100µm`) over `$$SM_MICRON_BAR` (pixels), which
is good to about 1 % (the bar length is rounded to whole pixels). The saved TIFF includes the data
bar below the image; `$CM_FULL_SIZE` is the image area, so that is the width and height (the Bitmap
layout writes `$CM_IMAGE_RES 1280x960` instead).
Dates: v1.0 `YYYY/MM/DD`, v1.5 `M/D/YYYY` with a 12-hour `h:mm:ss AM` time.
The format is SEM-only, so technique is SEM (a transmitted-electron detector still makes the
pipeline say STEM).
"""

from __future__ import annotations

import re

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading
from emcensus.readers.common import SidecarTextReader, parse_datetime, text_or_none
from emcensus.readers.units import positive, to_magnification, to_metres, to_volts

_SIGNATURE = re.compile(r"^\s*(?:\$CM_FORMAT[ \t]+(?:JEOL-SEM|BITMAP)\b|\$SEM_DATA_VERSION\b)", re.MULTILINE)
_REQUIRED_KEYS = (re.compile(r"^\s*\$CM_MAG[ \t]", re.MULTILINE), re.compile(r"^\s*\$CM_ACCEL_VOLT[ \t]", re.MULTILINE))
_SIZE = re.compile(r"^\s*(\d{1,7})\s*(?:[xX×*]|\s)\s*(\d{1,7})(?!\d)")
_VERSION = re.compile(r"v?(\d+(?:\.\d+)?)\s*$")


def looks_jeol_sem(text: str) -> bool:
    """Cheap sniff: the format line, or `$CM_` keys for magnification and voltage."""
    head = text[:16384]
    upper = head.upper()
    if _SIGNATURE.search(upper):
        return True
    return head.lstrip("\ufeff \r\n\t").startswith("$") and all(key.search(upper) for key in _REQUIRED_KEYS)


def parse_keys(text: str) -> dict[str, str]:
    """`$CM_MAG 50000` / `$$SM_WD 2.77` lines into {"CM_MAG": "50000", "SM_WD": "2.77"} (first wins)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip().lstrip("\ufeff")
        if not line.startswith("$"):
            continue
        key, _, value = line.lstrip("$").replace("\t", " ").partition(" ")
        if key:
            result.setdefault(key.upper(), value.strip())
    return result


def _pixel_size(keys: dict[str, str]) -> float | None:
    marker = to_metres(keys.get("SM_MICRON_MARKER"), "um")
    bar = positive(keys.get("SM_MICRON_BAR"))
    return marker / bar if marker and bar else None


def parse_jeol_sem(text: str) -> Reading:
    """A JEOL SEM sidecar's text as a `Reading`."""
    if not looks_jeol_sem(text):
        raise UnreadableFileError("not a JEOL SEM sidecar (no $CM_FORMAT JEOL-SEM line or $CM_ keys)")
    keys = parse_keys(text)
    size = _SIZE.match(keys.get("CM_FULL_SIZE", "")) or _SIZE.match(keys.get("CM_IMAGE_RES", ""))
    version = _VERSION.search(keys.get("CM_VERSION") or keys.get("CM_FORMAT", ""))
    reading = Reading(
        vendor="JEOL",
        model=text_or_none(keys.get("CM_INSTRUMENT")),
        technique="SEM",
        detector=text_or_none(keys.get("CM_SIGNAL")) or text_or_none(keys.get("CM_SIGNAL_NAME")),
        magnification=to_magnification(keys.get("CM_MAG")),
        accelerating_voltage_v=to_volts(keys.get("CM_ACCEL_VOLT"), "kV"),
        working_distance_m=to_metres(keys.get("SM_WD"), "mm"),
        pixel_size_m=_pixel_size(keys),
        width_px=(int(size[1]) or None) if size else None,
        height_px=(int(size[2]) or None) if size else None,
        acquired_at=parse_datetime(keys.get("CM_DATE"), keys.get("CM_TIME")),
        original_metadata={"format_version": version[1] if version else None, "keys": keys},
        metadata_source="sidecar:jeol-sem",
    )
    if not any((reading.model, reading.magnification, reading.accelerating_voltage_v, reading.pixel_size_m)):
        raise UnreadableFileError("JEOL SEM sidecar has none of $CM_INSTRUMENT, $CM_MAG, $CM_ACCEL_VOLT, "
                                  "$$SM_MICRON_MARKER")
    return reading


class JeolSemSidecarReader(SidecarTextReader):
    name = "jeol-sem"
    vendor = "JEOL"
    looks = staticmethod(looks_jeol_sem)
    parse = staticmethod(parse_jeol_sem)
