"""Zeiss SmartSEM TIFF tag 34118 (CZ_SEM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers.zeiss import parse_zeiss

CZ_SEM_TEXT = "\r\n".join([
    "AP_MAG", "Mag = 50.00 K X", "AP_WIDTH", "Width = 5.965 µm", "AP_PIXEL_SIZE", "Pixel Size = 5.825 nm",
    "AP_ACTUALKV", "EHT = 5.00 kV", "AP_WD", "WD = 3.9 mm", "DP_DETECTOR_CHANNEL", "Signal A = SE2",
    "AP_DATE", "Date :25 Sep 2018", "AP_TIME", "Time :8:20:42", "SV_SERIAL_NUMBER", "Serial No. = MERLIN-61-04", "",
])


@pytest.mark.parametrize("sample", ["zeiss-smartsem-tiff/test_tiff_Zeiss_SEM_512pix.tif"], indirect=True)
def test_ultra55(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("Zeiss", "ULTRA 55", "SEM")
    assert (record.detector, record.detector_family) == ("InLens", "SE")
    assert record.magnification == 50000
    assert record.accelerating_voltage_v == 5000
    assert record.working_distance_m == pytest.approx(3.9e-3)
    # AP_PIXEL_SIZE (5.825 nm) refers to a 1024 frame; this file is 512 wide
    assert record.pixel_size_m == pytest.approx(5.965e-6 / 512)
    assert record.pixel_size_m == pytest.approx(11.65e-9, rel=1e-3)
    assert (record.width_px, record.height_px) == (512, 384)
    assert record.acquired_at == "2018-09-25T08:20:42"
    assert record.original_metadata["sv_serial_number"] == ["Serial No.", "ULTRA 55-36-06"]


def test_raw_text_and_pixel_size_fallback() -> None:
    with_width = parse_zeiss(CZ_SEM_TEXT, width_px=1024)
    assert with_width.pixel_size_m == pytest.approx(5.965e-6 / 1024)
    assert (with_width.model, with_width.detector) == ("MERLIN", "SE2")
    assert parse_zeiss(CZ_SEM_TEXT).pixel_size_m == pytest.approx(5.825e-9)


@pytest.mark.parametrize("text", ["", "AP_FOO\nFoo = 1\n", "hello"])
def test_refuses_text_without_zeiss_fields(text: str) -> None:
    with pytest.raises(UnreadableFileError):
        parse_zeiss(text)


@pytest.mark.parametrize("sample", ["zeiss-smartsem-tiff/test_tiff_Zeiss_SEM_512pix.tif"], indirect=True)
def test_truncated_pixels_are_refused_even_with_intact_tags(sample: Path, tmp_path: Path) -> None:
    """The CZ_SEM tag sits before the pixels: a half-copied file still has it, but is damaged."""
    copy = tmp_path / sample.name
    copy.write_bytes(sample.read_bytes()[: sample.stat().st_size // 2])
    with pytest.raises(UnreadableFileError, match="truncated TIFF"):
        read_metadata(copy)
