"""MRC with the FEI2 extended header (Velox export)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.readers.mrc import ole_datetime, parse_mrc


@pytest.mark.parametrize("sample", ["mrc/HAADFscan.mrc"], indirect=True)
def test_spectra_haadf_scan(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("FEI/Thermo", "Spectra", "STEM")
    assert (record.detector, record.detector_family) == ("HAADF", "DF-STEM")
    assert record.accelerating_voltage_v == 300000
    assert record.magnification is None  # 0 in the header: not set in STEM
    assert record.pixel_size_m == pytest.approx(5.6791313e-9)
    assert (record.width_px, record.height_px) == (16, 16)
    assert record.acquired_at == "2022-12-05T12:13:07"  # OLE date 44900.5091
    assert record.metadata_source == "mrc-fei-extended-header"


def test_plain_mrc_header_only() -> None:
    reading = parse_mrc({"nx": 4096, "ny": 4096, "voxel_x": 1.06}, None)
    assert (reading.vendor, reading.technique, reading.width_px) == (None, None, 4096)
    assert reading.pixel_size_m == pytest.approx(1.06e-10)


def test_ole_dates() -> None:
    assert ole_datetime(0) is None and ole_datetime(-5) is None and ole_datetime(1e12) is None
    assert ole_datetime(43831.5).isoformat() == "2020-01-01T12:00:00"
