"""FEI / Thermo Fisher TIFF tag 34682: Helios DualBeam, Quanta ESEM and a Nav-Cam photograph."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers.fei import OPTICAL_NOTE, parse_fei


@pytest.mark.parametrize("sample", [
    "fei-tfs-tiff/FEI-Helios-Ebeam-8bits.tif", "fei-tfs-tiff/FEI-Helios-Ebeam-16bits.tif",
], indirect=True)
def test_helios_ebeam(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("FEI/Thermo", "Helios NanoLab 660", "SEM")
    assert (record.detector, record.detector_family) == ("ETD (SE)", "SE")
    assert record.accelerating_voltage_v == 5000
    assert record.working_distance_m == pytest.approx(4.03466e-3)
    assert record.pixel_size_m == pytest.approx(3.3724e-6)
    assert (record.width_px, record.height_px) == (512, 442)  # the TIFF is 471 high with its data bar
    assert record.magnification == pytest.approx(0.2072 / 0.00172667)
    assert record.acquired_at == "2016-06-13T17:06:40"
    assert record.metadata_source == "tiff-tag:34682"


@pytest.mark.parametrize("sample", ["fei-tfs-tiff/quad1image_001.tif"], indirect=True)
def test_quanta_esem(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.instrument, record.detector, record.detector_family) == ("Quanta FEG", "LFD (SE)", "SE")
    assert record.accelerating_voltage_v == 30000
    assert (record.width_px, record.height_px) == (1024, 884)
    assert record.pixel_size_m == pytest.approx(4.41942e-7)
    assert record.acquired_at == "2017-12-18T13:04:14"


@pytest.mark.parametrize("sample", ["fei-tfs-tiff/FEI-Helios-navcam.tif"], indirect=True)
def test_navcam_is_not_an_electron_image(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.detector, record.detector_family, record.technique) == ("Nav-Cam", "OPTICAL", None)
    assert record.magnification is None and record.accelerating_voltage_v is None
    assert record.working_distance_m is None  # stored as -1.2e-05
    assert (record.width_px, record.height_px) == (768, 512)
    assert record.original_metadata["emcensus_note"] == OPTICAL_NOTE
    assert record.acquired_at == "2022-05-17T09:07:08"


def test_raw_ini_text_and_bse_mode() -> None:
    text = "\r\n".join([
        "[User]", "Date=01/02/2020", "Time=11:59:00 PM", "[System]", 'SystemType=Apreo" 2', "[Beam]", "HV=2000",
        "Beam=EBeam", "[EBeam]", "HFW=0.0001", "WD=0.004", "[Scan]", "PixelWidth=1e-07", "[Detectors]",
        "Name=TLD", "Mode=BSE", "[Image]", "ResolutionX=1000", "ResolutionY=800", "MagCanvasRealWidth=0.1",
    ])
    reading = parse_fei(text)
    assert (reading.model, reading.detector) == ("Apreo 2", "TLD (BSE)")
    assert (reading.accelerating_voltage_v, reading.working_distance_m) == (2000, 0.004)
    assert reading.magnification == pytest.approx(1000)
    assert reading.acquired_at.isoformat() == "2020-01-02T23:59:00"


@pytest.mark.parametrize("text", ["", "no sections here", "[User]\nDate=01/02/2020\n"])
def test_refuses_ini_without_fei_fields(text: str) -> None:
    with pytest.raises(UnreadableFileError):
        parse_fei(text)
