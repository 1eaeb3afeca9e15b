"""Thermo Fisher Phenom `.elid` (Element Identification projects, EID ≥ 3.8), through RosettaSciIO.

An `.elid` is one bzip2 stream (`BZh`) holding a project: SEM images, each followed by the EDS
spectra, maps and line scans taken on it. One record per file: the project's first SEM image, and
the number of images in `original_metadata["images_in_project"]`.

RosettaSciIO's public `rsciio.phenom.file_reader` cannot be used as it is: it takes only a file
name and opens it itself (without O_NOATIME: a scan would update every project's access time), it
decodes the whole project in Python, one EDS count at a time (3 s for this 100 KB sample's three
16×16×2048 maps; hours for a 512×512 map), and on a cut stream it waits for input forever. So its
parser, the private `rsciio.phenom._api.ElidReader`, is run on the access policy's handle and stops
after the first image (about 0.1 s here); the end of the file is an error and the decompressed
bytes, and the embedded image's pixels, are capped at `MAX_DECOMPRESSED_BYTES` (bombs). The rosettasciio version is pinned in
pyproject.toml and `tests/readers/test_phenom.py` checks the result against the public reader.

Per image (rsciio's original_metadata): `pixelWidth` {value, unit}, `acquisition.scan.highVoltage`
(written negative, `-15 kV`), `workingDistance` {value, unit}, `acquisition.scan.detector`
(`bsd-all`, `sed`), `instrument.type` (`PhenomXL`), `time` (ISO 8601, UTC per rsciio).
Magnification is not stored (only the field size), so it stays unknown; the FOV comes from the
pixel size.
"""

from __future__ import annotations

import bz2
import io
import struct
from datetime import datetime, timezone
from typing import Any, BinaryIO

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.common import json_safe, plausible, text_or_none
from emcensus.readers.generic import check_dimensions
from emcensus.readers.units import number, to_metres, to_volts

BZIP2_MAGIC = b"BZh"
ELID_MAGIC = b"EID2"
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: The first image and its metadata decompress to a few tens of MB; beyond this it is refused.
MAX_DECOMPRESSED_BYTES = 1 << 30
_CHUNK = 1 << 20


class _Input:
    """The file as rsciio's parser reads it: the end of the file is an error, not more waiting
    (rsciio asks for input again and again when the compressed stream is cut)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def read(self, size: int) -> bytes:
        data = self._handle.read(size)
        if not data:
            raise UnreadableFileError("truncated .elid: the compressed stream ends early")
        return data


class _BoundedDecompressor:
    """`bz2.BZ2Decompressor` that refuses to produce more than `limit` bytes (a decompression bomb)."""

    def __init__(self, limit: int) -> None:
        self._inner, self._left, self._limit = bz2.BZ2Decompressor(), limit, limit

    @property
    def needs_input(self) -> bool:
        return self._inner.needs_input

    @property
    def left(self) -> int:
        """Bytes it may still produce."""
        return self._left

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        try:
            output = self._inner.decompress(data, max_length)
        except (OSError, EOFError, ValueError) as exc:
            raise UnreadableFileError(f"damaged .elid (bzip2): {exc}") from exc
        self._left -= len(output)
        if self._left < 0:
            raise UnreadableFileError(f".elid decompresses to more than {self._limit:,} bytes; not read")
        return output


def check_embedded_tiff(data: bytes) -> None:
    """Refuse an embedded TIFF whose pixels would not fit in `MAX_DECOMPRESSED_BYTES` (a small
    compressed TIFF can claim 30,000² pixels), reading only its first page's header."""
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            shape, nbytes = page.shape, page.nbytes
    except Exception as exc:  # tifffile raises many types on damaged files
        raise UnreadableFileError(f"damaged .elid: its image is not a readable TIFF ({exc})") from exc
    check_dimensions(*shape[:2])
    if nbytes > MAX_DECOMPRESSED_BYTES:
        raise UnreadableFileError(f".elid image of {nbytes:,} bytes is more than {MAX_DECOMPRESSED_BYTES:,}; not read")


