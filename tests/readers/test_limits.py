"""Absurd but finite numbers never leave the readers (issue 7 item 2): each is dropped to None at the
one normalisation boundary, with a warning that says which value and why."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus import read_metadata
from emcensus.readers import Source, read_source
from emcensus.readers.base import Reading
from emcensus.readers.limits import PHYSICAL_RANGES, drop_impossible
from emcensus.record import Problem
from readers.vendor_craft import SER_SPECTRUM, ser_bytes, tiff_bytes, write
from support import hitachi_sidecar, write_tiff


def _read(path: Path) -> tuple[object, list[Problem]]:
    problems: list[Problem] = []
    with Source(path, next((p for p in (path.with_suffix(".txt"),) if p.exists()), None)) as source:
        return read_source(source, problems=problems), problems


def _hitachi(tmp_path: Path, **overrides: str) -> Path:
    lines = hitachi_sidecar(5000, "SE(U)").splitlines()
    for key, value in overrides.items():
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line for line in lines]
    write_tiff(tmp_path / "a.tif")
    (tmp_path / "a.txt").write_text("\r\n".join(lines), encoding="cp1252")
    return tmp_path / "a.tif"


@pytest.mark.parametrize(("key", "value", "field", "label"), [
    ("Magnification", "1e-310", "magnification", "magnification"),
    ("Magnification", "1e308", "magnification", "magnification"),
    ("Magnification", "0.5", "magnification", "magnification"),
    ("PixelSize", "1e308", "pixel_size_m", "pixel size"),
    ("PixelSize", "1e-20", "pixel_size_m", "pixel size"),
    ("AcceleratingVoltage", "1e300 Volt", "accelerating_voltage_v", "accelerating voltage"),
    ("AcceleratingVoltage", "1 Volt", "accelerating_voltage_v", "accelerating voltage"),
    ("WorkingDistance", "1e12 um", "working_distance_m", "working distance"),
    ("DataSize", "9999999x5", "width_px", "width"),
])
def test_hitachi_absurd_values(key: str, value: str, field: str, label: str, tmp_path: Path) -> None:
    record, problems = _read(_hitachi(tmp_path, **{key: value}))
    assert getattr(record, field) is None
    assert record.instrument == "SU8230"  # the rest of the sidecar still counts
    assert any(p.severity == "warning" and p.reason.startswith(f"{label} ") and "physical range" in p.reason
               for p in problems), problems
    for number in (record.fov_width_m, record.magnification, record.pixel_size_m):
        assert number is None or math.isfinite(number)


def test_fei_pixel_width_1e307(tmp_path: Path) -> None:
    text = ("[User]\r\nDate=06/23/2016\r\nTime=10:11:12 AM\r\n[System]\r\nSystemType=Helios G4\r\n"
            "[Beam]\r\nHV=5000\r\n[Scan]\r\nPixelWidth=1e307\r\n[EBeam]\r\nHFW=1e-5\r\n").encode()
    path = write(tmp_path / "fei.tif", tiff_bytes(4, 4, [(34682, 2, len(text) + 1, text + b"\0")]))
    record, problems = _read(path)
    assert record.metadata_source == "tiff-tag:34682"
    assert record.pixel_size_m is None and record.fov_width_m is None
    assert any("pixel size 1e+307" in p.reason for p in problems)


def test_tia_calibration_1e308(tmp_path: Path) -> None:
    record, problems = _read(write(tmp_path / "x_1.ser", ser_bytes(delta=1e308)))
    assert (record.pixel_size_m, record.fov_width_m, record.width_px) == (None, None, 4)
    assert any("pixel size 1e+308" in p.reason for p in problems)


def test_jeol_magnification_1e_minus_310(tmp_path: Path) -> None:
    write_tiff(tmp_path / "j.tif")
    (tmp_path / "j.txt").write_text("$CM_FORMAT JEOL-SEM\n$CM_INSTRUMENT JSM-7600F\n$CM_MAG 1e-310\n"
                                    "$CM_ACCEL_VOLT 15\n$$SM_MICRON_BAR 0.0000001\n$$SM_MICRON_MARKER 1e300um\n")
    record, problems = _read(tmp_path / "j.tif")
    assert (record.magnification, record.pixel_size_m, record.accelerating_voltage_v) == (None, None, 15000)
    assert {p.reason.split(" ")[0] for p in problems} == {"magnification", "pixel"}


def test_spectrum_series_calibration_is_not_a_pixel_size(tmp_path: Path) -> None:
    record = read_metadata(write(tmp_path / "s_1.ser", ser_bytes(SER_SPECTRUM, width=2048, delta=1e308)))
    assert (record.kind, record.width_px, record.pixel_size_m) == ("spectrum", 2048, None)


ABSURD = [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-310, 1e308]


@pytest.mark.parametrize("field", sorted(PHYSICAL_RANGES))
@pytest.mark.parametrize("value", ABSURD, ids=repr)
def test_every_field_drops_absurd_values(field: str, value: float) -> None:
    reading = Reading(**{field: value})
    problems: list[Problem] = []
    drop_impossible(reading, "x", problems)
    assert getattr(reading, field) is None
    assert len(problems) == 1 and problems[0].severity == "warning"
    assert PHYSICAL_RANGES[field].label in problems[0].reason


@pytest.mark.parametrize("field", sorted(PHYSICAL_RANGES))
def test_range_ends_are_kept(field: str) -> None:
    bounds = PHYSICAL_RANGES[field]
    for value in (bounds.low, bounds.high):
        reading = Reading(**{field: value})
        drop_impossible(reading, "x", problems := [])
        assert getattr(reading, field) == value and problems == []


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({name: st.one_of(st.none(), st.floats(), st.integers(-2**70, 2**70))
                              for name in PHYSICAL_RANGES}))
def test_any_numbers_leave_only_physical_values(values: dict[str, float | int | None]) -> None:
    reading = Reading(**values)
    problems: list[Problem] = []
    drop_impossible(reading, "x", problems)
    for name, bounds in PHYSICAL_RANGES.items():
        value = getattr(reading, name)
        assert value is None or bounds.holds(float(value))
    assert len(problems) == sum(1 for name in PHYSICAL_RANGES if values[name] is not None and getattr(reading, name) is None)


def test_velox_pixel_size_1e308(tmp_path: Path) -> None:
    import h5py

    from readers.vendor_craft import VELOX_META as META
    from readers.vendor_craft import velox_image as _image

    path = tmp_path / "v.emd"
    meta = {**META, "BinaryResult": {**META["BinaryResult"], "PixelSize": {"width": "1e308"}},
            "Optics": {"AccelerationVoltage": "1e-300", "NominalMagnification": "1e300"}}
    with h5py.File(path, "w") as handle:
        _image(handle.create_group("Data/Image"), "0", meta)
    record, problems = _read(path)
    assert (record.pixel_size_m, record.accelerating_voltage_v, record.magnification) == (None, None, None)
    assert len(problems) == 3


def test_mrc_voxel_size_of_a_kilometre(tmp_path: Path) -> None:
    import mrcfile
    import numpy as np

    path = tmp_path / "m.mrc"
    with mrcfile.new(path, data=np.zeros((1, 4, 4), dtype=np.int8)) as mrc:
        mrc.voxel_size = 1e13  # Å
    record, problems = _read(path)
    assert (record.pixel_size_m, record.width_px) == (None, 4)
    assert [p.reason.split(" ")[0] for p in problems] == ["pixel"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4))
def test_any_sidecar_numbers_leave_a_physical_record(numbers: list[float]) -> None:
    """End to end through a real file: whatever the sidecar says, the record is physical and finite."""
    import tempfile

    magnification, pixel, volts, distance = (repr(number) for number in numbers)
    with tempfile.TemporaryDirectory() as folder:
        image = _hitachi(Path(folder), Magnification=magnification, PixelSize=pixel,
                         AcceleratingVoltage=f"{volts} Volt", WorkingDistance=f"{distance} um")
        record, _ = _read(image)
    for name, bounds in PHYSICAL_RANGES.items():
        value = getattr(record, name)
        assert value is None or bounds.holds(float(value)), (name, value)
    assert record.fov_width_m is None or math.isfinite(record.fov_width_m)
