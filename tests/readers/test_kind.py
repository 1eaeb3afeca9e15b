"""What a file holds (issue 7 item 19): spectra, diffraction patterns, spectrum images and stacks are
told apart from micrographs, and a spectrum's width is its channel count."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.readers.gatan import parse_dm_image
from emcensus.record import KINDS
from readers.vendor_craft import SER_IMAGE, SER_SPECTRUM, ser_bytes, write


@pytest.mark.parametrize(("sample", "kind"), [
    ("gatan-dm/test_diffraction_pattern.dm3", "diffraction"),
    ("gatan-dm/test_STEM_image.dm3", "image"),
    ("gatan-dm/test-MonarcCL_mono-image.dm4", "image"),  # a CL intensity map, 2-D: an image
    ("gatan-dm/dmTest_float32_nonSquare_diffPixelSize.dm3", "image"),
    ("fei-tia-emi-ser/16x16_STEM_BF_DF_acquire_1.ser", "image"),
    ("velox-emd/STEM HAADF Diffraction Micro.emd", "image"),
    ("mrc/HAADFscan.mrc", "image"),
    ("phenom-elid/Elid2Version4.elid", "image"),
], indirect=["sample"])
def test_real_samples(sample: Path, kind: str) -> None:
    assert read_metadata(sample).kind == kind


def _axis(name: str, size: int, units: str, scale: float = 1.0) -> dict:
    return {"name": name, "size": size, "units": units, "scale": scale, "offset": 0.0, "navigate": False}


EELS_TAGS = {"ImageTags": {"Meta Data": {"Signal": "EELS"},
                           "Microscope Info": {"Voltage": 200000.0, "Indicated Magnification": 50000.0}}}


def test_dm_eels_spectrum_stored_as_2048_by_1() -> None:
    """rsciio's axes for DM's 2048×1 EELS image: the size-1 axis is named x, the energy axis is not."""
    reading = parse_dm_image(EELS_TAGS, [_axis("x", 1, "nm"), _axis("Energy loss", 2048, "eV", 0.25)], "EELS")
    assert (reading.kind, reading.width_px, reading.height_px, reading.pixel_size_m) == ("spectrum", 2048, None, None)


def test_dm_one_axis_spectrum() -> None:
    reading = parse_dm_image(EELS_TAGS, [_axis("Energy loss", 2048, "eV")], "EELS")
    assert (reading.kind, reading.width_px, reading.height_px) == ("spectrum", 2048, None)


def test_dm_spectrum_image_keeps_its_spatial_size() -> None:
    axes = [_axis("y", 32, "nm", 2.0), _axis("x", 48, "nm", 2.0), _axis("Energy loss", 2048, "eV")]
    reading = parse_dm_image(EELS_TAGS, axes, "EELS")
    assert (reading.kind, reading.width_px, reading.height_px) == ("spectrum-image", 48, 32)
    assert reading.pixel_size_m == pytest.approx(2e-9)


@pytest.mark.parametrize(("meta_format", "kind"), [
    ("Diffraction image", "diffraction"), ("Spectrum", "spectrum"), ("Spectrum image", "spectrum-image")])
def test_dm_meta_data_format_decides(meta_format: str, kind: str) -> None:
    tags = {"ImageTags": {"Meta Data": {"Format": meta_format}}}
    assert parse_dm_image(tags, [_axis("y", 64, "nm"), _axis("x", 64, "nm")]).kind == kind


def test_dm_image_series_is_a_stack() -> None:
    axes = [_axis("z", 10, ""), _axis("y", 64, "nm"), _axis("x", 64, "nm")]
    assert parse_dm_image({}, axes).kind == "stack"


@pytest.mark.parametrize(("kind_id", "scan", "kind", "size"), [
    (SER_IMAGE, (1,), "image", (8, 8)),
    (SER_IMAGE, (3,), "stack", (8, 8)),
    (SER_SPECTRUM, (1,), "spectrum", (2048, None)),
    (SER_SPECTRUM, (16, 8), "spectrum-image", (16, 8)),  # the scan's size, not the channels
    (SER_SPECTRUM, (40,), "spectrum-image", (40, None)),  # a line scan
])
def test_tia_series(kind_id: int, scan: tuple[int, ...], kind: str, size: tuple, tmp_path: Path) -> None:
    channels = 2048 if kind_id == SER_SPECTRUM else 8
    record = read_metadata(write(tmp_path / "x_1.ser", ser_bytes(kind_id, channels, 8, scan=scan)))
    assert (record.kind, (record.width_px, record.height_px)) == (kind, size)
    assert record.kind in KINDS
    assert record.original_metadata["ser_header"]["ArraySizeX"] == channels
