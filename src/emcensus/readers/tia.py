"""FEI TIA images: `name_N.ser` (pixels + calibration) with `name.emi` (the microscope state).

One image record per `.ser`; the pipeline pairs the `.emi` as `Source.sidecar` (NATIVE_SIDECARS).
The reader reads both itself, so it is not a sidecar reader (`uses_sidecar = False`).

rsciio's `.ser` loader reads the whole first data element even when lazy, so the `.ser` header
(Boothroyd's documented layout) is read here with `struct`: array size, calibration (m per pixel)
and the element's Unix time stamp, never the pixels. In the `.emi`, each `.ser` is named by its
original path (`..._1.ser`) followed by its `<ObjectInfo>` XML: microscope, `High tension` (kV),
`Mode` (` STEM nP SA Zoom Diffraction`, ` TEM uP SA Zoom Image`), `Magnification`, `AcquireDate`
(`Sun Feb 21 17:50:18 2016`) and, for camera images, `CameraNamePath`. STEM detector names
(BF, DF4, HAADF) are only in the binary display settings before that path (`Acquire BF ...`).
TEM diffraction and camera images taken in STEM mode are reciprocal space: no pixel size then,
and the kind is `diffraction`. A series of 1-D elements is a `spectrum` (width = channel count) or,
with one spectrum per scan position, a `spectrum-image` whose size is the scan's (the series
dimension array after the header); several images make a `stack`.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.common import from_unix, json_safe, parse_datetime, parse_xml, text_or_none, xml_to_dict
from emcensus.readers.units import number, positive, to_magnification, to_volts

SER_MAGIC = b"\x49\x49\x97\x01"  # little-endian byte order mark + series id 0x0197
IMAGE_DATA, SPECTRUM_DATA = 0x4122, 0x4120
_IMAGE_HEADER = struct.Struct("<ddiddiHII")
_SPECTRUM_HEADER = struct.Struct("<ddiHI")  # offset, delta, calibration element, data type, channels
_DIMENSION = struct.Struct("<IddII")  # size, calibration offset, delta, element, description length
_SER_INDEX = re.compile(r"_(\d+)$")
MAX_EMI_BYTES = 256 << 20


def read_ser_header(data: Any) -> dict[str, Any]:
    """Header, first image's calibration and time stamp from an open binary `.ser` file."""
    head = data.read(40)
    if len(head) < 30 or not head.startswith(SER_MAGIC):
        raise UnreadableFileError("not a TIA .ser file (bad byte-order mark or series id)")
    version, data_type, tag_type, total, valid = struct.unpack_from("<HIIII", head, 4)
    wide = version >= 0x220
    offset_format = "<Q" if wide else "<I"
    array_offset, dimensions = struct.unpack_from("<QI" if wide else "<II", head, 22) if len(head) >= 34 else (0, 0)
    if data_type not in (IMAGE_DATA, SPECTRUM_DATA):
        raise UnreadableFileError(f"unknown TIA data type 0x{data_type:04x}")
    if valid == 0 or total == 0:
        raise UnreadableFileError("TIA .ser file holds no valid image (acquisition stopped before the first frame)")
    size = struct.calcsize(offset_format)
    try:
        data.seek(34 if wide else 30)
        scan = [_dimension(data) for _ in range(min(dimensions, 4))]  # the series' own axes (scan positions)
        data.seek(array_offset)
        (data_offset,) = struct.unpack(offset_format, data.read(size))
        data.seek(array_offset + size * total)
        (tag_offset,) = struct.unpack(offset_format, data.read(size))
        data.seek(data_offset)
        if data_type == SPECTRUM_DATA:  # 1-D elements: the width is the channel count
            offset, delta, _, element_type, channels = _SPECTRUM_HEADER.unpack(data.read(_SPECTRUM_HEADER.size))
            image = (offset, delta, 0, 0.0, 0.0, 0, element_type, channels, 0)
        else:
            image = _IMAGE_HEADER.unpack(data.read(_IMAGE_HEADER.size))
        stamp = None
        if tag_offset:
            data.seek(tag_offset)
            stamp = struct.unpack("<HHI", data.read(8))[2]
    except (struct.error, OSError, ValueError, OverflowError) as exc:
        raise UnreadableFileError(f"truncated TIA .ser file: {exc}") from exc
    return {
        "SeriesVersion": version, "DataTypeID": data_type, "TagTypeID": tag_type,
        "TotalNumberElements": total, "ValidNumberElements": valid, "NumberDimensions": dimensions,
        "CalibrationOffsetX": image[0], "CalibrationDeltaX": image[1], "CalibrationOffsetY": image[3],
        "CalibrationDeltaY": image[4], "DataType": image[6], "ArraySizeX": image[7], "ArraySizeY": image[8],
        "Time": stamp, "DimensionSizes": scan,
    }


def _dimension(data: Any) -> int:
    """The size of one series dimension, skipping its description and units strings."""
    dimension_size, _, _, _, described = _DIMENSION.unpack(data.read(_DIMENSION.size))
    data.seek(described, 1)
    (units,) = struct.unpack("<I", data.read(4))
    data.seek(units, 1)
    return dimension_size


