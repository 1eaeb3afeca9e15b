"""The first image of an archive file, for measuring: TIFF, PNG, JPEG and BMP through the visual
index's reader, and the microscope formats it does not read (Gatan DM3/DM4, TIA .ser, Velox .emd,
MRC) through rsciio's lazy readers.

The file is checked to be a regular file before a library opens it by name (a FIFO named `.dm3`
would block), and the image's size is checked before its pixels are decoded (a lazy array is only
computed once it is known to fit). A stack gives its first frame.
"""

from __future__ import annotations

import hashlib
from importlib import import_module
from pathlib import Path

import numpy as np

from emcensus.access import check_regular
from emcensus.errors import EmcensusError
from emcensus.figures.index import PIXEL_SUFFIXES, read_pixels

#: rsciio reader module of each microscope format measured.
VENDOR_READERS = {".dm3": "digitalmicrograph", ".dm4": "digitalmicrograph", ".ser": "tia", ".emd": "emd",
                  ".mrc": "mrc"}


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of the pixel values, row-major, little-endian: the same frame read from a TIFF or a
    lossless copy gets the same id (quality's `pixel_sha256`, the reuse export's image_id)."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()).hexdigest()


def read_image(path: str, max_pixels: int) -> np.ndarray:
    """The first image of the file at `path`, refused when its format is not read or it has more than
    `max_pixels` pixels."""
    suffix = Path(path).suffix.lower()
    if suffix in PIXEL_SUFFIXES:
        return read_pixels(path, max_pixels)
    module = VENDOR_READERS.get(suffix)
    if module is None:
        raise EmcensusError(f"format {suffix or '(none)'}: its pixels are not read by emcensus yet")
    check_regular(path)
    signals = import_module(f"rsciio.{module}").file_reader(path, lazy=True)
    data = next((signal["data"] for signal in signals if signal["data"].ndim >= 2), None)
    if data is None:
        raise EmcensusError("the file holds no image")
    while data.ndim > 2:  # a stack or a series: its first frame
        data = data[0]
    if data.size > max_pixels:
        raise EmcensusError(f"{data.size:,} pixels, more than {max_pixels:,}")
    return np.asarray(data.compute(scheduler="synchronous") if hasattr(data, "compute") else data)
