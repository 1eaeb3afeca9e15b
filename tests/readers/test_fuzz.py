"""Property tests: every metadata parser, fed anything, returns a sane Reading or UnreadableFileError.

Each parser gets arbitrary text (or bytes) and also text shaped like its format, where the values
are arbitrary: that is where a real, damaged or oddly localised file would break a parser.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any, Callable
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reading, check_text, decode_text
from emcensus.readers.common import parse_datetime
from emcensus.readers.fei import parse_fei
from emcensus.readers.hitachi import parse_hitachi
from emcensus.readers.jeol_sem import parse_jeol_sem
from emcensus.readers.mrc import parse_mrc
from emcensus.readers.sightx import parse_sightx
from emcensus.readers.tia import emi_object, parse_tia, read_ser_header
from emcensus.readers.tvips import parse_tvips
from emcensus.readers.units import to_magnification, to_metres, to_volts
from emcensus.readers.velox import parse_velox
from emcensus.readers.zeiss import parse_zeiss

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMERIC_FIELDS = ("magnification", "accelerating_voltage_v", "working_distance_m", "pixel_size_m")

# Values a damaged or foreign-locale file may hold where a number, unit or date is expected.
values = st.one_of(
    st.text(max_size=40),
    st.builds(lambda n, u: f"{n} {u}", st.floats(allow_nan=True, allow_infinity=True),
              st.sampled_from(["Volt", "V", "kV", "um", "µm", "mm", "nm", "K X", "x", "", "1/nm"])),
    st.from_regex(r"-?\d{1,12}([.,]\d{0,6})?", fullmatch=True),
    st.from_regex(r"\d{1,5}[/.:\-]\d{1,5}[/.:\-]\d{1,5}( \d{1,2}:\d{1,3}(:\d{1,3})? ?[APap]?[Mm]?)?", fullmatch=True),
)


def sane(parse: Callable[..., Reading], *args: Any) -> None:
    """Call a parser: it may refuse, but what it returns must be well-formed."""
    try:
        reading = parse(*args)
    except UnreadableFileError:
        return
    assert isinstance(reading, Reading)
    for name in NUMERIC_FIELDS:
        value = getattr(reading, name)
        assert value is None or (math.isfinite(value) and value > 0), (name, value)
    for name in ("width_px", "height_px"):
        value = getattr(reading, name)
        assert value is None or (isinstance(value, int) and value > 0), (name, value)
    assert reading.acquired_at is None or isinstance(reading.acquired_at, datetime)
    assert isinstance(reading.original_metadata, dict)


def key_values(keys: list[str], line: Callable[[str, str], str], header: str = "") -> st.SearchStrategy[str]:
    pairs = st.lists(st.tuples(st.sampled_from(keys), values), max_size=20)
    return pairs.map(lambda items: header + "\r\n".join(line(k, v) for k, v in items))


HITACHI_KEYS = ["InstructName", "SignalName", "Magnification", "AcceleratingVoltage", "WorkingDistance",
                "PixelSize", "DataSize", "Date", "Time", "Condition", "[Other]", "SemVersion"]
JEOL_KEYS = ["$CM_INSTRUMENT", "$CM_SIGNAL", "$CM_MAG", "$CM_ACCEL_VOLT", "$$SM_WD", "$$SM_MICRON_BAR",
             "$$SM_MICRON_MARKER", "$CM_DATE", "$CM_TIME", "$CM_FULL_SIZE", "$CM_VERSION"]
FEI_SECTIONS = ["User", "System", "Beam", "EBeam", "IBeam", "Scan", "Stage", "Image", "Detectors"]
FEI_KEYS = ["Date", "Time", "SystemType", "HV", "Beam", "HFW", "WD", "PixelWidth", "WorkingDistance",
            "ResolutionX", "ResolutionY", "MagCanvasRealWidth", "Name", "Mode"]
ZEISS_KEYS = ["AP_MAG", "AP_WIDTH", "AP_PIXEL_SIZE", "AP_ACTUALKV", "AP_MANUALKV", "AP_WD", "DP_DETECTOR_CHANNEL",
              "AP_DATE", "AP_TIME", "SV_SERIAL_NUMBER"]


@FUZZ
@given(st.text())
def test_sidecar_parsers_on_any_text(text: str) -> None:
    sane(parse_hitachi, text)
    sane(parse_jeol_sem, text)


@FUZZ
@given(st.binary(max_size=4096))
def test_sidecar_parsers_on_any_bytes(data: bytes) -> None:
    """The path a sidecar takes: decoding (BOM, UTF-16, cp932, cp1252), the text check, the parser."""
    try:
        text = check_text(decode_text(data))
    except UnreadableFileError:
        return
    sane(parse_hitachi, text)
    sane(parse_jeol_sem, text)


@FUZZ
@given(key_values(HITACHI_KEYS, lambda k, v: k if k.startswith("[") else f"{k}={v}", "[SemImageFile]\r\n"))
def test_hitachi_shaped_text(text: str) -> None:
    sane(parse_hitachi, text)


@FUZZ
@given(key_values(JEOL_KEYS, lambda k, v: f"{k} {v}", "$CM_FORMAT JEOL-SEM\r\n"))
def test_jeol_shaped_text(text: str) -> None:
    sane(parse_jeol_sem, text)


@FUZZ
@given(st.text())
def test_tag_parsers_on_any_text(text: str) -> None:
    sane(parse_fei, text)
    sane(parse_zeiss, text)
    sane(parse_zeiss, text, 512)
    sane(parse_sightx, text)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(FEI_SECTIONS), st.sampled_from(FEI_KEYS), values), max_size=25))
def test_fei_shaped_text(entries: list[tuple[str, str, str]]) -> None:
    sane(parse_fei, "\r\n".join(f"[{section}]\r\n{key}={value}" for section, key, value in entries))


@FUZZ
@given(key_values(ZEISS_KEYS, lambda k, v: f"{k}\r\nLabel = {v}"), st.integers(-5, 5000))
def test_zeiss_shaped_text(text: str, width: int) -> None:
    sane(parse_zeiss, text, width)


@FUZZ
@given(st.lists(values, min_size=6, max_size=6), st.floats(allow_nan=True, allow_infinity=True))
def test_sightx_shaped_xml(fields: list[str], density: float) -> None:
    model, when, volts, eos, mode, selector = (escape(field) for field in fields)
    text = (f"<TemReporter><Instruments>{model}</Instruments><DateTime>{when}</DateTime><ElectronGun>"
            f"<AccelerationVoltage>{volts}</AccelerationVoltage></ElectronGun><Eos><EosMode>{eos}</EosMode></Eos>"
            f"<ImageFormingSystem><ModeString>{mode}</ModeString><SelectorValue>{selector}</SelectorValue>"
            "</ImageFormingSystem></TemReporter>")
    sane(parse_sightx, text, density)
    sane(parse_sightx, text.replace("MAG", "").replace(mode, "MAG"), density)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), values),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(st.dictionaries(st.sampled_from([
    "Version", "TemMode", "TemType", "PixelSizeX", "CameraType", "TemMagnification", "TemHighTension",
    "ImageSizeX", "ImageSizeY", "Date", "Time"]), json_values))
def test_tvips_header_values(header: dict[str, Any]) -> None:
    sane(parse_tvips, header)


@FUZZ
@given(st.dictionaries(st.sampled_from(["nx", "ny", "voxel_x"]), json_values),
       st.one_of(st.none(), st.dictionaries(st.sampled_from([
           "Instrument mode", "Microscope type", "HT", "Pixel size X", "Magnification", "Timestamp",
           "Camera name", "STEM Detector name"]), json_values)))
def test_mrc_header_values(header: dict[str, Any], record: dict[str, Any] | None) -> None:
    sane(parse_mrc, header, record)


@FUZZ
@given(st.dictionaries(st.sampled_from([
    "Instrument", "Optics", "BinaryResult", "Detectors", "CustomProperties", "Acquisition"]), json_values),
    st.one_of(st.none(), st.integers(1, 4096)))
def test_velox_metadata_values(meta: dict[str, Any], size: int | None) -> None:
    sane(parse_velox, meta, size, size)


@FUZZ
@given(st.binary(max_size=512))
def test_ser_header_on_any_bytes(data: bytes) -> None:
    try:
        header = read_ser_header(io.BytesIO(data))
    except UnreadableFileError:
        return
    sane(parse_tia, header, None)


@FUZZ
@given(st.binary(max_size=2048), st.integers(0, 5), st.lists(values, min_size=3, max_size=3))
def test_emi_objects_on_any_bytes(data: bytes, index: int, fields: list[str]) -> None:
    mode, magnification, when = (escape(field) for field in fields)
    xml = (f"<ObjectInfo><ExperimentalDescription><Root><Data><Label>Mode</Label><Value>{mode}</Value><Unit/></Data>"
           f"<Data><Label>Magnification</Label><Value>{magnification}</Value><Unit>x</Unit></Data></Root>"
           f"</ExperimentalDescription><AcquireDate>{when}</AcquireDate></ObjectInfo>").encode()
    header = {"ArraySizeX": 16, "ArraySizeY": 16, "CalibrationDeltaX": 1e-9, "Time": 0}
    for emi in (data, data + b"_1.ser" + xml):
        object_xml, detector = emi_object(emi, index)
        assert detector is None or isinstance(detector, str)
        sane(parse_tia, header, object_xml, detector)


@FUZZ
@given(values, st.one_of(st.none(), values))
def test_units_and_dates_never_raise(text: str, time_text: str | None) -> None:
    for convert in (to_metres, to_volts, to_magnification):
        result = convert(text)
        assert result is None or (math.isfinite(result) and result > 0)
    when = parse_datetime(text, time_text)
    assert when is None or 1980 <= when.year <= 2100