def emi_object(emi: bytes, index: int) -> tuple[str | None, str | None]:
    """The `<ObjectInfo>` XML and STEM detector name the `.emi` keeps for `..._<index>.ser`."""
    paths = [(m.start(), int(m.group(1))) for m in re.finditer(rb"_(\d+)\.ser", emi)]
    start = next((position for position, number_ in paths if number_ == index), None)
    previous = max((position for position, _ in paths if start is not None and position < start), default=0)
    if start is None:  # path not found: fall back to the index-th object, as rsciio does
        objects = [m.start() for m in re.finditer(rb"<ObjectInfo>", emi)]
        if not 0 < index <= len(objects):
            return None, None
        start = previous = objects[index - 1]
    begin = emi.find(b"<ObjectInfo>", start)
    end = emi.find(b"</ObjectInfo>", begin)
    if begin < 0 or end < 0:
        return None, None
    detector = re.search(rb"Acquire ([A-Za-z0-9\-]+) ", emi[previous:start])
    xml = emi[begin:end + len(b"</ObjectInfo>")].decode("utf-8", errors="replace")
    return xml, detector.group(1).decode("ascii") if detector else None


def _description(info: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """`<ExperimentalDescription>` rows as {label: (value, unit)}."""
    rows = info.get("ExperimentalDescription")
    rows = rows.get("Root") if isinstance(rows, dict) else None
    rows = rows.get("Data") if isinstance(rows, dict) else None
    rows = rows if isinstance(rows, list) else [rows] if isinstance(rows, dict) else []
    return {
        str(row.get("Label")): (text_or_none(row.get("Value")), text_or_none(row.get("Unit")))
        for row in rows if isinstance(row, dict) and row.get("Label")
    }


def parse_tia(header: dict[str, Any], object_xml: str | None, stem_detector: str | None = None) -> Reading:
    """A `.ser` header and its `.emi` `<ObjectInfo>` (when found) as a `Reading`."""
    info: dict[str, Any] = {}
    if object_xml:
        tree = xml_to_dict(parse_xml(object_xml, "TIA .emi ObjectInfo"))
        info = tree if isinstance(tree, dict) else {}
    described = _description(info)
    acquire = info.get("AcquireInfo") if isinstance(info.get("AcquireInfo"), dict) else {}
    mode = described.get("Mode", (None, None))[0] or ""
    camera = text_or_none(acquire.get("CameraNamePath"))
    technique = "STEM" if "STEM" in mode.upper() else "TEM" if mode else None
    real_space = (technique == "STEM" and not camera) or (technique != "STEM" and "DIFFRACTION" not in mode.upper())
    microscope = described.get("Microscope", (None, None))[0]
    model = re.sub(r"^Microscope\s+", "", microscope) if microscope else None
    spectrum = header.get("DataTypeID") == SPECTRUM_DATA
    several = (number(header.get("ValidNumberElements")) or 0) > 1
    width, height = int(header["ArraySizeX"]) or None, int(header["ArraySizeY"]) or None
    if spectrum and several:  # a spectrum per scan position: the size is the scan's
        kind = "spectrum-image"
        scan = [int(side) for side in header.get("DimensionSizes") or () if side]
        width, height = (scan[0] if scan else None), (scan[1] if len(scan) > 1 else None)
    elif spectrum:  # the width is the channel count
        kind, height = "spectrum", None
    else:
        kind = "stack" if several else "image" if real_space else "diffraction"
    real_space = real_space and not spectrum
    high_tension, unit = described.get("High tension", (None, None))
    magnification = to_magnification(described.get("Magnification", (None, None))[0]) or to_magnification(
        text_or_none(acquire.get("Magnification")))
    return Reading(
        vendor="FEI/Thermo",
        model=model,
        technique=technique,
        detector=camera or stem_detector,
        magnification=magnification if real_space else None,
        accelerating_voltage_v=to_volts(f"{high_tension} {unit or 'kV'}") if high_tension else None,
        pixel_size_m=positive(header.get("CalibrationDeltaX")) if real_space else None,
        width_px=width,
        height_px=height,
        acquired_at=parse_datetime(text_or_none(info.get("AcquireDate"))) or from_unix(header.get("Time")),
        original_metadata={"ser_header": json_safe(header), "ObjectInfo": json_safe(info),
                           "stem_detector": stem_detector},
        metadata_source="tia-emi" if object_xml else "tia-ser",
        kind=kind,
    )


class TiaSerReader(Reader):
    name = "tia"
    vendor = "FEI/Thermo"
    extensions = frozenset({".ser"})
    uses_sidecar = False  # reads the .ser and its .emi together

    def accepts(self, source: Source) -> bool:
        return source.head.startswith(SER_MAGIC)

    def read(self, source: Source) -> Reading:
        with access.open_file(source.path) as handle:
            header = read_ser_header(handle)
        object_xml = detector = None
        index = _SER_INDEX.search(source.path.stem)
        if source.sidecar is not None and index:
            object_xml, detector = emi_object(_read_emi(source.sidecar), int(index.group(1)))
        try:
            return parse_tia(header, object_xml, detector)
        except UnreadableFileError:
            if object_xml is None:
                raise
            return parse_tia(header, None)  # a damaged .emi: the .ser alone still counts


def _read_emi(path: Path) -> bytes:
    """The whole `.emi` under the access policy; a damaged or oversized one is skipped (the .ser still counts)."""
    try:
        return access.read_bounded(path, MAX_EMI_BYTES, ".emi file")
    except UnreadableFileError:
        return b""
