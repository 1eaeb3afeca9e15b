"""MRC / MRC2014 images, with the FEI1/FEI2 extended header that Thermo software (Velox, EPU,
Tomography) writes.

`mrcfile` reads the header only (`header_only=True`), never the voxels, from the access policy's
handle; a header whose extended header or voxel block would not fit in the file (nx=-5, a 2³¹³-voxel
volume in 1 KB) is refused before anything that size is allocated. A volume with nz > 1 is a
`stack` (tilt series, movie), not one micrograph. Without an FEI extended
header there is just the size and the voxel size (Å in the header). With one, the first record
gives `Microscope type` (model), `HT` (V), `Pixel size X` (m), `Magnification` (0 when not set, as
in STEM), `Instrument mode` (1 TEM, 2 STEM), `STEM Detector name` or `Camera name`, and
`Timestamp`, an OLE Automation date (days since 1899-12-30, local time).
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime, timedelta
from typing import Any

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.generic import check_dimensions
from emcensus.readers.common import json_safe, plausible, text_or_none
from emcensus.readers.units import number, positive

MAP_OFFSET = 208
_OLE_EPOCH = datetime(1899, 12, 30)
_INSTRUMENT_MODES = {1: "TEM", 2: "STEM"}


def ole_datetime(days: Any) -> datetime | None:
    """An OLE Automation date (fractional days since 1899-12-30) as a naive datetime."""
    value = positive(days)
    if value is None or value > 250 * 366:
        return None
    return plausible(_OLE_EPOCH + timedelta(days=value))


def parse_mrc(header: dict[str, Any], record: dict[str, Any] | None) -> Reading:
    """The MRC main header (as a dict) and the first FEI extended-header record as a `Reading`."""
    voxel_angstrom = positive(header.get("voxel_x"))
    record = record or {}
    technique = _INSTRUMENT_MODES.get(int(number(record.get("Instrument mode")) or 0))
    detector_key = "STEM Detector name" if technique == "STEM" else "Camera name"
    pixel = positive(record.get("Pixel size X")) or (voxel_angstrom * 1e-10 if voxel_angstrom else None)
    depth = int(number(header.get("nz")) or 1)
    return Reading(
        vendor="FEI/Thermo" if record else None,
        model=text_or_none(record.get("Microscope type")),
        technique=technique,
        detector=text_or_none(record.get(detector_key)),
        magnification=positive(record.get("Magnification")),
        accelerating_voltage_v=positive(record.get("HT")),
        pixel_size_m=pixel,
        width_px=int(positive(header.get("nx")) or 0) or None,
        height_px=int(positive(header.get("ny")) or 0) or None,
        acquired_at=ole_datetime(record.get("Timestamp")),
        original_metadata={"header": json_safe(header), "fei_extended_header": json_safe(record) or None},
        metadata_source="mrc-fei-extended-header" if record else "mrc-header",
        kind="stack" if depth > 1 else "image",
    )


def _interpreter(handle: Any, size: int) -> Any:
    """mrcfile's stream reader, header only, refusing any block larger than what is left of the file."""
    from mrcfile.mrcinterpreter import MrcInterpreter

    class _Bounded(MrcInterpreter):  # mrcfile's documented way to read a stream, read-only
        def __init__(self) -> None:
            super().__init__(permissive=True)
            self._iostream = handle
            self._read_only = True  # as mrcfile.MrcFile does in mode "r": close() never writes back
            self._read(header_only=True)

        def _read_bytearray_from_stream(self, number_of_bytes: int) -> tuple[bytearray, int]:
            left = size - handle.tell()
            if number_of_bytes > left:
                raise UnreadableFileError(f"MRC header claims a {number_of_bytes:,}-byte block where "
                                          f"{max(left, 0):,} bytes are left in the file")
            return super()._read_bytearray_from_stream(number_of_bytes)

    return _Bounded()


def check_size(header: Any, size: int) -> None:
    """Refuse a header whose dimensions are impossible or whose voxels cannot fit in `size` bytes."""
    from mrcfile.utils import dtype_from_mode

    nx, ny, nz = int(header.nx), int(header.ny), int(header.nz)
    check_dimensions(nx, ny)
    if nz < 1:
        raise UnreadableFileError(f"image dimensions {nx}×{ny}×{nz} are impossible")
    try:
        itemsize = dtype_from_mode(header.mode).itemsize
    except ValueError as exc:
        raise UnreadableFileError(f"not an MRC image: {exc}") from exc
    needed = 1024 + int(header.nsymbt) + nx * ny * nz * itemsize
    if needed > size:
        raise UnreadableFileError(f"MRC header claims {nx}×{ny}×{nz} voxels ({needed:,} bytes) "
                                  f"in a file of {size:,} bytes")


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    with warnings.catch_warnings(), access.open_file(path) as handle:
        warnings.simplefilter("ignore")  # permissive mode warns about every oddity; we report our own
        size = os.fstat(handle.fileno()).st_size
        with _interpreter(handle, size) as mrc:
            if mrc.header is None:
                raise UnreadableFileError("not an MRC file (no valid header)")
            check_size(mrc.header, size)
            fields = mrc.header.dtype.names or ()
            header = {name: mrc.header[name] for name in fields if name not in ("label",)}
            header["voxel_x"] = float(mrc.voxel_size.x)
            record = None
            if bytes(mrc.header.exttyp).startswith(b"FEI") and mrc.header.nsymbt > 0:
                indexed = mrc.indexed_extended_header
                if indexed is not None and len(indexed) and indexed.dtype.names:
                    record = {name: indexed[0][name] for name in indexed.dtype.names}
    return header, record


class MrcReader(Reader):
    name = "mrc"
    vendor = "FEI/Thermo"
    extensions = frozenset({".mrc", ".mrcs"})

    def accepts(self, source: Source) -> bool:
        return source.head[MAP_OFFSET:MAP_OFFSET + 3] == b"MAP"

    def read(self, source: Source) -> Reading:
        try:
            header, record = _read(source.path)
        except UnreadableFileError:
            raise
        except Exception as exc:  # mrcfile raises ValueError, OSError... on damaged files
            raise UnreadableFileError(f"damaged MRC file: {type(exc).__name__}: {exc}") from exc
        return parse_mrc(header, record)
