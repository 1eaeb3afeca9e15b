"""Olympus Soft Imaging Solutions camera TIFF (OlympusSIS tag on the second page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata


@pytest.mark.parametrize("sample", ["olympus-sis-tiff/olympus_SIS.tif"], indirect=True)
def test_quemesa_image(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument) == ("Olympus", None)  # the microscope is not recorded
    assert (record.detector, record.detector_family) == ("Quemesa", "CAMERA")
    assert record.magnification == 600000
    assert record.pixel_size_m == pytest.approx(2.3928e-11, rel=1e-4)
    assert (record.width_px, record.height_px) == (112, 101)
    assert record.acquired_at == "2018-11-15T19:42:31"
    assert record.metadata_source == "tiff-tag:33560"