def read_first_image(handle: BinaryIO, name: str) -> tuple[dict[str, Any] | None, int]:
    """rsciio's dataset dictionary of the project's first image (None when it has no pixels) and the
    number of images in the project, decoding nothing after that image."""
    from rsciio.phenom._api import ElidReader

    class _FirstImage(ElidReader):
        """ElidReader's own __init__ and `_read_Image`, on a handle, stopping after the first image."""

        def __init__(self) -> None:
            self._pathname, self._file, self._block_size = name, _Input(handle), _CHUNK
            self._decompressor = _BoundedDecompressor(MAX_DECOMPRESSED_BYTES)
            magic, version = struct.unpack("<4si", self._read(8))
            if magic != ELID_MAGIC or version > 4:
                raise UnreadableFileError("not a Phenom ELID project (EID2, version 0-4)")
            self._version = version
            self.count = self._read_uint32()
            self.first = None
            if self.count:
                tiff = self._read_tiff()
                label = self._read_string()
                self.first = self._make_image_dict(tiff[0], tiff[1], label) if tiff else None

        def _read(self, size: int = 1) -> bytes:
            left = self._decompressor.left
            if size > left:  # a block declared larger than the project may decompress to: refused unread
                raise UnreadableFileError(f"damaged .elid: a block declares {size:,} bytes, more than the "
                                          f"{left:,} left of the {MAX_DECOMPRESSED_BYTES:,} it may decompress to")
            data = super()._read(size)
            if size > 8 and data[:4] in _TIFF_MAGIC:  # the embedded image, about to be decoded whole
                check_embedded_tiff(data)
            return data

    reader = _FirstImage()
    return reader.first, reader.count


def _quantity(item: Any, parse: Any, default_unit: str) -> float | None:
    """`{"value": "8.14", "unit": "mm"}` or a bare number, through one of `units`' parsers."""
    if isinstance(item, dict):
        return parse(f"{item.get('value')} {item.get('unit') or default_unit}")
    return parse(item, default_unit)


def _utc(text: Any) -> datetime | None:
    """rsciio's UTC time stamp as naive local time, like the other readers and the mtime fallback."""
    value = text_or_none(text)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return plausible(when.astimezone().replace(tzinfo=None))


def parse_phenom(dataset: dict[str, Any]) -> Reading:
    """One rsciio dataset dictionary of a Phenom SEM image as a `Reading`."""
    meta = dataset.get("original_metadata") if isinstance(dataset.get("original_metadata"), dict) else {}
    acquisition = meta.get("acquisition") if isinstance(meta.get("acquisition"), dict) else {}
    scan = acquisition.get("scan") if isinstance(acquisition.get("scan"), dict) else {}
    instrument = meta.get("instrument") if isinstance(meta.get("instrument"), dict) else {}
    high_voltage = scan.get("highVoltage")
    if isinstance(high_voltage, dict):  # Phenom writes the cathode potential, -15 kV
        value = number(high_voltage.get("value"))
        high_voltage = {**high_voltage, "value": abs(value) if value is not None else None}
    axes = {axis.get("name"): axis for axis in dataset.get("axes") or () if isinstance(axis, dict)}
    width, height = number((axes.get("x") or {}).get("size")), number((axes.get("y") or {}).get("size"))
    return Reading(
        vendor="FEI/Thermo",
        model=text_or_none(instrument.get("type")),
        technique="SEM",
        detector=text_or_none(scan.get("detector")),
        accelerating_voltage_v=_quantity(high_voltage, to_volts, "V") if high_voltage is not None else None,
        working_distance_m=_quantity(meta.get("workingDistance"), to_metres, "m"),
        pixel_size_m=_quantity(meta.get("pixelWidth"), to_metres, "m"),
        width_px=int(width) if width else None,
        height_px=int(height) if height else None,
        acquired_at=_utc(meta.get("time")),
        original_metadata=json_safe(meta),
        metadata_source="phenom-elid",
    )


class PhenomElidReader(Reader):
    name = "phenom-elid"
    vendor = "FEI/Thermo"
    extensions = frozenset({".elid"})

    def accepts(self, source: Source) -> bool:
        return source.head.startswith(BZIP2_MAGIC)

    def read(self, source: Source) -> Reading:
        with access.open_file(source.path) as handle:
            try:
                first, count = read_first_image(handle, source.path.name)
            except (UnreadableFileError, MemoryError):  # a size the file declares, refused; this process's memory
                raise
            except Exception as exc:  # rsciio raises bare Exception, struct.error, KeyError... on damaged files
                raise UnreadableFileError(f"damaged .elid: {type(exc).__name__}: {exc}") from exc
        if first is None:
            raise UnreadableFileError("Phenom project holds no SEM image first (only spectra or nothing)")
        reading = parse_phenom(first)
        reading.original_metadata = {"image": reading.original_metadata, "images_in_project": count}
        return reading
