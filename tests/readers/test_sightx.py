"""JEOL SightX TIFF: `<TemReporter>` XML in ImageDescription."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers.sightx import parse_sightx


def reporter(eos: str, mode: str, selector: str) -> str:
    return (
        "<?xml version='1.0'?><TemReporter><Instruments>JEM-F200</Instruments><DateTime>2021-03-04T05:06:07+01:00"
        "</DateTime><ElectronGun><AccelerationVoltage>80000</AccelerationVoltage></ElectronGun>"
        f"<Eos><EosMode>{eos}</EosMode></Eos><ImageFormingSystem><ModeString>{mode}</ModeString>"
        f"<SelectorValue>{selector}</SelectorValue></ImageFormingSystem></TemReporter>"
    )


@pytest.mark.parametrize("sample", ["jeol-tem-sightx-tiff/JEOL-SightX-TEM-mag-dummy.tif"], indirect=True)
def test_arm200f_mag_mode(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("JEOL", "JEM-ARM200F", "TEM")
    assert record.magnification == 150000
    assert record.accelerating_voltage_v == 200000
    assert record.pixel_size_m == pytest.approx(0.0254 / 93 / 150000)  # 93 dpi camera pixels / magnification
    assert (record.width_px, record.height_px) == (556, 556)
    assert record.acquired_at == "2019-11-27T16:11:26"  # local time; the +09:00 offset is in original_metadata
    assert record.original_metadata["TemReporter"]["DateTime"].endswith("+09:00")


def test_diffraction_has_no_magnification_or_pixel_size() -> None:
    reading = parse_sightx(reporter("eosTEM", "DIFF", "250"), pixels_per_metre=3661)
    assert (reading.technique, reading.magnification, reading.pixel_size_m) == ("TEM", None, None)
    assert reading.original_metadata["mode"] == "DIFF"


def test_stem_mode() -> None:
    reading = parse_sightx(reporter("modeASID", "MAG", "500000"), pixels_per_metre=3661)
    assert (reading.technique, reading.magnification, reading.pixel_size_m) == ("STEM", 500000, None)
    assert reading.accelerating_voltage_v == 80000
    assert reading.acquired_at.isoformat() == "2021-03-04T05:06:07"


@pytest.mark.parametrize("text", ["", "<a><b/></a>", "<TemReporter>", "not xml at all"])
def test_refuses_other_text(text: str) -> None:
    with pytest.raises(UnreadableFileError):
        parse_sightx(text)
