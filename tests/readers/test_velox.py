"""Velox `.emd` (HDF5 + JSON metadata)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from emcensus import read_metadata


@pytest.mark.parametrize("sample", ["velox-emd/Camera Ceta Imaging Micro.emd"], indirect=True)
def test_ceta_tem_image(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("FEI/Thermo", "Titan", "TEM")
    assert (record.detector, record.detector_family) == ("BM-Ceta", "CAMERA")
    assert record.accelerating_voltage_v == 300000
    assert record.magnification == pytest.approx(26996.349)  # Optics.NominalMagnification
    assert record.pixel_size_m == pytest.approx(3.1388370544e-9)
    assert (record.width_px, record.height_px) == (512, 512)  # not BinaryResult.ImageSize (4096, unbinned)
    assert record.acquired_at == datetime.fromtimestamp(1596041299).isoformat()
    [summary] = record.original_metadata["images"]
    assert (summary["detector"], summary["shape"]) == ("BM-Ceta", [512, 512, 1])


@pytest.mark.parametrize("sample", ["velox-emd/STEM HAADF Diffraction Micro.emd"], indirect=True)
def test_stem_haadf_image(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.technique, record.detector, record.detector_family) == ("STEM", "HAADF", "DF-STEM")
    assert record.magnification == 7100  # CustomProperties.StemMagnification
    assert record.pixel_size_m == pytest.approx(8.7370796e-8)
    assert (record.width_px, record.height_px) == (128, 128)
    assert record.acquired_at == datetime.fromtimestamp(1596041374).isoformat()
