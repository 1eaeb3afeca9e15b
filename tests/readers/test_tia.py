"""TIA `.ser` images with their `.emi`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.readers import Source, read_source


@pytest.mark.parametrize(("sample", "detector", "family"), [
    ("fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser", "BF", "BF-STEM"),
    ("fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_2.ser", "DF4", "DF-STEM"),
], indirect=["sample"])
def test_stem_bright_and_dark_field(sample: Path, detector: str, family: str) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument) == ("FEI/Thermo", "Tecnai 200 kV D2267 SuperTwin")
    assert (record.technique, record.detector, record.detector_family) == ("STEM", detector, family)
    assert (record.magnification, record.accelerating_voltage_v) == (10000, 200000)
    assert record.pixel_size_m == pytest.approx(21.510044e-9)
    assert (record.width_px, record.height_px) == (16, 16)
    assert record.acquired_at == "2016-02-21T17:53:06"
    assert record.metadata_source == "tia-emi"


@pytest.mark.parametrize(("sample", "model", "camera", "mag", "pixel_nm", "size", "when"), [
    ("fei-tia-emi-ser/64x64_TEM_images_acquire_1.ser", "Tecnai 200 kV D2267 SuperTwin", "WA-Orius", 19500,
     6.2818336, 64, "2016-02-21T17:50:18"),
    ("fei-tia-emi-ser/128x128-TEM_search_1.ser", "TalosF200X 200 kV D6308 XTwin", "BM-Ceta", 22500,
     5.2612142, 128, "2016-02-22T18:50:01"),
], indirect=["sample"])
def test_tem_camera_images(sample: Path, model: str, camera: str, mag: int, pixel_nm: float, size: int,
                           when: str) -> None:
    record = read_metadata(sample)
    assert (record.instrument, record.technique, record.detector) == (model, "TEM", camera)
    assert record.magnification == mag and record.accelerating_voltage_v == 200000
    assert record.pixel_size_m == pytest.approx(pixel_nm * 1e-9)
    assert (record.width_px, record.height_px) == (size, size)
    assert record.acquired_at == when


@pytest.mark.parametrize("sample", ["fei-tia-emi-ser/64x64_TEM_images_acquire_1.ser"], indirect=True)
def test_emi_is_not_reported_as_an_unknown_sidecar(sample: Path) -> None:
    problems: list = []
    with Source(sample, sample.with_name("64x64_TEM_images_acquire.emi")) as source:
        read_source(source, problems=problems)
    assert problems == []


@pytest.mark.parametrize("sample", ["fei-tia-emi-ser/64x64_TEM_images_acquire_1.ser"], indirect=True)
def test_ser_without_its_emi(sample: Path, tmp_path: Path) -> None:
    """Calibration, size and the .ser's own time stamp remain."""
    shutil.copyfile(sample, tmp_path / sample.name)
    record = read_metadata(tmp_path / sample.name)
    assert record.metadata_source == "tia-ser"
    assert record.pixel_size_m == pytest.approx(6.2818336e-9)
    assert (record.width_px, record.height_px) == (64, 64)
    assert record.acquired_at_source == "metadata" and record.acquired_at.startswith("2016-02-2")
