"""Phenom `.elid` through RosettaSciIO's parser (issue 7 item 18): one record per project, its first
SEM image, decoded without the EDS data after it."""

from __future__ import annotations

import bz2
import struct
import time
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers import phenom
from emcensus.readers.phenom import read_first_image
from readers.vendor_craft import tiff_bytes

ELID = "phenom-elid/Elid2Version4.elid"


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_phenom_xl_project(sample: Path) -> None:
    record = read_metadata(sample)
    assert (record.vendor, record.instrument, record.technique) == ("FEI/Thermo", "PhenomXL", "SEM")
    assert (record.detector, record.detector_family) == ("bsd-all", "BSE")
    assert record.accelerating_voltage_v == 15000  # written as -15 kV
    assert record.working_distance_m == pytest.approx(8.14175e-3)
    assert record.pixel_size_m == pytest.approx(975.7792598920121e-9)
    assert (record.width_px, record.height_px) == (20, 16)
    assert record.fov_width_m == pytest.approx(19.515585e-6)  # = the project's fieldSize
    assert record.magnification is None  # not stored in the project
    assert record.acquired_at_source == "metadata" and record.acquired_at.startswith("2019-08-0")
    assert (record.kind, record.metadata_source) == ("image", "phenom-elid")
    assert record.original_metadata["images_in_project"] == 3


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_first_image_agrees_with_the_public_reader(sample: Path) -> None:
    """The reader runs rsciio's private ElidReader on the access policy's handle (see phenom.py):
    if an rsciio release changes that class, this fails."""
    from rsciio.phenom import file_reader

    datasets = file_reader(str(sample))
    with sample.open("rb") as handle:
        first, count = read_first_image(handle, sample.name)
    assert (first["metadata"], first["axes"], first["original_metadata"]) == (
        datasets[0]["metadata"], datasets[0]["axes"], datasets[0]["original_metadata"])
    assert (first["data"] == datasets[0]["data"]).all()
    images = [d for d in datasets if len(d["axes"]) == 2 and not d["metadata"].get("Signal", {}).get("signal_type")]
    assert count == len(images) == 3


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_eds_data_after_the_first_image_is_not_decoded(sample: Path) -> None:
    """rsciio decodes EDS maps one count at a time (seconds here, hours for a real map)."""
    read_metadata(sample)
    started = time.perf_counter()
    read_metadata(sample)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_truncated_project_is_refused_not_waited_on(sample: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.elid"
    cut.write_bytes(sample.read_bytes()[:2000])
    with pytest.raises(UnreadableFileError, match="truncated"):
        read_metadata(cut)


def _elid(tmp_path: Path, payload: bytes, tail: int = 0) -> Path:
    """A bzip2 project: `payload` then `tail` zero bytes (compressed in chunks, never held whole)."""
    compressor = bz2.BZ2Compressor(9)
    parts = [compressor.compress(payload)] + [compressor.compress(bytes(1 << 24)) for _ in range(tail >> 24)]
    path = tmp_path / "x.elid"
    path.write_bytes(b"".join(parts) + compressor.flush())
    return path


def test_bzip2_that_is_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="not a Phenom ELID project"):
        read_metadata(_elid(tmp_path, b"PK\x03\x04 not a project"))


def test_decompression_bomb_is_refused_before_it_is_decompressed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """One image of 4 GB claimed, 64 MB of zeros given, the limit lowered to 32 MB (1 GB in use): the
    claim is refused as the file's damage before a byte of it is decompressed (no MemoryError to mistake)."""
    monkeypatch.setattr(phenom, "MAX_DECOMPRESSED_BYTES", 32 << 20)
    path = _elid(tmp_path, b"EID2" + struct.pack("<iII", 4, 1, 0xFFFFFFF0), tail=64 << 20)
    started = time.process_time()
    with pytest.raises(UnreadableFileError, match=r"^damaged \.elid: a block declares 4,294,967,280 bytes, more than "
                                                  r"the 33,554,416 left of the 33,554,432 it may decompress to$"):
        read_metadata(path)
    assert time.process_time() - started < 0.1


def test_embedded_tiff_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    """A 200-byte embedded TIFF claiming 4294967295² pixels."""
    image = tiff_bytes(4294967295, 4294967295)
    path = _elid(tmp_path, b"EID2" + struct.pack("<iII", 4, 1, len(image)) + image)
    with pytest.raises(UnreadableFileError, match="image dimensions .* are impossible"):
        read_metadata(path)
