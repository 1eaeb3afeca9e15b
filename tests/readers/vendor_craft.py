"""Hand-made vendor files with chosen header values: what a damaged or hostile archive holds."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

SER_IMAGE, SER_SPECTRUM = 0x4122, 0x4120


def tiff_bytes(width: int, height: int, extra: list[tuple[int, int, int, bytes]] = ()) -> bytes:
    """A little-endian baseline TIFF whose one IFD claims `width`×`height` 8-bit pixels (one strip
    of 16 real bytes); `extra` adds (tag, type, count, value bytes) entries stored after the IFD."""
    pixels = bytes(range(16))
    entries = [
        (256, 4, 1, struct.pack("<I", width)), (257, 4, 1, struct.pack("<I", height)),
        (258, 3, 1, struct.pack("<H", 8)), (259, 3, 1, struct.pack("<H", 1)), (262, 3, 1, struct.pack("<H", 1)),
        (273, 4, 1, struct.pack("<I", 8)), (277, 3, 1, struct.pack("<H", 1)),
        (278, 4, 1, struct.pack("<I", max(height, 1))), (279, 4, 1, struct.pack("<I", len(pixels))),
        *extra,
    ]
    entries.sort(key=lambda entry: entry[0])
    ifd_offset = 8 + len(pixels)
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd, data = struct.pack("<H", len(entries)), b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            ifd += struct.pack("<HHII", tag, kind, count, data_offset + len(data))
            data += value + b"\0" * (len(value) % 2)
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_offset) + pixels + ifd + data


def ser_bytes(kind: int = SER_IMAGE, width: int = 4, height: int = 4, delta: float = 1e-9,
              scan: tuple[int, ...] = (1,)) -> bytes:
    """A TIA `.ser` (version 0x210) of uint8 images, or of spectra with `width` channels, one per
    position of a `scan` of the given dimension sizes (a 16×8 spectrum image: `scan=(16, 8)`)."""
    elements = 1
    for side in scan:
        elements *= side
    dimensions = b"".join(struct.pack("<IddII", side, 0.0, 1e-9, 0, 1) + b"X" + struct.pack("<I", 6) + b"meters"
                          for side in scan)
    offsets_at = 30 + len(dimensions)
    first_element = offsets_at + 8 * elements
    if kind == SER_SPECTRUM:
        element = struct.pack("<ddiHI", 0.0, delta, 0, 1, width) + bytes(width)
    else:
        element = struct.pack("<ddiddiHII", 0.0, delta, 0, 0.0, delta, 0, 1, width, height) + bytes(width * height)
    data_offsets = [first_element + index * len(element) for index in range(elements)]
    tag_at = first_element + elements * len(element)
    tag_offsets = [tag_at + index * 8 for index in range(elements)]
    header = struct.pack("<2sHHIIIIII", b"II", 0x0197, 0x0210, kind, 0x4152, elements, elements, offsets_at, len(scan))
    tags = b"".join(struct.pack("<HHI", 0x4152, 0, 1_455_000_000) for _ in range(elements))
    return header + dimensions + struct.pack(f"<{elements}I", *data_offsets) + \
        struct.pack(f"<{elements}I", *tag_offsets) + element * elements + tags


#: A Velox metadata document with the fields the reader uses.
VELOX_META: dict[str, Any] = {
    "BinaryResult": {"Detector": "HAADF", "PixelSize": {"width": "1e-9"}, "PixelUnitX": "m"},
    "Optics": {"AccelerationVoltage": "300000"}, "Instrument": {"InstrumentModel": "Talos"},
}


def metadata_column(meta: dict[str, Any]) -> np.ndarray:
    """Velox's zero-padded uint8 column of JSON text."""
    raw = json.dumps(meta).encode() + b"\0"
    return np.frombuffer(raw.ljust(4096, b"\0"), dtype=np.uint8).reshape(-1, 1)


def velox_image(group: Any, name: str, meta: dict[str, Any], frames: int = 1) -> None:
    """One `/Data/Image/<name>` group of an 8×6 image with `frames` frames, in an open h5py group."""
    image = group.create_group(name)
    image.create_dataset("Data", data=np.zeros((8, 6, frames), dtype=np.uint8))
    image.create_dataset("Metadata", data=metadata_column(meta))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
