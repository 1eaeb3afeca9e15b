"""Impossible dimensions are refused with a reason, and a header never makes a reader allocate what
it claims (issue 7 item 4): hand-made TIFF and MRC files."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from readers.vendor_craft import tiff_bytes, write

INT32_MAX = 2**31 - 1


def test_plausible_hand_made_tiff_is_read(tmp_path: Path) -> None:
    record = read_metadata(write(tmp_path / "ok.tif", tiff_bytes(4, 4)))
    assert (record.width_px, record.height_px) == (4, 4)


@pytest.mark.parametrize(("width", "height"), [(0, 0), (0, 4), (4, 0), (4294967295, 4294967295), (1_000_001, 1)])
def test_impossible_tiff_dimensions(width: int, height: int, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.tif", tiff_bytes(width, height))
    with pytest.raises(UnreadableFileError, match=f"image dimensions {width}×{height} are impossible"):
        read_metadata(path)


def _mrc(path: Path, shape: tuple[int, int, int] = (1, 4, 4), **fields: int) -> Path:
    """A real MRC written by mrcfile, then header words overwritten (nx ny nz mode at 0, 4, 8, 12;
    nsymbt at 92) the way a damaged file has them."""
    with mrcfile.new(path, data=np.zeros(shape, dtype=np.int8), overwrite=True):
        pass
    data = bytearray(path.read_bytes())
    offsets = {"nx": 0, "ny": 4, "nz": 8, "mode": 12, "nsymbt": 92}
    for name, value in fields.items():
        struct.pack_into("<i", data, offsets[name], value)
    path.write_bytes(bytes(data))
    return path


def test_plain_mrc_is_an_image_and_a_stack_is_a_stack(tmp_path: Path) -> None:
    assert read_metadata(_mrc(tmp_path / "one.mrc")).kind == "image"
    stack = read_metadata(_mrc(tmp_path / "stack.mrc", shape=(3, 4, 4)))
    assert (stack.kind, stack.width_px, stack.height_px) == ("stack", 4, 4)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"nx": -5}, "image dimensions -5×4 are impossible"),
    ({"nx": 0, "ny": 0}, "image dimensions 0×0 are impossible"),
    ({"nz": 0}, "4×4×0 are impossible"),
    ({"nx": 64}, r"claims 64×4×1 voxels \(1,280 bytes\) in a file of 1,040 bytes"),
])
def test_impossible_mrc_headers(fields: dict[str, int], reason: str, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=reason):
        read_metadata(_mrc(tmp_path / "bad.mrc", **fields))


def test_huge_volume_in_one_kilobyte(tmp_path: Path) -> None:
    """nx = ny = nz = 2³¹−1 (2⁹³ voxels) in a 1 KB header: refused by arithmetic, nothing allocated."""
    path = _mrc(tmp_path / "huge.mrc", nx=20000, ny=20000, nz=INT32_MAX)
    path.write_bytes(path.read_bytes()[:1024])
    with pytest.raises(UnreadableFileError, match="in a file of 1,024 bytes"):
        read_metadata(path)


def test_extended_header_larger_than_the_file_is_not_allocated(tmp_path: Path) -> None:
    """mrcfile allocates `nsymbt` bytes for the extended header before reading it: 2 GB here."""
    path = _mrc(tmp_path / "ext.mrc", nsymbt=INT32_MAX)
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableFileError, match="2,147,483,647-byte block"):
            read_metadata(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
