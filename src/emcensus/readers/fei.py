"""FEI / Thermo Fisher SEM and DualBeam TIFF: INI text in tag 34682 (FEI_HELIOS) or 34680 (FEI_SFEG).

tifffile already turns the tag into {section: {key: value}}; `parse_fei` also takes the raw text.
Where things are: model `[System] SystemType` (stray `"` removed: `Helios NanoLab" 660`),
detector `[Detectors] Name` + `Mode` (`ETD (SE)`), HV `[Beam] HV` (V), WD `[Stage] WorkingDistance`
(m), pixel `[Scan] PixelWidth` (m) or HFW / `[Image] ResolutionX`, date `[User] Date` (MM/DD/YYYY)
+ `Time` (12 h). Magnification is not stored: `[Image] MagCanvasRealWidth` / HFW is what xT shows.
Width and height are `[Image] ResolutionX/Y`: the stored TIFF height includes the data bar.

Nav-Cam images (no `[Scan]`, detector `Nav-Cam`) are optical photographs of the stage: their
detector is reported as is (family OPTICAL in `emcensus.vocab`, so no technique), there is no
magnification, and `original_metadata["emcensus_note"]` says why.
"""

from __future__ import annotations

import re
from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source
from emcensus.readers.common import TiffTagReader, json_safe, parse_datetime, parse_ini, text_or_none, tiff_tag
from emcensus.readers.units import positive

FEI_TAGS = (34682, 34680)  # FEI_HELIOS, FEI_SFEG
_OPTICAL_DETECTOR = re.compile(r"nav|cam|ccd|optical", re.IGNORECASE)
OPTICAL_NOTE = "optical navigation-camera image of the stage, not an electron image"


def _section(meta: dict[str, Any], name: str) -> dict[str, Any]:
    value = meta.get(name)
    return value if isinstance(value, dict) else {}


def _get(meta: dict[str, Any], name: str, key: str) -> Any:
    return _section(meta, name).get(key)


def parse_fei(metadata: str | dict[str, Any]) -> Reading:
    """FEI INI metadata (raw text or tifffile's dict) as a `Reading`."""
    meta = parse_ini(metadata) if isinstance(metadata, str) else metadata
    if not isinstance(meta, dict) or not any(isinstance(v, dict) for v in meta.values()):
        raise UnreadableFileError("FEI metadata tag holds no [Section] Key=Value text")
    beam_kind = text_or_none(_get(meta, "Beam", "Beam")) or "EBeam"
    beam = _section(meta, beam_kind)
    detector_name = text_or_none(_get(meta, "Detectors", "Name"))
    mode = text_or_none(_get(meta, "Detectors", "Mode"))
    detector = f"{detector_name} ({mode})" if detector_name and mode and mode.lower() != "none" else detector_name
    optical = "Scan" not in meta and bool(detector_name and _OPTICAL_DETECTOR.search(detector_name))

    model = text_or_none(_get(meta, "System", "SystemType"))
    if model:
        model = " ".join(model.replace('"', " ").split())
    width = positive(_get(meta, "Image", "ResolutionX"))
    height = positive(_get(meta, "Image", "ResolutionY"))
    hfw = positive(beam.get("HFW"))
    pixel = positive(_get(meta, "Scan", "PixelWidth")) or (hfw / width if hfw and width else None)
    canvas = positive(_get(meta, "Image", "MagCanvasRealWidth"))
    original = json_safe(meta)
    if optical:
        original["emcensus_note"] = OPTICAL_NOTE
    reading = Reading(
        vendor="FEI/Thermo",
        model=model,
        detector=detector,
        magnification=canvas / hfw if canvas and hfw and not optical else None,
        accelerating_voltage_v=positive(_get(meta, "Beam", "HV")) or positive(beam.get("HV")),
        working_distance_m=positive(_get(meta, "Stage", "WorkingDistance")) or positive(beam.get("WD")),
        pixel_size_m=pixel,
        width_px=(int(width) or None) if width else None,  # `ResolutionX=.1` is no width (nor 0)
        height_px=(int(height) or None) if height else None,
        acquired_at=parse_datetime(_get(meta, "User", "Date"), _get(meta, "User", "Time")),
        original_metadata=original,
        metadata_source="tiff-tag:34682",
    )
    if not any((reading.model, reading.detector, reading.accelerating_voltage_v, reading.pixel_size_m)):
        raise UnreadableFileError("FEI metadata has none of SystemType, Detectors, HV, PixelWidth")
    return reading


class FeiTiffReader(TiffTagReader):
    name = "fei-tiff"
    vendor = "FEI/Thermo"

    def accepts(self, source: Source) -> bool:
        return any(tiff_tag(source, code) is not None for code in FEI_TAGS)

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        for code in FEI_TAGS:
            value = source.tiff_tags.get(code)
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            if isinstance(value, (str, dict)):
                reading = parse_fei(value)
                reading.metadata_source = f"tiff-tag:{code}"
                return reading
        raise UnreadableFileError("FEI metadata tag could not be decoded")
