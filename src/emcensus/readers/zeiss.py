"""Zeiss SmartSEM TIFF: tag 34118 (CZ_SEM), `AP_XXX` / `DP_XXX` keys each followed by `Label = value unit`.

tifffile decodes the tag into {"ap_mag": ("Mag", "50.00 K X"), "ap_wd": ("WD", 3.9, "mm"), ...};
`parse_zeiss` also takes the raw text, decoded by the same tifffile function.
Pitfall: `AP_PIXEL_SIZE` refers to the frame the scan was set up for (1024 wide), not to the stored
image, so the pixel size is `AP_WIDTH` (the field width) / the stored width, with `AP_PIXEL_SIZE`
only as a fallback when the width is unknown. The model is the `SV_SERIAL_NUMBER` without its
serial digits (`ULTRA 55-36-06` → `ULTRA 55`).
"""

from __future__ import annotations

import io
import re
from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source
from emcensus.readers.common import TiffTagReader, json_safe, parse_datetime, text_or_none, tiff_tag
from emcensus.readers.units import positive, to_magnification, to_metres, to_volts

CZ_SEM = 34118
_SERIAL_DIGITS = re.compile(r"(?:-\d+)+$")


def cz_sem_from_text(text: str) -> dict[str, Any]:
    """Decode CZ_SEM text exactly as tifffile decodes the tag."""
    import tifffile  # here, not at the top: every command that imports the readers would load numpy

    data = text.encode("utf-8", errors="replace")
    try:
        with tifffile.FileHandle(io.BytesIO(data)) as handle:
            return tifffile.tifffile.read_cz_sem(handle, "<", 2, len(data), 4)
    except Exception as exc:  # a library parser on arbitrary text: any failure means 'not CZ_SEM'
        raise UnreadableFileError(f"CZ_SEM tag is not Zeiss SmartSEM text: {exc}") from exc


def _value(meta: dict[str, Any], key: str) -> Any:
    """The value (with its unit, as one string) of one `ap_`/`dp_`/`sv_` entry."""
    entry = meta.get(key)
    if isinstance(entry, (tuple, list)) and len(entry) >= 2:
        parts = [part for part in entry[1:] if not isinstance(part, bool)]
        return " ".join(str(part) for part in parts) if parts else None
    return None


def _model(serial: str | None) -> str | None:
    if not serial:
        return None
    return _SERIAL_DIGITS.sub("", serial).strip() or serial


def parse_zeiss(metadata: str | dict[str, Any], width_px: int | None = None) -> Reading:
    """CZ_SEM metadata (raw text or tifffile's dict) as a `Reading`; `width_px` is the stored width."""
    meta = cz_sem_from_text(metadata) if isinstance(metadata, str) else metadata
    if not isinstance(meta, dict):
        raise UnreadableFileError("CZ_SEM tag is not Zeiss SmartSEM metadata")
    field_width = to_metres(_value(meta, "ap_width"), "um")
    width = positive(width_px)
    pixel = field_width / width if field_width and width else to_metres(_value(meta, "ap_pixel_size"), "nm")
    reading = Reading(
        vendor="Zeiss",
        model=_model(text_or_none(_value(meta, "sv_serial_number"))),
        detector=text_or_none(_value(meta, "dp_detector_channel")) or text_or_none(_value(meta, "dp_detector_type")),
        magnification=to_magnification(_value(meta, "ap_mag")),
        accelerating_voltage_v=to_volts(_value(meta, "ap_actualkv"), "kV") or to_volts(_value(meta, "ap_manualkv"), "kV"),
        working_distance_m=to_metres(_value(meta, "ap_wd"), "mm"),
        pixel_size_m=pixel,
        acquired_at=parse_datetime(_value(meta, "ap_date"), _value(meta, "ap_time")),
        original_metadata={key or "_unnamed": json_safe(value) for key, value in meta.items()},
        metadata_source=f"tiff-tag:{CZ_SEM}",
    )
    if not any((reading.model, reading.magnification, reading.accelerating_voltage_v, reading.pixel_size_m)):
        raise UnreadableFileError("CZ_SEM tag has none of AP_MAG, AP_ACTUALKV, AP_WIDTH, SV_SERIAL_NUMBER")
    return reading


class ZeissTiffReader(TiffTagReader):
    name = "zeiss-tiff"
    vendor = "Zeiss"

    def accepts(self, source: Source) -> bool:
        return tiff_tag(source, CZ_SEM) is not None

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        value = source.tiff_tags.get(CZ_SEM)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, (str, dict)):
            raise UnreadableFileError("CZ_SEM tag could not be decoded")
        return parse_zeiss(value, stored_width)
