"""Velox `.emd` files never reach outside themselves (issue 7 item 3): HDF5 external links are not
resolved and external storage is not read, so a FIFO cannot hang the reader and no outside content
reaches the metadata. Real h5py-made files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from emcensus import read_metadata
from emcensus.errors import UnreadableFileError
from readers.vendor_craft import VELOX_META as META
from readers.vendor_craft import metadata_column, velox_image as _image

SECRET = "outside-the-archive"


def _outside(tmp_path: Path) -> Path:
    """A Velox-shaped file outside the archive, whose metadata must never be read."""
    path = tmp_path / "outside" / "secret.emd"
    path.parent.mkdir()
    with h5py.File(path, "w") as handle:
        _image(handle.create_group("Data/Image"), "0", {**META, "Instrument": {"InstrumentModel": SECRET}})
    return path


def test_plain_h5py_velox_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.emd"
    with h5py.File(path, "w") as handle:
        _image(handle.create_group("Data/Image"), "0", META)
    record = read_metadata(path)
    assert (record.instrument, record.width_px, record.height_px, record.kind) == ("Talos", 6, 8, "image")


def test_several_frames_are_a_stack(tmp_path: Path) -> None:
    path = tmp_path / "a.emd"
    with h5py.File(path, "w") as handle:
        _image(handle.create_group("Data/Image"), "0", META, frames=5)
    assert read_metadata(path).kind == "stack"


def test_external_link_to_the_image_group_is_not_followed(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    path = tmp_path / "archive.emd"
    with h5py.File(path, "w") as handle:
        handle["Data"] = h5py.ExternalLink(str(outside), "/Data")
    with pytest.raises(UnreadableFileError, match="external link 'Data'") as error:
        read_metadata(path)
    assert SECRET not in str(error.value)


def test_external_link_beside_a_real_image_is_listed_not_read(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    path = tmp_path / "archive.emd"
    with h5py.File(path, "w") as handle:
        images = handle.create_group("Data/Image")
        _image(images, "0", META)
        images["1"] = h5py.ExternalLink(str(outside), "/Data/Image/0")
    record = read_metadata(path)
    assert record.instrument == "Talos"
    assert SECRET not in json.dumps(record.original_metadata)
    assert record.original_metadata["images"][1]["not_read"].startswith("HDF5 external link '1'")


def test_soft_link_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "archive.emd"
    with h5py.File(path, "w") as handle:
        images = handle.create_group("Data/Image")
        _image(handle.create_group("Elsewhere"), "0", META)
        images["0"] = h5py.SoftLink("/Elsewhere/0")
    with pytest.raises(UnreadableFileError, match="SoftLink '0'"):
        read_metadata(path)


def _external_storage(path: Path, target: Path) -> None:
    with h5py.File(path, "w") as handle:
        image = handle.create_group("Data/Image/0")
        image.create_dataset("Data", data=np.zeros((8, 6, 1), dtype=np.uint8))
        image.create_dataset("Metadata", shape=(4096, 1), dtype=np.uint8,
                             external=[(os.fsencode(target), 0, h5py.h5f.UNLIMITED)])


def test_external_storage_in_an_outside_file_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "outside.bin"
    target.write_bytes(metadata_column({**META, "Instrument": {"InstrumentModel": SECRET}}).tobytes())
    path = tmp_path / "archive.emd"
    _external_storage(path, target)
    with pytest.raises(UnreadableFileError, match="keeps its data in another file") as error:
        read_metadata(path)
    assert SECRET not in str(error.value)


def test_external_storage_on_a_fifo_does_not_hang(tmp_path: Path) -> None:
    """In a child process with a timeout: reading the FIFO would block forever."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    path = tmp_path / "archive.emd"
    _external_storage(path, fifo)
    code = ("import sys; from emcensus import read_metadata; from emcensus.errors import UnreadableFileError\n"
            "try:\n    read_metadata(sys.argv[1])\nexcept UnreadableFileError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "keeps its data in another file" in result.stdout


def test_wide_compressed_metadata_chunks_are_not_decoded(tmp_path: Path) -> None:
    """Column 0 of a (1M, 100) column in (1M, 100) chunks would decompress 100 MB: refused unread."""
    path = tmp_path / "bomb.emd"
    with h5py.File(path, "w") as handle:
        image = handle.create_group("Data/Image/0")
        image.create_dataset("Data", data=np.zeros((8, 6, 1), dtype=np.uint8))
        image.create_dataset("Metadata", shape=(1 << 20, 100), dtype=np.uint8, chunks=(1 << 20, 100),
                             compression="gzip", fillvalue=0)
        image["Metadata"][0, :] = 1  # one chunk written: 100 MB of zeros in a few KB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UnreadableFileError, match="would decode 104,857,600 bytes"):
        read_metadata(path)
