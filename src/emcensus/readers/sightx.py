"""JEOL TEM images saved by SightX: a `<TemReporter>` XML document in the TIFF ImageDescription.

Model `<Instruments>`, HV `<ElectronGun><AccelerationVoltage>` (V), date `<DateTime>` (ISO 8601
with the PC's UTC offset; kept as the local wall-clock time, like every other reader).
`<Eos><EosMode>` says TEM (`eosTEM`) or STEM (`modeASID`); `<ImageFormingSystem>` gives the mode
string (MAG, LowMAG, DIFF...) and the selector value: a magnification in MAG modes, a camera length
in DIFF, where magnification and pixel size are left unknown. In MAG mode the pixel size is the
TIFF resolution (pixels per metre of the camera) divided by the magnification, as rsciio does.
"""

from __future__ import annotations

from typing import Any

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, Source
from emcensus.readers.common import TiffTagReader, parse_datetime, parse_xml, text_or_none, tiff_tag, xml_to_dict
from emcensus.readers.units import positive, to_volts

IMAGE_DESCRIPTION, MODEL_TAG, X_RESOLUTION, RESOLUTION_UNIT = 270, 272, 282, 296
_METRES_PER_UNIT = {2: 0.0254, 3: 0.01}  # TIFF ResolutionUnit: inch, centimetre


def _path(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def parse_sightx(text: str, pixels_per_metre: float | None = None) -> Reading:
    """SightX `<TemReporter>` XML as a `Reading`; `pixels_per_metre` comes from the TIFF resolution."""
    root = parse_xml(text, "SightX ImageDescription")
    if root.tag != "TemReporter":
        raise UnreadableFileError(f"ImageDescription XML is <{root.tag}>, not a SightX <TemReporter>")
    tree = xml_to_dict(root)
    if not isinstance(tree, dict):
        raise UnreadableFileError("SightX <TemReporter> is empty")
    eos = (text_or_none(_path(tree, "Eos", "EosMode")) or "").upper().removeprefix("EOS").removeprefix("MODE")
    technique = "STEM" if eos in ("ASID", "STEM") else "TEM" if eos == "TEM" else None
    mode = (text_or_none(_path(tree, "ImageFormingSystem", "ModeString")) or "").upper()
    selector = positive(_path(tree, "ImageFormingSystem", "SelectorValue"))
    magnification = selector if "MAG" in mode else None
    density = positive(pixels_per_metre)
    pixel = 1 / density / magnification if magnification and density and technique == "TEM" else None
    return Reading(
        vendor="JEOL",
        model=text_or_none(tree.get("Instruments")),
        technique=technique,
        detector=text_or_none(tree.get("ImageSourceDetector")),
        magnification=magnification,
        accelerating_voltage_v=to_volts(_path(tree, "ElectronGun", "AccelerationVoltage")),
        pixel_size_m=pixel,
        acquired_at=parse_datetime(text_or_none(tree.get("DateTime"))),
        original_metadata={"TemReporter": tree, "mode": mode or None},
        metadata_source=f"tiff-tag:{IMAGE_DESCRIPTION}",
    )


def _pixels_per_metre(source: Source) -> float | None:
    resolution = source.tiff_tags.get(X_RESOLUTION)
    unit = _METRES_PER_UNIT.get(int(source.tiff_tags.get(RESOLUTION_UNIT) or 2))
    if isinstance(resolution, tuple) and len(resolution) == 2 and resolution[1] and unit:
        dots = positive(resolution[0] / resolution[1])
        return dots / unit if dots else None
    return None


class SightxTiffReader(TiffTagReader):
    name = "jeol-sightx"
    vendor = "JEOL"

    def accepts(self, source: Source) -> bool:
        description = tiff_tag(source, IMAGE_DESCRIPTION)
        return isinstance(description, str) and "<TemReporter" in description[:1024]

    def read_tags(self, source: Source, stored_width: int) -> Reading:
        reading = parse_sightx(source.tiff_tags.get(IMAGE_DESCRIPTION) or "", _pixels_per_metre(source))
        reading.model = reading.model or text_or_none(source.tiff_tags.get(MODEL_TAG))
        return reading
