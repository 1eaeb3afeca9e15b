"""Gatan DM3/DM4 through rsciio's tag parser (pixels never read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.readers import Source
from emcensus.readers.gatan import GatanDmReader


@pytest.mark.parametrize("sample", ["gatan-dm/test_STEM_image.dm3"], indirect=True)
def test_stem_image_on_a_titan(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("FEI/Thermo", "FEI Titan", "STEM")
    assert record.accelerating_voltage_v == 200000
    assert record.magnification == 225000
    assert record.pixel_size_m == pytest.approx(0.248538e-9, rel=1e-5)
    assert (record.width_px, record.height_px) == (68, 68)
    assert record.acquired_at == "2016-08-08T16:26:37"
    assert record.metadata_source == "dm-tags"


@pytest.mark.parametrize("sample", ["gatan-dm/test_diffraction_pattern.dm3"], indirect=True)
def test_diffraction_pattern_has_no_real_space_calibration(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.instrument, record.technique, record.detector) == ("FEI Tecnai", "TEM", "BM-UltraScan")
    assert record.pixel_size_m is None and record.magnification is None
    assert record.original_metadata["axes"][0]["units"] == "1/nm"
    assert record.acquired_at == "2014-07-09T18:56:37"


@pytest.mark.parametrize("sample", ["gatan-dm/test-MonarcCL_mono-image.dm4"], indirect=True)
def test_cathodoluminescence_on_a_zeiss_sem(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.technique, record.detector_family) == ("Zeiss", "SEM", "CL")
    assert (record.accelerating_voltage_v, record.magnification) == (3000, 2500)
    assert record.pixel_size_m == pytest.approx(18.3253e-6, rel=1e-5)  # µm calibration
    assert record.acquired_at == "2021-05-14T11:41:07"


@pytest.mark.parametrize("sample", ["gatan-dm/dmTest_float32_nonSquare_diffPixelSize.dm3"], indirect=True)
def test_uncalibrated_test_image(sample: Path) -> None:
    """No Microscope Info: Gatan, x in nm (y in Å is not the pixel width), no date but the file's."""
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("Gatan", None, None)
    assert record.pixel_size_m == pytest.approx(1e-9)
    assert (record.width_px, record.height_px) == (128, 64)
    assert record.acquired_at_source == "mtime"


@pytest.mark.parametrize("sample", ["gatan-dm/test_STEM_image.dm3"], indirect=True)
def test_pixels_are_not_read(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rsciio.digitalmicrograph import _api

    def refuse(*args, **kwargs):
        raise AssertionError("pixel data read")

    monkeypatch.setattr(_api.ImageObject, "get_data", refuse)
    with Source(sample) as source:
        assert GatanDmReader().read(source).width_px == 68


@pytest.mark.parametrize("sample", [
    "gatan-dm/test_STEM_image.dm3",
    "gatan-dm/test_diffraction_pattern.dm3",
    "gatan-dm/test-MonarcCL_mono-image.dm4",
    "gatan-dm/dmTest_float32_nonSquare_diffPixelSize.dm3",
], indirect=True)
def test_private_parser_agrees_with_the_public_reader(sample: Path) -> None:
    """The reader uses `rsciio.digitalmicrograph._api` (see gatan.py): if an rsciio release changes it,
    this fails before a census silently loses calibrations."""
    from rsciio.digitalmicrograph import file_reader

    from emcensus.readers.gatan import _dm_images

    public = file_reader(str(sample), lazy=True)
    private = _dm_images(str(sample))
    assert len(private) == len(public)
    for (tags, axes, signal_type), dictionary in zip(private, public, strict=True):
        assert [(a["name"], a["size"], a["scale"], a["units"]) for a in axes] == [
            (a["name"], a["size"], a["scale"], a["units"]) for a in dictionary["axes"]]
        assert signal_type == dictionary["metadata"]["Signal"]["signal_type"]
        assert isinstance(tags.get("ImageTags"), dict)


def test_installed_rosettasciio_is_inside_the_pin() -> None:
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pin = next(Requirement(line) for line in project["project"]["dependencies"] if line.startswith("rosettasciio"))
    assert pin.specifier, "the private DM API needs an upper bound on rosettasciio"
    assert version("rosettasciio") in pin.specifier
