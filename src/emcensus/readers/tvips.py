"""TVIPS EM-MENU camera TIFF: a binary header in tag 37706 (version 1 part + version 2 part).

tifffile decodes the header. The version 2 fields are used: `TemHighTension` (V),
`TemMagnification` (the microscope's indicated magnification), `PixelSizeX` (nm at the specimen),
`CameraType`, `TemType`. Version 1 keeps scaled integers (`HighTension=990000` for 99 kV), which
are not used. `Date` is `year << 16 | month << 8 | day` and `Time` seconds since midnight (checked
against the sample's image name, `..._12-04-2017_001` → 2017-04-12); rsciio leaves them undecoded.
`TemMode` 3 is diffraction: magnification and pixel size are then not real-space and are left
unknown. A TVIPS camera only sits on a TEM, so technique is TEM.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source
from emcensus.readers.common import TiffTagReader, json_safe, plausible, text_or_none, tiff_tag, vendor_from_name
from emcensus.readers.units import number, positive

TVIPS_TAG = 37706
DIFFRACTION_MODE = 3


def tvips_datetime(packed: Any, seconds: Any) -> datetime | None:
    """Decode the packed `Date` and `Time` fields; None when they are not a real date."""
    value = number(packed)
    if value is None or value != int(value) or not 0 < value < 2**32:  # an int32 field
        return None
    packed_int = int(value)
    try:
        day = date(packed_int >> 16, (packed_int >> 8) & 0xFF, packed_int & 0xFF)
    except ValueError:
        return None
    offset = number(seconds)
    clock = timedelta(seconds=int(offset)) if offset is not None and 0 <= offset < 86400 else timedelta()
    return plausible(datetime.combine(day, time()) + clock)


def parse_tvips(meta: dict[str, Any]) -> Reading:
    """A decoded TVIPS header as a `Reading`."""
    if not isinstance(meta, dict) or "Version" not in meta:
        raise UnreadableFileError("TVIPS tag is not an EM-MENU header")
    diffraction = number(meta.get("TemMode")) == DIFFRACTION_MODE
    model = text_or_none(meta.get("TemType"))
    pixel_nm = positive(meta.get("PixelSizeX"))
    return Reading(
        vendor=vendor_from_name(model) or "TVIPS",
        model=model,
        technique="TEM",
        detector=text_or_none(meta.get("CameraType")),
        magnification=None if diffraction else positive(meta.get("TemMagnification")),
        accelerating_voltage_v=positive(meta.get("TemHighTension")),
        pixel_size_m=pixel_nm * 1e-9 if pixel_nm and not diffraction else None,
        width_px=int(positive(meta.get("ImageSizeX")) or 0) or None,
        height_px=int(positive(meta.get("ImageSizeY")) or 0) or None,
        acquired_at=tvips_datetime(meta.get("Date"), meta.get("Time")),
        original_metadata=json_safe(meta),
        metadata_source=f"tiff-tag:{TVIPS_TAG}",
    )


class TvipsTiffReader(TiffTagReader):
    name = "tvips-tiff"
    vendor = "TVIPS"

    def accepts(self, source: Source) -> bool:
        return tiff_tag(source, TVIPS_TAG) is not None

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        return parse_tvips(source.tiff_tags.get(TVIPS_TAG))
