"""Phenom `.elid` through RosettaSciIO (issue 7 item 18): one record per project, its first SEM image."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from emcensus.readers import phenom
from emcensus.readers.phenom import check_stream, read_project

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
    others = record.original_metadata["other_datasets"]
    assert len(others) == 10 and sum(1 for other in others if other["signal_type"] == "EDS_SEM") == 8


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_stream_is_measured_before_rsciio(sample: Path, tmp_path: Path) -> None:
    with sample.open("rb") as handle:
        assert check_stream(handle) == len(bz2.decompress(sample.read_bytes()))
    with sample.open("rb") as handle, pytest.raises(UnreadableFileError, match="more than 1,000 bytes"):
        check_stream(handle, limit=1000)
    cut = tmp_path / "cut.elid"
    cut.write_bytes(sample.read_bytes()[:-10])
    with pytest.raises(UnreadableFileError, match="truncated"):
        read_metadata(cut)


def test_bzip2_that_is_not_a_project(tmp_path: Path) -> None:
    path = tmp_path / "x.elid"
    path.write_bytes(bz2.compress(b"PK\x03\x04 not a project"))
    with pytest.raises(UnreadableFileError, match="no EID2 header"):
        read_metadata(path)


def test_bzip2_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """64 MB of zeros compress to a few hundred bytes; with the limit lowered to 32 MB (1 GB in use)
    the check stops there, before rsciio decodes anything."""
    monkeypatch.setattr(phenom, "MAX_DECOMPRESSED_BYTES", 32 << 20)
    compressor = bz2.BZ2Compressor(9)
    parts = [compressor.compress(b"EID2" + bytes((1 << 24) - 4))] + [compressor.compress(bytes(1 << 24)) for _ in range(3)]
    path = tmp_path / "bomb.elid"
    path.write_bytes(b"".join(parts) + compressor.flush())
    with pytest.raises(UnreadableFileError, match="decompresses to more than"):
        read_metadata(path)


@pytest.mark.parametrize("sample", [ELID], indirect=True)
def test_private_parser_on_a_handle_agrees_with_the_public_reader(sample: Path) -> None:
    """The reader hands rsciio's private ElidReader the access policy's handle (see phenom.py): if an
    rsciio release changes that class, this fails."""
    from rsciio.phenom import file_reader

    public = file_reader(str(sample))
    with sample.open("rb") as handle:
        private = read_project(handle, sample.name)
    assert [d["metadata"] for d in private] == [d["metadata"] for d in public]
    assert [d["axes"] for d in private] == [d["axes"] for d in public]
    assert private[0]["original_metadata"] == public[0]["original_metadata"]
