"""TVIPS EM-MENU camera TIFF (tag 37706)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers.tvips import parse_tvips, tvips_datetime


@pytest.mark.parametrize("sample", ["tvips-tiff/TVIPS_bin4.tif"], indirect=True)
def test_f416_image(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("TVIPS", "MCL_04", "TEM")
    assert (record.detector, record.detector_family) == ("F416", "CAMERA")
    assert record.magnification == 32000  # TemMagnification; v1 'Magnification' 320000 is scaled
    assert record.accelerating_voltage_v == 99000  # TemHighTension; v1 'HighTension' 990000 is scaled
    assert record.pixel_size_m == pytest.approx(1.4208e-9, rel=1e-4)
    assert (record.width_px, record.height_px) == (1024, 1024)
    # packed Date 132187148 = 2017 << 16 | 4 << 8 | 12; the image name says 12-04-2017
    assert record.acquired_at == "2017-04-12T09:01:17"
    assert "12-04-2017" in record.original_metadata["ImageName"]


@pytest.mark.parametrize(("packed", "seconds", "expected"), [
    (2017 << 16 | 4 << 8 | 12, 32477, "2017-04-12T09:01:17"),
    (2017 << 16 | 13 << 8 | 12, 0, None),  # month 13
    (0, 0, None),
    (12345, 99, None),
])
def test_packed_date(packed: int, seconds: int, expected: str | None) -> None:
    when = tvips_datetime(packed, seconds)
    assert (when.isoformat() if when else None) == expected


def test_diffraction_mode_has_no_real_space_calibration() -> None:
    reading = parse_tvips({"Version": 2, "TemMode": 3, "TemMagnification": 800.0, "PixelSizeX": 0.01})
    assert reading.magnification is None and reading.pixel_size_m is None


def test_refuses_non_header() -> None:
    with pytest.raises(UnreadableFileError):
        parse_tvips({"foo": 1})
