"""JEOL SEM `.txt` sidecars: the real JSM-7600F v1.0 file and the v1.5 layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers.jeol_sem import parse_jeol_sem

SAMPLE = "jeol-sem-txt/JEOL SEM - etched sidewall 01.tif"
V15 = "\r\n".join([
    "$CM_FORMAT JEOL-SEM", "$CM_VERSION 1.5", "$CM_INSTRUMENT JSM-IT300", "$CM_SIGNAL BEC",
    "$CM_ACCEL_VOLT 15.00", "$$SM_WD 10.20", "$CM_MAG 2500", "$$SM_MICRON_BAR 120", "$$SM_MICRON_MARKER 10µm",
    "$CM_DATE 6/9/2017", "$CM_TIME 3:04:05 PM", "$CM_FULL_SIZE 1280 960", "",
])


@pytest.mark.parametrize("sample", [SAMPLE], indirect=True)
def test_jsm7600f_sidecar(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("JEOL", "7600F", "SEM")
    assert (record.detector, record.detector_family) == ("SEI", "SE")
    assert record.accelerating_voltage_v == 1000
    assert record.magnification == 50000
    assert record.working_distance_m == pytest.approx(2.77e-3)
    # the TIFF is 1280x1024: the data bar is not part of the image area
    assert (record.width_px, record.height_px) == (1280, 960)
    assert record.pixel_size_m == pytest.approx(100e-9 / 53)
    assert record.acquired_at == "2010-10-01T08:44:19"
    assert record.metadata_source == "sidecar:jeol-sem"
    assert record.original_metadata["format_version"] == "1.0"


def test_v15_dates_and_units() -> None:
    reading = parse_jeol_sem(V15)
    assert reading.model == "JSM-IT300"
    assert reading.accelerating_voltage_v == 15000
    assert reading.working_distance_m == pytest.approx(10.2e-3)
    assert reading.pixel_size_m == pytest.approx(10e-6 / 120)
    assert reading.acquired_at.isoformat() == "2017-06-09T15:04:05"
    assert reading.original_metadata["format_version"] == "1.5"


def test_format_and_version_on_one_line() -> None:
    reading = parse_jeol_sem("$CM_FORMAT JEOL-SEM v1.0\n$CM_MAG 100\n$$SM_MICRON_MARKER 100um\n$$SM_MICRON_BAR 100\n")
    assert reading.magnification == 100 and reading.pixel_size_m == pytest.approx(1e-6)
    assert reading.original_metadata["format_version"] == "1.0"


@pytest.mark.parametrize("text", ["", "$CM_FORMAT JEOL-SEM\n", "[SemImageFile]\nInstructName=SU8230\n"])
def test_refuses_text_without_jeol_fields(text: str) -> None:
    with pytest.raises(UnreadableFileError):
        parse_jeol_sem(text)
