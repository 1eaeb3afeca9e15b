"""Gatan DigitalMicrograph DM3/DM4, through RosettaSciIO's tag parser.

This module uses the parser and image objects behind `rsciio.digitalmicrograph.file_reader`
(the private `rsciio.digitalmicrograph._api`), on purpose: they read from the access policy's
handle (O_NOATIME, regular files only), read the tag tree and skip the pixel block. The public
`file_reader(lazy=True)` takes only a file name, opens and memory-maps the pixels itself (the access
time is updated) and refuses RGB images when lazy; it also costs 1.3–1.6× the time (on the four
samples: 5.0–8.2 ms per file here, 8.0–11.3 ms through it). The version is pinned in pyproject.toml
and `tests/readers/test_gatan.py` checks the private API against the public reader.
rsciio already drops the thumbnail; the first remaining image is the record, the others are
summarised in `original_metadata["other_images"]`.

Per image, under `ImageTags`: `Microscope Info` (Voltage in V, Indicated Magnification, Name,
Illumination/Operation Mode), `Session Info` (the microscope name the user typed), `DataBar`
(Acquisition Date/Time in the PC's locale; DigiScan's ctime TimeStamp as fallback). The pixel
calibration comes with its unit: nm, µm, Å become metres; reciprocal units (`1/nm`, diffraction)
leave the pixel size unknown. Vendor is the microscope's (from its name) when known, else Gatan.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.common import json_safe, parse_datetime, text_or_none, vendor_from_name
from emcensus.readers.units import positive, to_metres
from emcensus.vocab import lookup_model

_NOT_A_DETECTOR = {"digiscan"}  # the scan generator; the detector is one of its inputs


def _dm_images(path: str) -> list[tuple[dict[str, Any], list[dict[str, Any]], str]]:
    """(image tag tree, axes, signal type) of every non-thumbnail image, without reading pixels."""
    from rsciio.digitalmicrograph._api import DigitalMicrographReader, ImageObject

    class _Checked(DigitalMicrographReader):
        """rsciio's parser, each tag array's declared size checked against what the file still holds before
        it is read: an array of empty elements (a struct of no fields, strings of no characters) reads
        nothing per element, and a declared 2**40 of them would fill memory one list slot at a time."""

        def read_array(self, size: int, enc_eltype: int, extra: dict[str, Any] | None = None,
                       skip: bool = False) -> Any:
            if not skip:
                _check_declared(size, _element_bytes(self, enc_eltype, extra or {}), self.f)
            return super().read_array(size, enc_eltype, extra, skip)

    with access.open_file(path) as handle:
        parser = _Checked(handle)
        parser.parse_file()
        images = [ImageObject(imdict, handle) for imdict in parser.get_image_dictionaries() or ()]  # None: no ImageList
        return [(image.imdict.to_dict(), image.get_axes_dict(), image.signal_type) for image in images]


def _element_bytes(parser: Any, enc_eltype: int, extra: dict[str, Any]) -> int:
    """Bytes one element of a DM tag array takes in the file (at least 1: an empty one is counted as one)."""
    simple = parser.simple_type
    if enc_eltype in simple:
        size = parser.get_data_reader(enc_eltype)[1]
    elif "definition" in extra:  # structs: their fields' sizes
        size = sum(parser.get_data_reader(field)[1] for field in extra["definition"] if field in simple)
    else:  # strings of `length` characters, arrays of `size` values
        size = extra.get("length") or extra.get("size") or 0
    return max(int(size), 1)


def _check_declared(count: int, element_bytes: int, handle: Any) -> None:
    """Refuse a tag array that declares more bytes than the file holds after it: damage, before any memory
    is given to it (a MemoryError while reading is then this process's memory, not the file's sizes)."""
    left = os.fstat(handle.fileno()).st_size - handle.tell()
    if count < 0 or count * element_bytes > left:
        raise UnreadableFileError(f"damaged DM file: a tag declares {count:,} values of {element_bytes} bytes "
                                  f"where {max(left, 0):,} bytes are left")


def _technique(info: dict[str, Any]) -> str | None:
    illumination = (text_or_none(info.get("Illumination Mode")) or "").upper()
    operation = (text_or_none(info.get("Operation Mode")) or "").upper()
    if "STEM" in illumination:
        return "STEM"
    if illumination == "SEM":
        return "SEM"
    if operation == "SCANNING":
        return "STEM" if "TEM" in illumination else None
    if operation in ("IMAGING", "DIFFRACTION") or "TEM" in illumination:
        return "TEM"
    return None


_SPECTRAL_AXES = {"Energy loss", "Energy", "Wavelength"}  # rsciio's names for EELS, EDS, CL axes
_META_KINDS = {"spectrum": "spectrum", "spectrum image": "spectrum-image", "diffraction image": "diffraction"}


def dm_kind(image_tags: dict[str, Any], axes: list[dict[str, Any]], diffraction: bool) -> str:
    """What a DM image holds: DM's own `Meta Data/Format` first, else the data's dimensions and units.

    A spectrum is often stored as a 2048×1 image, so only axes longer than one count; reciprocal
    units (`1/nm`) or a microscope in diffraction mode make a 2-D image a diffraction pattern.
    """
    meta = image_tags.get("Meta Data") if isinstance(image_tags.get("Meta Data"), dict) else {}
    declared = _META_KINDS.get((text_or_none(meta.get("Format")) or "").lower())
    if declared:
        return declared
    long_axes = [axis for axis in axes if (positive(axis.get("size")) or 0) > 1]
    spectral = any(axis.get("name") in _SPECTRAL_AXES for axis in long_axes)
    if len(long_axes) == 1:
        return "spectrum"
    if len(long_axes) >= 3:
        return "spectrum-image" if spectral else "stack"
    if spectral:
        return "spectrum-image"  # a line scan: position × energy
    if diffraction or any(str(axis.get("units") or "").startswith("1/") for axis in long_axes):
        return "diffraction"
    return "image"


def _axis(axes: list[dict[str, Any]], name: str, fallback: int) -> dict[str, Any] | None:
    named = [axis for axis in axes if axis.get("name") == name]
    if named:
        return named[0]
    return axes[fallback] if len(axes) > abs(fallback) else None


def parse_dm_image(tags: dict[str, Any], axes: list[dict[str, Any]], signal_type: str = "") -> Reading:
    """One DM image's tag tree and calibrated axes as a `Reading`."""
    image_tags = tags.get("ImageTags") if isinstance(tags.get("ImageTags"), dict) else {}
    info = image_tags.get("Microscope Info") if isinstance(image_tags.get("Microscope Info"), dict) else {}
    session = image_tags.get("Session Info") if isinstance(image_tags.get("Session Info"), dict) else {}
    databar = image_tags.get("DataBar") if isinstance(image_tags.get("DataBar"), dict) else {}
    digiscan = image_tags.get("DigiScan") if isinstance(image_tags.get("DigiScan"), dict) else {}
    acquisition = image_tags.get("Acquisition") if isinstance(image_tags.get("Acquisition"), dict) else {}
    device = acquisition.get("Device") if isinstance(acquisition.get("Device"), dict) else {}

    model = (text_or_none(session.get("Microscope")) or text_or_none(info.get("Microscope"))
             or text_or_none(info.get("Name")))
    vendor = vendor_from_name(model) or (None if lookup_model(model) else "Gatan")
    device_name = text_or_none(device.get("Name")) or text_or_none(databar.get("Device Name"))
    if signal_type == "CL":
        detector = "CL"
    elif device_name and device_name.lower() not in _NOT_A_DETECTOR:
        detector = device_name
    else:
        detector = text_or_none(databar.get("Signal Name"))
    diffraction = (text_or_none(info.get("Operation Mode")) or "").upper() == "DIFFRACTION"

    kind = dm_kind(image_tags, axes, diffraction)
    x_axis, y_axis = _axis(axes, "x", -1), _axis(axes, "y", -2)
    if kind == "spectrum":  # its width is the channel count; there is no second spatial axis
        x_axis = max(axes, key=lambda axis: positive(axis.get("size")) or 0)
        y_axis = x_axis
    pixel = None
    if x_axis is not None and kind != "spectrum":
        pixel = to_metres(f"{x_axis.get('scale')} {x_axis.get('units') or ''}".strip(), default_unit="?")
    when = parse_datetime(databar.get("Acquisition Date"), databar.get("Acquisition Time")) or parse_datetime(
        text_or_none(digiscan.get("TimeStamp")))
    original = {
        "ImageTags": json_safe(image_tags),
        "axes": json_safe(axes),
        "signal_type": signal_type or None,
    }
    return Reading(
        vendor=vendor,
        model=model,
        technique=_technique(info),
        detector=detector,
        magnification=None if diffraction else positive(info.get("Indicated Magnification")),
        accelerating_voltage_v=positive(info.get("Voltage")),
        pixel_size_m=pixel,
        width_px=int(x_axis["size"]) if x_axis and positive(x_axis.get("size")) else None,
        height_px=int(y_axis["size"]) if y_axis and y_axis is not x_axis and positive(y_axis.get("size")) else None,
        acquired_at=when,
        original_metadata=original,
        metadata_source="dm-tags",
        kind=kind,
    )


class GatanDmReader(Reader):
    name = "gatan-dm"
    vendor = "Gatan"
    extensions = frozenset({".dm3", ".dm4"})

    def accepts(self, source: Source) -> bool:
        return len(source.head) >= 4 and struct.unpack(">i", source.head[:4])[0] in (3, 4)

    def read(self, source: Source) -> Reading:
        try:
            images = _dm_images(str(source.path))
        except (UnreadableFileError, MemoryError):  # a size the file declares, refused; this process's memory
            raise
        except Exception as exc:  # rsciio raises many types on damaged files
            raise UnreadableFileError(f"damaged DM file: {type(exc).__name__}: {exc}") from exc
        if not images:
            raise UnreadableFileError("DM file holds no image (only a thumbnail or nothing)")
        tags, axes, signal_type = images[0]
        reading = parse_dm_image(tags, axes, signal_type)
        reading.original_metadata["other_images"] = [
            {"title": text_or_none(other.get("Name")), "axes": json_safe(other_axes), "signal_type": other_signal or None}
            for other, other_axes, other_signal in images[1:]
        ]
        return reading
