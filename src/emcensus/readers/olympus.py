"""Olympus Soft Imaging Solutions (SIS) camera TIFF (iTEM/RADIUS with Quemesa, Morada, Veleta...).

The calibration is a binary `OlympusSIS` structure (tag 33560), which tifffile decodes; it may sit
on the second page (the first is an RGB preview), so the first few pages are searched. It gives
the pixel size (m), the magnification and the camera name. The microscope is not recorded.
Dates: TIFF DateTime (to the second), else the structure's own (to the minute).
"""

from __future__ import annotations

from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source
from emcensus.readers.common import TiffTagReader, json_safe, parse_datetime, plausible, text_or_none, tiff_tag
from emcensus.readers.units import positive

OLYMPUS_SIS, MAKE, MODEL, DATETIME = 33560, 271, 272, 306
_MAKER = "olympus soft imaging"
_PAGES_SEARCHED = 4


def parse_olympus(sis: dict[str, Any], camera: str | None = None, when: str | None = None) -> Reading:
    """A decoded OlympusSIS structure (plus the TIFF Model and DateTime tags) as a `Reading`."""
    if not isinstance(sis, dict):
        raise UnreadableFileError("OlympusSIS tag could not be decoded")
    stamp = sis.get("datetime")
    return Reading(
        vendor="Olympus",
        detector=text_or_none(sis.get("cameraname")) or camera,
        magnification=positive(sis.get("magnification")),
        pixel_size_m=positive(sis.get("pixelsizex")),
        acquired_at=parse_datetime(when) or (plausible(stamp.replace(tzinfo=None)) if hasattr(stamp, "year") else None),
        original_metadata=json_safe(sis),
        metadata_source=f"tiff-tag:{OLYMPUS_SIS}",
    )


class OlympusSisReader(TiffTagReader):
    name = "olympus-sis"
    vendor = "Olympus"

    def accepts(self, source: Source) -> bool:
        make = tiff_tag(source, MAKE)
        return (isinstance(make, str) and make.lower().startswith(_MAKER)) or tiff_tag(source, OLYMPUS_SIS) is not None

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        try:
            pages = [source.tiff.pages[index] for index in range(min(_PAGES_SEARCHED, len(source.tiff.pages)))]
            sis = next((page.tags.valueof(OLYMPUS_SIS) for page in pages if OLYMPUS_SIS in page.tags), None)
        except UnreadableFileError:
            raise
        except Exception as exc:  # tifffile raises many types on damaged files
            raise UnreadableFileError(f"damaged TIFF: {exc}") from exc
        if sis is None:
            raise UnreadableFileError("Olympus TIFF without an OlympusSIS calibration tag")
        return parse_olympus(sis, text_or_none(source.tiff_tags.get(MODEL)),
                             text_or_none(source.tiff_tags.get(DATETIME)))
